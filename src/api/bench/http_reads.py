"""The places read against the bare stack (``make bench-http``, ``settlement bench --http-reads``).

In one run, on one PostgreSQL scratch schema: seeds municipality 0301 with places in several years
through the application service, starts ``settlement serve`` (API and live projections, as in
production) and the bare stack (:mod:`api.bench.bare_stack`: litestar + uvicorn + one psycopg select),
and loads each in turn with ``wrk`` (``-t1 -c16``, which costs the two cores far less than a Python
client would): ``GET /api/v1/municipalities/0301/places`` with a municipality's bearer token against
``GET /places/0301`` on the bare stack. The rounds alternate (bare, API, bare, API, ...) so that the
other jobs of a shared machine weigh on both alike; the figures are each server's median round, and
the ratio of each API round to the bare round just before it.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from api.bench.http_load import absolute_pythonpath, cpu_seconds, server
from api.bench.ports import free_port
from api.bench.scratch_store import fresh_store
from api.http.auth import issue_token
from projections.engine.store import schema_of
from settlement_domain.application import SettlementApp
from settlement_domain.commands import DecideQuota, MarkCompleteness, RegisterMunicipality, RequestSettlement
from settlement_domain.context import Actor, CommandContext, Role
from settlement_domain.persistence import store_environment

MUNICIPALITY = "0301"
PATH = f"/api/v1/municipalities/{MUNICIPALITY}/places"
BARE_PATH = f"/places/{MUNICIPALITY}"


@dataclass(frozen=True)
class ReadBenchOptions:
    postgres_url: str | None = None  # default: api.bench.scratch_store.default_postgres_url()
    seconds: float = 10.0  # per round and server
    rounds: int = 3
    connections: int = 16
    threads: int = 1
    warmup_seconds: float = 2.0


def _ctx(actor: Actor) -> CommandContext:
    return CommandContext(actor=actor, correlation_id=f"bench-{uuid.uuid4().hex[:12]}")


def seed(app: SettlementApp) -> None:
    """Municipality 0301 with a request and a quota decision in each of five years, one marked complete."""
    imdi = Actor("bench-imdi", Role.IMDI)
    oslo = Actor("bench-0301", Role.MUNICIPALITY, MUNICIPALITY)
    app.handle(_ctx(imdi), RegisterMunicipality(MUNICIPALITY, "Oslo", "Oslo"))
    this_year = date.today().year
    for year in range(this_year - 4, this_year + 1):
        app.handle(_ctx(imdi), RequestSettlement(MUNICIPALITY, year, 1_000, 50))
        app.handle(_ctx(oslo), DecideQuota(MUNICIPALITY, year, 900, 40, decided_on=date(year, 1, 15)))
    app.handle(_ctx(imdi), MarkCompleteness(this_year - 4, None, True))


_REQUESTS = re.compile(r"(\d+) requests in")
_RATE = re.compile(r"Requests/sec:\s*([\d.]+)")
_P99 = re.compile(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_NON2XX = re.compile(r"Non-2xx or 3xx responses:\s*(\d+)")
_ERRORS = re.compile(r"Socket errors: (.*)")
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests per second, p99 in ms and the failures from ``wrk --latency``'s report."""
    rate, p99 = _RATE.search(output), _P99.search(output)
    if rate is None or p99 is None:
        raise RuntimeError(f"wrk's report could not be read:\n{output}")
    non_2xx, errors = _NON2XX.search(output), _ERRORS.search(output)
    requests = _REQUESTS.search(output)
    return {
        "requests": int(requests.group(1)) if requests else 0,
        "requests_per_s": float(rate.group(1)),
        "p99_ms": round(float(p99.group(1)) * _UNITS[p99.group(2)], 2),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1).strip() if errors else None,
    }


def wrk(
    url: str, options: ReadBenchOptions, seconds: float, headers: dict[str, str], pid: int | None = None
) -> dict[str, Any]:
    """One wrk round; with ``pid``, also the server process's CPU time per request in it."""
    before = cpu_seconds(pid) if pid is not None else 0.0
    command = [
        "wrk", f"-t{options.threads}", f"-c{options.connections}", f"-d{seconds:g}s", "--latency",
        *(arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")),
        url,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60)
    figures = parse_wrk(done.stdout)
    if pid is not None and figures["requests"]:
        figures["cpu_ms_per_request"] = round((cpu_seconds(pid) - before) * 1000 / figures["requests"], 3)
    return figures


@contextmanager
def bare_stack(database_url: str, workdir: Path, pids: list[int] | None = None) -> Iterator[str]:
    """The bare stack in its own uvicorn process, on the scratch schema of ``database_url``."""
    server_url, _, _ = database_url.partition("?")
    schema = schema_of(database_url)
    env = {
        **os.environ,
        **absolute_pythonpath(),
        "SETTLEMENT_BARE_POSTGRES_URL": f"{server_url}?options={quote(f'-csearch_path={schema}')}",
    }
    port = free_port()
    log = (workdir / "bare.log").open("w")
    command = [
        sys.executable, "-m", "uvicorn", "api.bench.bare_stack:app",
        "--port", str(port), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    if pids is not None:
        pids.append(process.pid)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            answer = None
            with contextlib.suppress(httpx.HTTPError):  # not listening yet: try again below
                answer = httpx.get(base_url + BARE_PATH, timeout=2)
            if answer is not None and answer.status_code == 200:
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the bare stack did not start; see {workdir / 'bare.log'}")
            time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def run(options: ReadBenchOptions) -> dict[str, Any]:
    """Seeds, starts both servers, alternates wrk rounds between them; the figures and the ratio."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is needed (apt-get install wrk)")
    secret = secrets.token_urlsafe(32)
    token = issue_token(secret, role=Role.MUNICIPALITY, sub="bench-0301", municipality=MUNICIPALITY)
    auth = {"Authorization": f"Bearer {token}"}
    load_before = load_average()
    with (
        fresh_store("postgres", options.postgres_url) as url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        workdir = Path(tmp)
        master_key = secrets.token_urlsafe(32)  # R18: one master key for the seeding and the server
        app = SettlementApp(store_environment(url, master_key=master_key))
        try:
            seed(app)
        finally:
            app.close()
        api_pids: list[int] = []
        bare_pids: list[int] = []
        with (
            server(url, secret, workdir, pids=api_pids, master_key=master_key) as api_url,
            bare_stack(url, workdir, bare_pids) as bare_url,
        ):
            answer = httpx.get(api_url + PATH, headers=auth, timeout=10)
            answer.raise_for_status()
            rows = len(answer.json())
            # Warm both (imports, pools, caches) before the first measured round.
            wrk(bare_url + BARE_PATH, options, options.warmup_seconds, {})
            wrk(api_url + PATH, options, options.warmup_seconds, auth)
            bare_rounds, api_rounds = [], []
            for _ in range(options.rounds):
                bare_rounds.append(wrk(bare_url + BARE_PATH, options, options.seconds, {}, bare_pids[0]))
                api_rounds.append(wrk(api_url + PATH, options, options.seconds, auth, api_pids[0]))
    bare_rate = statistics.median(r["requests_per_s"] for r in bare_rounds)
    api_rate = statistics.median(r["requests_per_s"] for r in api_rounds)
    # Each API round against the bare round just before it: the same moment's load on the machine.
    paired = [a["requests_per_s"] / b["requests_per_s"] for a, b in zip(api_rounds, bare_rounds, strict=True)]
    return {
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "wrk": f"wrk -t{options.threads} -c{options.connections} -d{options.seconds:g}s --latency",
        "rounds": options.rounds,
        "places_rows": rows,
        "bare": {
            "requests_per_s": round(bare_rate, 1),
            "p99_ms": round(statistics.median(r["p99_ms"] for r in bare_rounds), 2),
            "rounds": bare_rounds,
        },
        "api": {
            "requests_per_s": round(api_rate, 1),
            "p99_ms": round(statistics.median(r["p99_ms"] for r in api_rounds), 2),
            "rounds": api_rounds,
        },
        "ratio": round(api_rate / bare_rate, 3),
        "paired_ratios": [round(r, 3) for r in paired],
        "paired_ratio_median": round(statistics.median(paired), 3),
        # CPU time of each server process per request: what a request costs it, whatever else runs.
        "cpu_ms_per_request": {
            name: round(statistics.median(r.get("cpu_ms_per_request", 0.0) for r in rounds), 3)
            for name, rounds in (("bare", bare_rounds), ("api", api_rounds))
        },
    }


def report(result: dict[str, Any]) -> list[str]:
    """The figures as lines of text."""
    lines = [
        f"GET {PATH} ({result['places_rows']} years, municipality token) against the bare stack's "
        f"GET {BARE_PATH}, {result['wrk']}, median of {result['rounds']} alternating rounds; "
        f"load average {result['load_average_before']} before, {result['load_average_after']} after",
    ]
    for name in ("bare", "api"):
        figures = result[name]
        each = ", ".join(f"{r['requests_per_s']:.0f}" for r in figures["rounds"])
        failures = sum(r["non_2xx"] for r in figures["rounds"])
        lines.append(
            f"  {name:5}: {figures['requests_per_s']:8.1f} req/s  p99 {figures['p99_ms']} ms"
            f"  (rounds: {each}; non-2xx: {failures})"
        )
    cpu = result["cpu_ms_per_request"]
    lines.append(
        f"  server CPU per request (median round): bare {cpu['bare']} ms, api {cpu['api']} ms "
        f"(bare/api {cpu['bare'] / cpu['api']:.2f})"
        if cpu["api"]
        else "  server CPU per request: not measured"
    )
    lines.append(
        f"  ratio api/bare: {result['ratio']:.3f} of the medians; round by round "
        f"{', '.join(f'{r:.2f}' for r in result['paired_ratios'])} (median "
        f"{result['paired_ratio_median']:.3f}); target 0.70"
    )
    return lines
