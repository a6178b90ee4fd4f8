"""The HTTP load benchmark runs end to end against a real server process (tiny load, SQLite)."""

from __future__ import annotations

import json

import pytest

from api.cli.main import main


def test_the_http_benchmark_reports_latencies_and_both_write_rates(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert (
        main(
            [
                "bench",
                "--http",
                "--seconds",
                "1",
                "--rate",
                "40",
                "--municipalities",
                "2",
                "--connections",
                "4",
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["requests"] == 40
    assert result["reads"]["count"] + result["writes"]["count"] == 40
    assert result["reads"]["count"] > result["writes"]["count"] > 0
    assert not {k: v for k, v in result["errors"].items() if not k.endswith("409")}
    assert result["reads"]["p50_ms"] <= result["reads"]["p99_ms"]
    assert result["http_writes_per_s"] > 0 and result["direct_writes_per_s"] > 0
    # The API process's CPU per request, and the read records (R6/R14) it appended in groups.
    assert result["api_cpu_ms_per_request"] > 0
    grouped = result["read_records"]
    assert grouped["records"] > 0 and 1 <= grouped["groups"] <= grouped["records"]
    # The time inside the server, from its own request histogram, for every request of the load.
    inside = result["server_side"]
    assert inside["requests"] == 40 and 0 < inside["mean_ms"] <= inside["p99_under_ms"]
    assert result["client_cpu_share"] > 0
