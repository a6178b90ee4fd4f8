"""Shared fixtures: the store backends (SQLite and PostgreSQL) the integration tiers run on."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from api.bench.ports import free_port
from api.bench.scratch_store import FALLBACK_POSTGRES_URL, fresh_store
from projections import person_search
from settlement_domain.application import SettlementApp
from settlement_domain.persistence import store_environment
from tests.given.actors import TODAY

TEST_SEARCH_KEY = "a-test-key-for-the-person-search-index"
TEST_MASTER_KEY = "a-test-master-key-that-wraps-every-person-key"


@pytest.fixture(autouse=True)
def english_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line's messages in English, which the tests quote; bokmål, its default, is tested by
    tests/unit/test_cli_language.py (which removes this setting)."""
    monkeypatch.setenv("SETTLEMENT_LANG", "en")


@pytest.fixture(scope="session", autouse=True)
def search_key() -> Iterator[str]:
    """One key of the person search index (R21) for every test and every process a test starts
    (the composition root reads it from the environment; tests that fold directly get it here)."""
    before = os.environ.get("SETTLEMENT_SEARCH_KEY")
    master_before = os.environ.get("SETTLEMENT_MASTER_KEY")
    os.environ["SETTLEMENT_SEARCH_KEY"] = TEST_SEARCH_KEY
    # The master key of the data keys (R18), for every process a test starts.
    os.environ["SETTLEMENT_MASTER_KEY"] = TEST_MASTER_KEY
    person_search.use_key(TEST_SEARCH_KEY.encode())
    yield TEST_SEARCH_KEY
    for name, value in (("SETTLEMENT_SEARCH_KEY", before), ("SETTLEMENT_MASTER_KEY", master_before)):
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("select 1")
        return True
    except psycopg.Error:
        return False


def _throwaway_server() -> tuple[str, callable] | None:
    """Start a private PostgreSQL server from the installed binaries, if there are any."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    initdb = shutil.which("initdb") or (str(candidates[0]) if candidates else None)
    if not initdb:
        return None
    bindir = Path(initdb).parent
    datadir = Path(tempfile.mkdtemp(prefix="settlement-pg-"))
    port = free_port()
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        prefix = ["runuser", "-u", "postgres", "--"]
        shutil.chown(datadir, "postgres")
    subprocess.run(
        [*prefix, str(bindir / "initdb"), "-A", "trust", "-U", "postgres", "-D", str(datadir)],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *prefix,
            str(bindir / "pg_ctl"),
            "-D",
            str(datadir),
            "-w",
            "-l",
            str(datadir / "log"),
            "-o",
            f"-p {port} -k {datadir} -c listen_addresses=127.0.0.1",
            "start",
        ],
        check=True,
        capture_output=True,
    )

    def stop() -> None:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "fast", "stop"], capture_output=True
        )
        shutil.rmtree(datadir, ignore_errors=True)

    return f"postgresql://postgres@127.0.0.1:{port}/postgres", stop


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str | None]:
    """The URL of a PostgreSQL server for this run, or None (then PostgreSQL tests skip, visibly)."""
    url = os.environ.get("SETTLEMENT_TEST_POSTGRES_URL")
    stop = None
    if not url and _answers(FALLBACK_POSTGRES_URL):
        url = FALLBACK_POSTGRES_URL
    if not url:
        try:
            started = _throwaway_server()
        except (OSError, subprocess.CalledProcessError) as error:
            warnings.warn(f"could not start a throwaway PostgreSQL: {error}", stacklevel=1)
            started = None
        if started:
            url, stop = started
            for _ in range(50):
                if _answers(url):
                    break
                time.sleep(0.1)
    yield url
    if stop:
        stop()


@pytest.fixture
def postgres_url(postgres_server: str | None) -> Iterator[str]:
    """A fresh schema of its own for one test, dropped afterwards, so that runs never collide."""
    if postgres_server is None:
        message = "PostgreSQL is not reachable and could not be started: PostgreSQL tests skipped"
        if os.environ.get("SETTLEMENT_REQUIRE_POSTGRES") == "1":
            pytest.fail(message + " (SETTLEMENT_REQUIRE_POSTGRES=1)")
        warnings.warn(message, stacklevel=1)
        pytest.skip(message)
    with fresh_store("postgres", postgres_server) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every application test runs once on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'settlement.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def app(database_url: str) -> Iterator[SettlementApp]:
    """The write side on the test's backend (``tests/unit/domain`` overrides it with one in memory)."""
    application = SettlementApp(store_environment(database_url), clock=lambda: TODAY)
    yield application
    application.close()
