"""`make clean` removes the tools and caches, never the event store or the keys in var/."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_clean_keeps_the_event_store_and_the_keys(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    kept = [
        tmp_path / "var" / "settlement.db",
        tmp_path / "var" / "jwt-secret",
        tmp_path / "var" / "keys.json",
    ]
    removed = [
        tmp_path / ".venv" / "bin" / "python",
        tmp_path / ".pytest_cache" / "x",
        tmp_path / ".mypy_cache" / "x",
    ]
    for path in kept + removed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("data")
    subprocess.run(["make", "clean"], cwd=tmp_path, check=True, capture_output=True)
    assert all(path.read_text() == "data" for path in kept)
    assert not any(path.parent.exists() for path in removed)
