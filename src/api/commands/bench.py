"""``settlement bench``: append, rebuild, per-event baseline and query latency over one generated log."""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from sqlalchemy import Engine, text

from api import http_bench
from api.demo_history import generate
from api.scratch_store import DEFAULT_POSTGRES_URL, fresh_store
from projections import audit_trail, places, reports
from projections.catalog import PROJECTIONS, create_generation, drop_generation
from projections.rebuild import rebuild
from projections.runner import Runner, decode, fold_into
from projections.store import open_read_store, write_transaction
from settlement_domain.application import SettlementApp
from settlement_domain.persistence import store_environment

# The demo history's size: about 16,000 events whatever the scale (357 municipalities' requests,
# decisions and letters over ten years) plus about 1.58 million per unit of scale (measured at 0.01, 0.03).
EVENTS_FIXED = 16_000
EVENTS_PER_SCALE = 1_580_000
BASELINE_GENERATION = 900  # scratch tables for the per-event baseline, never served


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench", help="measure append, rebuild, the per-event baseline and query latency",
        description="Generates a log with the demo generator into a fresh store and measures it.",
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--events", type=int, default=100_000, help="about this many events (default 100,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--baseline-events", type=int, default=20_000,
        help="events driven one transaction each for the baseline (default 20,000; 0: all)",
    )
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL,
                        help="server for --backend postgres (a fresh schema is made and dropped)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    http = parser.add_argument_group("--http: the HTTP load benchmark against a running server")
    http.add_argument("--http", action="store_true", help="measure the HTTP API under a mixed load instead")
    http_bench.add_load_arguments(http)
    parser.set_defaults(func=run)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50": round(statistics.median(ordered), 2),
        "p95": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 2),
    }


def timed(call: Callable[[], Any], runs: int) -> dict[str, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


def baseline(app: SettlementApp, engine: Engine, limit: int) -> tuple[int, float]:
    """The per-event way (the library's ProjectionRunner): decode, fold and commit rows and position per event."""
    projections = list(PROJECTIONS.values())
    with write_transaction(engine) as conn:
        for p in projections:
            drop_generation(conn, p, BASELINE_GENERATION)
            create_generation(conn, p, BASELINE_GENERATION)
        conn.exec_driver_sql("CREATE TABLE bench_tracking (name VARCHAR(64) PRIMARY KEY, position BIGINT)")
        conn.exec_driver_sql("INSERT INTO bench_tracking VALUES ('baseline', 0)")
    done, after = 0, 0
    started = time.perf_counter()
    while done < limit:
        notifications = app.recorder.select_notifications(after + 1, min(1000, limit - done))
        if not notifications:
            break
        for notification in notifications:
            events = decode(app, [notification])
            with write_transaction(engine) as conn:
                for p in projections:
                    fold_into(conn, p, BASELINE_GENERATION, events, 0)
                conn.execute(text("UPDATE bench_tracking SET position = :p"), {"p": notification.id})
        done += len(notifications)
        after = notifications[-1].id
    seconds = time.perf_counter() - started
    with write_transaction(engine) as conn:
        for p in projections:
            drop_generation(conn, p, BASELINE_GENERATION)
        conn.exec_driver_sql("DROP TABLE bench_tracking")
    return done, seconds


def measure(url: str, args: argparse.Namespace, console: Console) -> dict[str, Any]:
    app = SettlementApp(store_environment(url))
    engine = open_read_store(url)
    try:
        scale = max(0.001, (args.events - EVENTS_FIXED) / EVENTS_PER_SCALE)
        console.print(f"generating about {args.events:,} events (scale {scale:.4f}, seed {args.seed})")
        summary = generate(app, scale, seed=args.seed)
        events = summary.events
        console.print(f"appended {events:,} events at {summary.events_per_s:,.0f}/s; live catch-up")

        started = time.perf_counter()
        Runner(app, engine, batch_size=1000).catch_up()
        live_seconds = time.perf_counter() - started

        baseline_limit = events if args.baseline_events == 0 else min(events, args.baseline_events)
        console.print(f"per-event baseline over {baseline_limit:,} events")
        baseline_done, baseline_seconds = baseline(app, engine, baseline_limit)

        console.print("rebuild of all views")
        report = rebuild(app, engine, grace_seconds=0)

        console.print("queries")
        rng = random.Random(args.seed)
        with engine.connect() as conn:
            numbers = [r[0] for r in conn.execute(text(
                "SELECT number FROM " + PROJECTIONS["municipalities"].table_name("registry", _gen(conn, "municipalities"))
            ))]
        now = datetime.now(UTC)
        queries = {
            "places": timed(lambda: places.places_by_year(engine, rng.choice(numbers)), 50),
            "national_report": timed(lambda: reports.national_report(engine, rng.choice(range(2016, 2026)),
                                                                     suppress=True), 20),
            "audit_own_cases": timed(lambda: audit_trail.audit_events(engine, own_cases_of=rng.choice(numbers)), 50),
            "audit_text": timed(lambda: audit_trail.audit_events(engine, q=rng.choice(
                ["settlement date registered", "deviation opened", "selected", "distribution list withdrawn"])), 50),
            "audit_type_time": timed(lambda: audit_trail.audit_events(
                engine, type="SettlementDecided", recorded_from=now - timedelta(days=1), recorded_to=now), 50),
        }
        rebuild_rate = events / report.total_seconds if report.total_seconds else 0.0
        baseline_rate = baseline_done / baseline_seconds if baseline_seconds else 0.0
        return {
            "events": events,
            "backend": args.backend,
            "append_events_per_s": round(summary.events_per_s),
            "live_events_per_s": round(events / live_seconds) if live_seconds else None,
            "rebuild_events_per_s": round(rebuild_rate),
            "rebuild_seconds": {k: round(v, 2) for k, v in report.seconds.items()},
            "baseline_events": baseline_done,
            "baseline_events_per_s": round(baseline_rate),
            "speedup": round(rebuild_rate / baseline_rate, 1) if baseline_rate else None,
            "views_equal_replay": report.equal,
            "query_ms": queries,
        }
    finally:
        engine.dispose()
        app.close()


def _gen(conn: Any, name: str) -> int:
    return conn.execute(text("SELECT generation FROM projection_state WHERE name = :n"), {"n": name}).scalar_one()


def run(args: argparse.Namespace) -> int:
    if args.http:
        return http_bench.run(args)
    if args.events < 1000:
        raise ValueError("--events must be at least 1,000")
    console = Console(stderr=True, quiet=args.json)
    with fresh_store(args.backend, args.postgres_url) as url:
        result = measure(url, args, console)
    if args.json:
        print(json.dumps(result))
    else:
        Console().print_json(json.dumps(result))
    return 0
