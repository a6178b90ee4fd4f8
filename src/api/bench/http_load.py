"""The HTTP load benchmark (``settlement bench --http``): a mixed load against a real server process.

It seeds a fresh store through the application service, starts ``settlement serve`` on it, drives
80% reads (places, lists, person folders, audit search) and 20% writes (registrations, settlement
decisions, settlement dates) at a fixed rate from several client connections, then measures how many
of the same writes the application service makes directly, in the same run, for comparison.

During the mixed load it also measures the views' delay: a thread of its own reads the lowest
position of the read models (``projection_state``) every few milliseconds, and each write's delay is
the time from its answer (with its ``X-Event-Position``) until the first reading at or past that
position, an upper bound by one sampling interval.
The command line (``settlement bench --http``) is in :mod:`api.cli.bench`.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import os
import random
import re
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psycopg

from api.bench.ports import free_port
from api.bench.scratch_store import fresh_store
from api.http.auth import issue_token
from projections.engine.store import schema_of
from settlement_domain.application import SettlementApp
from settlement_domain.commands import (
    ApproveDistributionList,
    CreateDistributionList,
    DecideQuota,
    DecideSettlement,
    RegisterMunicipality,
    RegisterRefugee,
    RequestSettlement,
)
from settlement_domain.context import Actor, CommandContext, Role
from settlement_domain.persistence import store_environment
from settlement_domain.values import Category, PostalAddress, Residence, ResidenceKind

# The one address of the benchmark's persons: as a value for the application service, and as JSON.
ADDRESS = PostalAddress("Storgata 1", "0150", "Oslo")
PERSON_JSON = {
    "birth_date": "1990-05-17",
    "family_id": None,
    "unaccompanied_minor": False,
    "residence": {"kind": "private"},
    "postal_address": ADDRESS.as_dict(),
    "category": "resettlement",
}
IMDI = Actor("bench-imdi", Role.IMDI)
RECEPTION = Actor("bench-reception", Role.RECEPTION)


@dataclass(frozen=True)
class LoadOptions:
    """One HTTP load run: the store, the load and its seed."""

    backend: str = "sqlite"
    postgres_url: str | None = None  # default: api.bench.scratch_store.default_postgres_url()
    rate: float = 200.0
    seconds: float = 20.0
    connections: int = 16
    municipalities: int = 20
    workers: int = 1
    seed: int = 1
    letters_process: bool = True  # the letter outbox in a process of its own (``settlement letters run``)
    projections_process: bool = False  # the projections in a process of its own (always with workers > 1)


def _ctx(actor: Actor) -> CommandContext:
    return CommandContext(actor=actor, correlation_id=f"bench-{uuid.uuid4().hex[:12]}")


def _caseworker(number: str) -> Actor:
    return Actor(f"bench-{number}", Role.MUNICIPALITY, number)


def _register(app: SettlementApp, rng: random.Random) -> UUID:
    birth = date(1960, 1, 1) + timedelta(days=rng.randrange(365 * 40))
    command = RegisterRefugee(
        full_name=f"Person {rng.randrange(10**6)}",
        birth_date=birth,
        family_id=None,
        unaccompanied_minor=False,
        residence=Residence(ResidenceKind.PRIVATE),
        postal_address=ADDRESS,
        category=Category.RESETTLEMENT,
    )
    return UUID(app.handle(_ctx(RECEPTION), command).id)


@dataclass
class World:
    """What the load works on: municipalities, and per municipality persons at each step of the case."""

    numbers: list[str]
    selected: dict[str, list[UUID]] = field(default_factory=dict)  # awaiting a settlement decision
    decided: dict[str, list[UUID]] = field(default_factory=dict)  # awaiting a settlement date
    readable: list[UUID] = field(default_factory=list)  # persons whose folder imdi reads


def seed(app: SettlementApp, municipalities: int, per_pool: int, rng: random.Random) -> World:
    """Municipalities with quotas, and per municipality persons selected and persons decided."""
    today = date.today()
    world = World([f"{9000 + i:04d}" for i in range(municipalities)])
    for number in world.numbers:
        caseworker = _caseworker(number)
        app.handle(_ctx(IMDI), RegisterMunicipality(number, f"Benchkommune {number}", "Benchfylke"))
        app.handle(_ctx(IMDI), RequestSettlement(number, today.year, 100_000, 1_000))
        app.handle(_ctx(caseworker), DecideQuota(number, today.year, 100_000, 1_000, decided_on=today))
        persons = tuple(_register(app, rng) for _ in range(2 * per_pool))
        # The list is for this year, where the quota is decided, whatever year its answer is due in.
        proposal = CreateDistributionList(
            number, persons, respond_by=today + timedelta(days=14), year=today.year
        )
        list_id = UUID(app.handle(_ctx(IMDI), proposal).id)
        app.handle(_ctx(caseworker), ApproveDistributionList(list_id, accepted=persons))
        decided = list(persons[per_pool:])
        for person in decided:
            app.handle(_ctx(IMDI), DecideSettlement(person, number))
        world.selected[number] = list(persons[:per_pool])
        world.decided[number] = decided
        world.readable.extend(persons)
    return world


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(latencies: list[float]) -> dict[str, float]:
    return {
        "count": len(latencies),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else 0.0,
    }


class Load:
    """The request mix: 80% reads, 20% writes, over the seeded world."""

    def __init__(self, world: World, secret: str, rng: random.Random) -> None:
        self.world = world
        self.rng = rng
        self.imdi = {"Authorization": "Bearer " + issue_token(secret, role=Role.IMDI, sub="bench-imdi")}
        self.reception = {
            "Authorization": "Bearer " + issue_token(secret, role=Role.RECEPTION, sub="bench-rec")
        }
        self.municipality = {
            n: {
                "Authorization": "Bearer "
                + issue_token(secret, role=Role.MUNICIPALITY, sub=f"bench-{n}", municipality=n)
            }
            for n in world.numbers
        }

    def next_request(self) -> tuple[str, str, str, dict[str, str], Any]:
        """(kind, method, path, headers, body): kind is "read" or "write"."""
        rng, world = self.rng, self.world
        number = rng.choice(world.numbers)
        roll = rng.random()
        if roll < 0.20:
            return "read", "GET", f"/api/v1/municipalities/{number}/places", self.municipality[number], None
        if roll < 0.40:
            return (
                "read",
                "GET",
                f"/api/v1/distribution-lists?municipality={number}&limit=20",
                self.imdi,
                None,
            )
        if roll < 0.60:
            person = rng.choice(world.readable)
            return "read", "GET", f"/api/v1/refugees/{person}", self.imdi, None
        if roll < 0.80:
            return "read", "GET", f"/api/v1/audit/events?municipality={number}&limit=20", self.imdi, None
        if roll < 0.87 and world.selected[number]:
            person = world.selected[number].pop()
            return (
                "write",
                "POST",
                f"/api/v1/refugees/{person}/settlement-decision",
                self.imdi,
                {"municipality": number},
            )
        if roll < 0.94 and world.decided[number]:
            person = world.decided[number].pop()
            return (
                "write",
                "POST",
                f"/api/v1/refugees/{person}/settlement-date",
                self.municipality[number],
                {"date": date.today().isoformat()},
            )
        body = {"full_name": f"Person {rng.randrange(10**6)}", **PERSON_JSON}
        return "write", "POST", "/api/v1/refugees", self.reception, body


class ViewWatcher:
    """Reads the lowest position of the read models every ``interval`` seconds in a thread of its own
    (PostgreSQL: its own connection; SQLite: its own connection to the file), from start to stop."""

    def __init__(self, database_url: str, interval: float = 0.005) -> None:
        self.database_url = database_url
        self.interval = interval
        self.samples: list[tuple[float, int]] = []  # (moment the reading came back, lowest position)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="view-watcher", daemon=True)

    def __enter__(self) -> ViewWatcher:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _watch(self) -> None:
        query = "select min(position) from projection_state"
        if self.database_url.startswith("sqlite"):
            conn: Any = sqlite3.connect(self.database_url.removeprefix("sqlite:///"), isolation_level=None)
        else:
            server = self.database_url.split("?", 1)[0]
            conn = psycopg.connect(
                server, autocommit=True, options=f"-c search_path={schema_of(self.database_url)}"
            )
        with contextlib.closing(conn):
            while not self._stop.is_set():
                (lowest,) = conn.execute(query).fetchone()
                self.samples.append((time.perf_counter(), int(lowest or 0)))
                self._stop.wait(self.interval)

    def delays(self, writes: list[tuple[float, int]]) -> list[float]:
        """Per write (answered at, position): seconds until a reading showed every view there."""
        moments = [moment for moment, _ in self.samples]
        found = []
        for answered, position in writes:
            index = bisect.bisect_left(moments, answered)
            for moment, lowest in self.samples[index:]:
                if lowest >= position:
                    found.append(moment - answered)
                    break
        return found


async def drive(
    base_url: str,
    load: Load,
    rate: float,
    seconds: float,
    connections: int,
    writes: list[tuple[float, int]] | None = None,
) -> dict[str, Any]:
    """Sends requests on a fixed schedule (open loop) and records each one's latency and status, and
    into ``writes`` each accepted write's answer moment and log position."""
    latencies: dict[str, list[float]] = {"read": [], "write": []}
    errors: dict[str, int] = {}
    total = int(rate * seconds)
    queue: asyncio.Queue[tuple[float, tuple[str, str, str, dict[str, str], Any]] | None] = asyncio.Queue()
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:

        async def worker() -> None:
            while (item := await queue.get()) is not None:
                due, (kind, method, path, headers, body) = item
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                started = time.perf_counter()
                response = await client.request(method, path, headers=headers, json=body)
                answered = time.perf_counter()
                # Measured from the scheduled moment, so that a server falling behind shows as latency.
                latencies[kind].append(answered - min(due, started))
                position = response.headers.get("X-Event-Position")
                if writes is not None and kind == "write" and position and response.status_code < 300:
                    writes.append((answered, int(position)))
                if response.status_code >= 400:
                    key = f"{kind} {response.status_code}"
                    errors[key] = errors.get(key, 0) + 1

        workers = [asyncio.create_task(worker()) for _ in range(connections * 4)]
        start = time.perf_counter() + 0.2
        for i in range(total):
            await queue.put((start + i / rate, load.next_request()))
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
        elapsed = time.perf_counter() - start
    done = len(latencies["read"]) + len(latencies["write"])
    return {
        "requests": done,
        "seconds": round(elapsed, 2),
        "throughput_per_s": round(done / elapsed, 1),
        "reads": summary(latencies["read"]),
        "writes": summary(latencies["write"]),
        "errors": errors,
    }


async def write_burst(base_url: str, load: Load, writes: int, connections: int) -> float:
    """Registrations as fast as the server takes them from ``connections`` clients: writes per second."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    body = {"full_name": "Burst Person", **PERSON_JSON}
    remaining = iter(range(writes))
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:

        async def worker() -> None:
            for _ in remaining:
                response = await client.post("/api/v1/refugees", json=body, headers=load.reception)
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return writes / (time.perf_counter() - started)


def direct_rate(app: SettlementApp, writes: int, rng: random.Random) -> float:
    """The same registrations through the application service in this process: writes per second."""
    started = time.perf_counter()
    for _ in range(writes):
        _register(app, rng)
    return writes / (time.perf_counter() - started)


def absolute_pythonpath() -> dict[str, str]:
    """``PYTHONPATH`` with each entry made absolute (none when unset)."""
    value = os.environ.get("PYTHONPATH")
    if not value:
        return {}
    return {"PYTHONPATH": os.pathsep.join(os.path.abspath(p) for p in value.split(os.pathsep) if p)}


@contextmanager
def server(
    database_url: str,
    secret: str,
    workdir: Path,
    workers: int = 1,
    *,
    letters_process: bool = False,
    projections_process: bool = False,
    pids: list[int] | None = None,
    master_key: str | None = None,
) -> Iterator[str]:
    """``settlement serve`` in its own process(es) on ``database_url``; yields its base URL.

    ``letters_process``: the letter outbox (which renders a PDF per letter) runs as ``settlement letters
    run`` in a process of its own instead of inside the API process; ``projections_process`` (always
    with several workers): the projections run as ``settlement projections run`` beside the API."""
    projections_process = projections_process or workers > 1
    port = free_port()
    env = {
        **os.environ,
        # The server runs in ``workdir``: a relative PYTHONPATH (``PYTHONPATH=src``) must still name
        # this checkout's code, not whatever the interpreter finds from there.
        **absolute_pythonpath(),
        "SETTLEMENT_DATABASE_URL": database_url,
        "SETTLEMENT_JWT_SECRET": secret,
        "SETTLEMENT_LETTERS_OUTBOX_DIR": str(workdir / "outbox"),
        "SETTLEMENT_LETTERS_PRINT_DIR": str(workdir / "print"),
    }
    if letters_process:
        env["SETTLEMENT_LETTERS_WORKER"] = "false"
    if master_key:
        env["SETTLEMENT_MASTER_KEY"] = master_key  # R18: the key the seeding process wrapped data keys with
    log = (workdir / "server.log").open("w")
    # The projections' lag in /health is shown to an imdi or auditor token only.
    imdi = {"Authorization": "Bearer " + issue_token(secret, role=Role.IMDI, sub="bench-health")}
    command = [sys.executable, "-m", "api.cli.main", "serve", "--port", str(port), "--workers", str(workers)]
    if projections_process and workers == 1:
        command.append("--no-projections")
    processes = [subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)]
    if pids is not None:
        pids.append(processes[0].pid)  # the API process, whose CPU time a benchmark may read
    # The workers beside it start once it answers: two processes creating the tables of a fresh
    # schema at the same moment may trip over each other.
    beside = [["projections", "run"]] if projections_process else []
    if letters_process:
        beside.append(["letters", "run"])
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            health = None
            with contextlib.suppress(httpx.HTTPError):  # not listening yet: try again below
                health = httpx.get(f"{base_url}/health", headers=imdi, timeout=2)
            if health is not None and beside:
                for arguments in beside:
                    processes.append(
                        subprocess.Popen(
                            [sys.executable, "-m", "api.cli.main", *arguments],
                            env=env,
                            stdout=log,
                            stderr=subprocess.STDOUT,
                            cwd=workdir,
                        )
                    )
                beside = []
            if (
                health is not None
                and health.status_code == 200
                and all(p["lag"] == 0 for p in health.json()["projections"])
                and not beside
            ):
                break
            if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
                log.flush()
                tail = (workdir / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the server did not start; its log ends:\n{tail}")
            time.sleep(0.2)
        yield base_url
    finally:
        for running in processes:
            running.terminate()
        for running in processes:
            try:
                running.wait(timeout=15)
            except subprocess.TimeoutExpired:
                running.kill()
        log.close()


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scrape(base_url: str) -> dict[str, Any]:
    """From the API process's /metrics: its read records (R6/R14) and the transactions they took, and
    its request histogram summed over the API's routes (count, sum, count per bucket's bound)."""
    found: dict[str, Any] = {"records": 0, "groups": 0, "count": 0.0, "sum": 0.0, "buckets": {}}
    with contextlib.suppress(httpx.HTTPError):
        for line in httpx.get(f"{base_url}/metrics", timeout=10).text.splitlines():
            name, _, value = line.rpartition(" ")
            if name == "settlement_read_records_appended_total":
                found["records"] = int(float(value))
            elif name == "settlement_read_record_groups_total":
                found["groups"] = int(float(value))
            elif name.startswith("settlement_http_request_duration_seconds") and 'route="/api/v1' in name:
                if name.startswith("settlement_http_request_duration_seconds_count"):
                    found["count"] += float(value)
                elif name.startswith("settlement_http_request_duration_seconds_sum"):
                    found["sum"] += float(value)
                elif (bound := re.search(r'le="([^"]+)"', name)) is not None:
                    found["buckets"][bound.group(1)] = found["buckets"].get(bound.group(1), 0.0) + float(
                        value
                    )
    return found


def server_side(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The API requests' time inside the server during the load (its own histogram): the mean, and the
    bucket bound under which 50% and 99% of them ended. Against the client's figures it tells the time
    a request spent in the server from the time it waited in front of it."""
    count = after["count"] - before["count"]
    if count <= 0:
        return {}
    bounds = sorted(
        ((float(b), after["buckets"][b] - before["buckets"].get(b, 0.0)) for b in after["buckets"]),
        key=lambda item: item[0],
    )

    def under(share: float) -> float:
        return next((bound for bound, seen in bounds if seen >= share * count), float("inf"))

    return {
        "requests": int(count),
        "mean_ms": round((after["sum"] - before["sum"]) * 1000 / count, 1),
        "p50_under_ms": under(0.5) * 1000,
        "p99_under_ms": under(0.99) * 1000,
    }


def run(options: LoadOptions) -> dict[str, Any]:
    """Seeds a fresh store, serves it, drives the mixed load and the write burst; the measurements."""
    rng = random.Random(options.seed)
    secret = secrets.token_urlsafe(32)
    writes_in_load = int(options.rate * options.seconds * 0.2)
    per_pool = max(2, writes_in_load // (3 * options.municipalities) + 2)
    burst = max(200, writes_in_load)
    # R18: the seeding process and the server wrap and unwrap the persons' data keys with one master key.
    master_key = secrets.token_urlsafe(32)
    pids: list[int] = []
    with fresh_store(options.backend, options.postgres_url) as url, tempfile.TemporaryDirectory() as workdir:
        app = SettlementApp(store_environment(url, master_key=master_key))
        try:
            seeded_at = time.perf_counter()
            world = seed(app, options.municipalities, per_pool, rng)
            seeding = time.perf_counter() - seeded_at
            with server(
                url,
                secret,
                Path(workdir),
                options.workers,
                letters_process=options.letters_process,
                projections_process=options.projections_process,
                master_key=master_key,
                pids=pids,
            ) as base_url:
                load = Load(world, secret, rng)
                writes: list[tuple[float, int]] = []
                with ViewWatcher(url) as watcher:
                    cpu_before = cpu_seconds(pids[0])
                    client_before = time.process_time(), time.perf_counter()
                    metrics_before = scrape(base_url)
                    mixed = asyncio.run(
                        drive(base_url, load, options.rate, options.seconds, options.connections, writes)
                    )
                    # The API process's CPU per request of the mixed load: what the other jobs on a
                    # shared machine disturb least (they take cores, not this process's work).
                    api_cpu = cpu_seconds(pids[0]) - cpu_before
                    # The load generator's own CPU (this process: the client and the views' watcher):
                    # near 1.0 of the wall time it is the load generator that limits the rate.
                    client_share = (time.process_time() - client_before[0]) / (
                        time.perf_counter() - client_before[1]
                    )
                    time.sleep(2.0)  # the last writes' views
                view_delays = watcher.delays(writes)
                metrics_after = scrape(base_url)
                http_writes = asyncio.run(write_burst(base_url, load, burst, options.connections))
            direct_writes = direct_rate(app, burst, rng)
        finally:
            app.close()
    return {
        "backend": options.backend,
        "rate_target_per_s": options.rate,
        "connections": options.connections,
        "workers": options.workers,
        "letters": "own process" if options.letters_process else "in the API process",
        "projections": "own process"
        if options.projections_process or options.workers > 1
        else "in the API process",
        "seeding_s": round(seeding, 1),
        **mixed,
        "view_delay": {
            **summary(view_delays),
            "writes": len(writes),
            "never_seen": len(writes) - len(view_delays),
            "sampling_ms": watcher.interval * 1000,
        },
        "client_cpu_share": round(client_share, 2),
        "api_cpu_ms_per_request": round(api_cpu * 1000 / max(1, mixed.get("requests", 0)), 2),
        # R6/R14: the read records of the mixed load and the transactions they took (one API process)
        "read_records": {
            "records": metrics_after["records"] - metrics_before["records"],
            "groups": metrics_after["groups"] - metrics_before["groups"],
        },
        "server_side": server_side(metrics_before, metrics_after),
        "http_writes_per_s": round(http_writes, 1),
        "direct_writes_per_s": round(direct_writes, 1),
        "http_to_direct": round(http_writes / direct_writes, 2),
    }
