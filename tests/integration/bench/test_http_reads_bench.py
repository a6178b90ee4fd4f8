"""``make bench-http``: the places read against the bare stack, both servers real, loaded by wrk."""

from __future__ import annotations

import json
import shutil

import pytest

from api.bench.http_reads import parse_wrk
from api.cli.main import main

WRK_REPORT = """Running 10s test @ http://127.0.0.1:8742/places/0301
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     7.61ms    3.98ms  64.12ms   85.41%
    Req/Sec     2.12k   201.33     2.49k    71.00%
  Latency Distribution
     50%    6.90ms
     75%    8.55ms
     90%   11.32ms
     99%   21.18ms
  21103 requests in 10.00s, 3.40MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   2109.54
Transfer/sec:    348.19KB
"""


def test_wrks_report_is_read() -> None:
    assert parse_wrk(WRK_REPORT) == {
        "requests": 21103,
        "requests_per_s": 2109.54,
        "p99_ms": 21.18,
        "non_2xx": 3,
        "socket_errors": None,
    }
    assert parse_wrk(WRK_REPORT.replace("21.18ms", "1.02s"))["p99_ms"] == 1020.0
    with pytest.raises(RuntimeError, match="could not be read"):
        parse_wrk("wrk: connection refused")


@pytest.mark.postgres
@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)")
def test_the_reads_benchmark_measures_both_servers_and_their_ratio(
    postgres_server: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    if postgres_server is None:
        pytest.skip("PostgreSQL is not reachable")
    arguments = [
        "bench",
        "--http-reads",
        "--postgres-url",
        postgres_server,
        "--seconds",
        "1",
        "--rounds",
        "1",
    ]
    assert main([*arguments, "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["places_rows"] == 5
    for name in ("bare", "api"):
        (only,) = result[name]["rounds"]
        assert only["requests_per_s"] > 0 and only["non_2xx"] == 0 and only["socket_errors"] is None
        assert only["cpu_ms_per_request"] > 0
    assert result["ratio"] == round(result["api"]["requests_per_s"] / result["bare"]["requests_per_s"], 3)
