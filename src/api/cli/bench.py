"""``settlement bench``: the command line of the benchmarks in :mod:`api.bench`.

Without ``--http``: append, rebuild, per-event baseline and query latency over one generated log
(:mod:`api.bench.store_bench`); with ``--http``: the HTTP API under a mixed load
(:mod:`api.bench.http_load`).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console

from api.bench import http_load, http_reads, import_bench, store_bench
from api.bench.scratch_store import FALLBACK_POSTGRES_URL


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="measure append, rebuild, the per-event baseline and query latency",
        description="Generates a log with the demo generator into a fresh store and measures it.",
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--events", type=int, default=100_000, help="about this many events (default 100,000)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--baseline-events",
        type=int,
        default=20_000,
        help="events driven one transaction each for the baseline (default 20,000; 0: all)",
    )
    parser.add_argument(
        "--postgres-url",
        help="server for --backend postgres (a fresh schema is made and dropped); default "
        f"SETTLEMENT_BENCH_POSTGRES_URL or {FALLBACK_POSTGRES_URL}",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--no-queries", action="store_true", help="skip the query latencies (read side figures only)"
    )
    parser.add_argument(
        "--import",
        dest="import_",
        action="store_true",
        help="measure importing a generated person-level history of --events events instead",
    )
    http = parser.add_argument_group("--http: the HTTP load benchmark against a running server")
    http.add_argument("--http", action="store_true", help="measure the HTTP API under a mixed load instead")
    http.add_argument(
        "--http-reads",
        action="store_true",
        help="measure the places read against the bare stack with wrk instead (PostgreSQL; make bench-http)",
    )
    http.add_argument("--rounds", type=int, default=3, help="--http-reads: wrk rounds per server (default 3)")
    http.add_argument("--rate", type=float, default=200.0, help="requests per second (default 200)")
    http.add_argument(
        "--seconds",
        type=float,
        help="length of the mixed load (default 20), or of each --http-reads round (default 10)",
    )
    http.add_argument("--connections", type=int, default=16, help="client connections (default 16)")
    http.add_argument("--municipalities", type=int, default=20)
    http.add_argument(
        "--workers",
        type=int,
        default=1,
        help="API processes; above 1 (PostgreSQL) the projections run in their own process",
    )
    http.add_argument(
        "--letters-in-server",
        action="store_true",
        help="run the letter outbox inside the API process (default: `settlement letters run` beside it)",
    )
    http.add_argument(
        "--projections-process",
        action="store_true",
        help="run the projections as `settlement projections run` beside one API process (PostgreSQL)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.http_reads:
        return run_http_reads(args)
    if args.http:
        return run_http(args)
    if args.import_:
        return run_import(args)
    options = store_bench.StoreBenchOptions(
        backend=args.backend,
        postgres_url=args.postgres_url,
        events=args.events,
        seed=args.seed,
        baseline_events=args.baseline_events,
        queries=not args.no_queries,
    )
    result = store_bench.run(options, Console(stderr=True, quiet=args.json))
    if args.json:
        print(json.dumps(result))
    else:
        Console().print_json(json.dumps(result))
    return 0


def run_http(args: argparse.Namespace) -> int:
    options = http_load.LoadOptions(
        backend=args.backend,
        postgres_url=args.postgres_url,
        rate=args.rate,
        seconds=args.seconds or 20.0,
        connections=args.connections,
        municipalities=args.municipalities,
        workers=args.workers,
        seed=args.seed,
        letters_process=not args.letters_in_server,
        projections_process=args.projections_process,
    )
    result = http_load.run(options)
    if args.json:
        print(json.dumps(result))
    else:
        print("\n".join(http_report(result)))
    return 0


def run_http_reads(args: argparse.Namespace) -> int:
    options = http_reads.ReadBenchOptions(
        postgres_url=args.postgres_url,
        seconds=args.seconds or 10.0,
        rounds=args.rounds,
        connections=args.connections,
    )
    result = http_reads.run(options)
    if args.json:
        print(json.dumps(result))
    else:
        print("\n".join(http_reads.report(result)))
    return 0


def http_report(result: dict[str, Any]) -> list[str]:
    """The HTTP load's measurements as lines of text."""
    lines = [
        f"HTTP load on {result['backend']} ({result['workers']} API process(es); projections "
        f"{result['projections']}, letters {result['letters']}): "
        f"{result['requests']} requests in {result['seconds']} s "
        f"({result['throughput_per_s']}/s, target {result['rate_target_per_s']}/s, "
        f"{result['connections']} connections)"
    ]
    for kind in ("reads", "writes"):
        s = result[kind]
        lines.append(
            f"  {kind:6}: {s['count']:6} p50 {s['p50_ms']} ms  p95 {s['p95_ms']} ms  p99 {s['p99_ms']} ms"
        )
    lines.append(f"  errors: {result['errors'] or 'none'}")
    delay = result["view_delay"]
    lines.append(
        f"  views : delay after a write's answer p50 {delay['p50_ms']} ms  p95 {delay['p95_ms']} ms  "
        f"p99 {delay['p99_ms']} ms  ({delay['count']} of {delay['writes']} writes seen, "
        f"sampled every {delay['sampling_ms']:g} ms)"
    )
    if result.get("api_cpu_ms_per_request") is not None:
        lines.append(
            f"  API process CPU per request: {result['api_cpu_ms_per_request']} ms; the load generator "
            f"used {result.get('client_cpu_share', 0):.0%} of a core"
        )
    inside = result.get("server_side") or {}
    if inside:
        lines.append(
            f"  inside the server: {inside['requests']} API requests, mean {inside['mean_ms']} ms, "
            f"p50 under {inside['p50_under_ms']:g} ms, p99 under {inside['p99_under_ms']:g} ms "
            "(its own histogram; the rest of the latency above is the wait in front of it)"
        )
    grouped = result.get("read_records") or {}
    if grouped.get("groups"):
        lines.append(
            f"  read records (R6/R14): {grouped['records']} in {grouped['groups']} transactions "
            f"({grouped['records'] / grouped['groups']:.1f} per transaction)"
        )
    lines.append(
        f"Writes (registrations): HTTP {result['http_writes_per_s']}/s with {result['connections']} clients, "
        f"direct {result['direct_writes_per_s']}/s; ratio {result['http_to_direct']}"
    )
    return lines


def run_import(args: argparse.Namespace) -> int:
    options = import_bench.ImportBenchOptions(
        backend=args.backend, postgres_url=args.postgres_url, events=args.events, seed=args.seed
    )
    result = import_bench.run(options, Console(stderr=True, quiet=args.json))
    if args.json:
        print(json.dumps(result))
    else:
        Console().print_json(json.dumps(result))
    return 0
