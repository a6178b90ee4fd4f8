"""The HTTP load benchmark (``settlement bench --http``): a mixed load against a real server process.

It seeds a fresh store through the application service, starts ``settlement serve`` on it, drives
80% reads (places, lists, person folders, audit search) and 20% writes (registrations, settlement
decisions, settlement dates) at a fixed rate from several client connections, then measures how many
of the same writes the application service makes directly, in the same run, for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from api.auth import issue_token
from api.scratch_store import DEFAULT_POSTGRES_URL, fresh_store
from settlement_domain.application import SettlementApp
from settlement_domain.context import Actor, CommandContext, Role
from settlement_domain.persistence import store_environment

ADDRESS = {"street": "Storgata 1", "postal_code": "0150", "city": "Oslo"}
IMDI = Actor("bench-imdi", Role.IMDI)
RECEPTION = Actor("bench-reception", Role.RECEPTION)


def add_load_arguments(parser: argparse._ActionsContainer) -> None:
    """The options of the load itself (``settlement bench`` adds them to its own)."""
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second (default 200)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the mixed load (default 20)")
    parser.add_argument("--connections", type=int, default=16, help="client connections (default 16)")
    parser.add_argument("--municipalities", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1,
                        help="API processes; above 1 (PostgreSQL) the projections run in their own process")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    add_load_arguments(parser)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _ctx(actor: Actor) -> CommandContext:
    return CommandContext(actor=actor, correlation_id=f"bench-{uuid.uuid4().hex[:12]}")


def _caseworker(number: str) -> Actor:
    return Actor(f"bench-{number}", Role.MUNICIPALITY, number)


def _register(app: SettlementApp, rng: random.Random) -> str:
    birth = date(1960, 1, 1) + timedelta(days=rng.randrange(365 * 40))
    return app.register_refugee(_ctx(RECEPTION), full_name=f"Person {rng.randrange(10**6)}", birth_date=birth,
                                family_id=None, unaccompanied_minor=False, residence={"kind": "private"},
                                postal_address=ADDRESS, category="resettlement").id


@dataclass
class World:
    """What the load works on: municipalities, and per municipality persons at each step of the case."""

    numbers: list[str]
    selected: dict[str, list[str]] = field(default_factory=dict)  # awaiting a settlement decision
    decided: dict[str, list[str]] = field(default_factory=dict)  # awaiting a settlement date
    readable: list[str] = field(default_factory=list)  # persons whose folder imdi reads


def seed(app: SettlementApp, municipalities: int, per_pool: int, rng: random.Random) -> World:
    """Municipalities with quotas, and per municipality persons selected and persons decided."""
    today = date.today()
    world = World([f"{9000 + i:04d}" for i in range(municipalities)])
    for number in world.numbers:
        app.register_municipality(_ctx(IMDI), number, f"Benchkommune {number}", "Benchfylke")
        app.request_settlement(_ctx(IMDI), number, today.year, 100_000, 1_000)
        app.decide_quota(_ctx(_caseworker(number)), number, today.year, 100_000, 1_000, today)
        persons = [_register(app, rng) for _ in range(2 * per_pool)]
        list_id = app.create_distribution_list(_ctx(IMDI), number, persons, today + timedelta(days=14)).id
        app.approve_distribution_list(_ctx(_caseworker(number)), list_id, persons, {})
        decided = persons[per_pool:]
        for person in decided:
            app.decide_settlement(_ctx(IMDI), person, number)
        world.selected[number] = persons[:per_pool]
        world.decided[number] = decided
        world.readable.extend(persons)
    return world


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(latencies: list[float]) -> dict[str, float]:
    return {"count": len(latencies), "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
            "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
            "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else 0.0}


class Load:
    """The request mix: 80% reads, 20% writes, over the seeded world."""

    def __init__(self, world: World, secret: str, rng: random.Random) -> None:
        self.world = world
        self.rng = rng
        self.imdi = {"Authorization": "Bearer " + issue_token(secret, role=Role.IMDI, sub="bench-imdi")}
        self.reception = {"Authorization": "Bearer " + issue_token(secret, role=Role.RECEPTION, sub="bench-rec")}
        self.municipality = {
            n: {"Authorization": "Bearer " + issue_token(secret, role=Role.MUNICIPALITY, sub=f"bench-{n}",
                                                         municipality=n)}
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
            return "read", "GET", f"/api/v1/distribution-lists?municipality={number}&limit=20", self.imdi, None
        if roll < 0.60:
            person = rng.choice(world.readable)
            return "read", "GET", f"/api/v1/refugees/{person}", self.imdi, None
        if roll < 0.80:
            return "read", "GET", f"/api/v1/audit/events?municipality={number}&limit=20", self.imdi, None
        if roll < 0.87 and world.selected[number]:
            person = world.selected[number].pop()
            return ("write", "POST", f"/api/v1/refugees/{person}/settlement-decision", self.imdi,
                    {"municipality": number})
        if roll < 0.94 and world.decided[number]:
            person = world.decided[number].pop()
            return ("write", "POST", f"/api/v1/refugees/{person}/settlement-date", self.municipality[number],
                    {"date": date.today().isoformat()})
        body = {"full_name": f"Person {rng.randrange(10**6)}", "birth_date": "1990-05-17", "family_id": None,
                "unaccompanied_minor": False, "residence": {"kind": "private"}, "postal_address": ADDRESS,
                "category": "resettlement"}
        return "write", "POST", "/api/v1/refugees", self.reception, body


async def drive(base_url: str, load: Load, rate: float, seconds: float, connections: int) -> dict[str, Any]:
    """Sends requests on a fixed schedule (open loop) and records each one's latency and status."""
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
                # Measured from the scheduled moment, so that a server falling behind shows as latency.
                latencies[kind].append(time.perf_counter() - min(due, started))
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
    return {"requests": done, "seconds": round(elapsed, 2), "throughput_per_s": round(done / elapsed, 1),
            "reads": summary(latencies["read"]), "writes": summary(latencies["write"]), "errors": errors}


async def write_burst(base_url: str, load: Load, writes: int, connections: int) -> float:
    """Registrations as fast as the server takes them from ``connections`` clients: writes per second."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    body = {"full_name": "Burst Person", "birth_date": "1990-05-17", "family_id": None,
            "unaccompanied_minor": False, "residence": {"kind": "private"}, "postal_address": ADDRESS,
            "category": "resettlement"}
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(database_url: str, secret: str, workdir: Path, workers: int = 1) -> Iterator[str]:
    """``settlement serve`` in its own process(es) on ``database_url``; yields its base URL."""
    port = _free_port()
    env = {**os.environ, "SETTLEMENT_DATABASE_URL": database_url, "SETTLEMENT_JWT_SECRET": secret,
           "SETTLEMENT_PROJECTION_POLL_SECONDS": "0.05"}
    log = (workdir / "server.log").open("w")
    command = [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", str(workers)]
    processes = [subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)]
    if workers > 1:
        processes.append(subprocess.Popen([sys.executable, "-m", "api.cli", "projections", "run"],
                                          env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir))
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            health = None
            with contextlib.suppress(httpx.HTTPError):  # not listening yet: try again below
                health = httpx.get(f"{base_url}/health", timeout=2)
            if health is not None and health.status_code == 200 and all(
                p["lag"] == 0 for p in health.json()["projections"]
            ):
                break
            if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start; see {workdir / 'server.log'}")
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


def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    secret = secrets.token_urlsafe(32)
    writes_in_load = int(args.rate * args.seconds * 0.2)
    per_pool = max(2, writes_in_load // (3 * args.municipalities) + 2)
    burst = max(200, writes_in_load)
    with fresh_store(args.backend, args.postgres_url) as url, tempfile.TemporaryDirectory() as workdir:
        app = SettlementApp(store_environment(url))
        try:
            seeded_at = time.perf_counter()
            world = seed(app, args.municipalities, per_pool, rng)
            seeding = time.perf_counter() - seeded_at
            with server(url, secret, Path(workdir), args.workers) as base_url:
                load = Load(world, secret, rng)
                mixed = asyncio.run(drive(base_url, load, args.rate, args.seconds, args.connections))
                http_writes = asyncio.run(write_burst(base_url, load, burst, args.connections))
            direct_writes = direct_rate(app, burst, rng)
        finally:
            app.close()
    result = {
        "backend": args.backend, "rate_target_per_s": args.rate, "connections": args.connections,
        "workers": args.workers,
        "seeding_s": round(seeding, 1), **mixed,
        "http_writes_per_s": round(http_writes, 1), "direct_writes_per_s": round(direct_writes, 1),
        "http_to_direct": round(http_writes / direct_writes, 2),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"HTTP load on {args.backend} ({args.workers} API process(es)): "
              f"{mixed['requests']} requests in {mixed['seconds']} s "
              f"({mixed['throughput_per_s']}/s, target {args.rate}/s, {args.connections} connections)")
        for kind in ("reads", "writes"):
            s = mixed[kind]
            print(f"  {kind:6}: {s['count']:6} p50 {s['p50_ms']} ms  p95 {s['p95_ms']} ms  p99 {s['p99_ms']} ms")
        print(f"  errors: {mixed['errors'] or 'none'}")
        print(f"Writes (registrations): HTTP {result['http_writes_per_s']}/s with {args.connections} clients, "
              f"direct {result['direct_writes_per_s']}/s; ratio {result['http_to_direct']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="settlement bench --http", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
