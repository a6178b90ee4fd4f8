"""``settlement bench --import`` imports a generated person-level history and reports its rates."""

from __future__ import annotations

import json

import pytest

from api.bench.history_file import EVENTS_PER_PERSON
from api.cli.main import main


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_import_benchmark_reports_the_rates_of_recording_and_folding(
    backend: str, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    options = ["bench", "--import", "--events", "600", "--backend", backend, "--json"]
    if backend == "postgres":
        request.getfixturevalue("postgres_url")  # skips (or fails, where required) without a server
        options += ["--postgres-url", request.getfixturevalue("postgres_server")]
    assert main(options) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    persons = 600 // EVENTS_PER_PERSON
    assert result["persons"] == persons and result["lines"] == 5 * persons
    # Each person's five facts are at least six events (the selection takes a place in its year).
    assert result["events_appended"] >= EVENTS_PER_PERSON * persons
    assert result["catch_up_events"] == result["events_appended"]
    assert result["import_events_per_second"] > 0 and result["catch_up_events_per_second"] > 0
