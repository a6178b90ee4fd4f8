"""``settlement projections run|rebuild|status``: keep, rebuild and inspect the read models."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from api.bootstrap import open_application
from api.logs import configure_logging
from api.settings import Settings
from projections.catalog import PROJECTIONS, install, select_projections
from projections.engine.rebuild import RebuildReport, rebuild, rebuild_outdated
from projections.engine.runner import Runner, status
from projections.engine.store import open_read_store
from projections.read_expiry import read_expiry_steps
from settlement_domain.bulk import paused_garbage_collector

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "projections",
        help="run, rebuild or inspect the read models",
        description="Keep the read models current, rebuild them from the log, or show their state.",
    )
    parser.add_argument("--database-url", help="store to use instead of SETTLEMENT_DATABASE_URL")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    run_parser = actions.add_parser(
        "run",
        help="follow the log and keep the read models current (one worker per read model on PostgreSQL)",
    )
    run_parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"read models to run (default all: {', '.join(PROJECTIONS)})"
    )
    run_parser.add_argument(
        "--batch-size", type=int, default=1000, help="events per transaction (default 1000)"
    )
    run_parser.add_argument(
        "--poll",
        type=float,
        default=1.0,
        help="seconds between polls when idle (default 1; on PostgreSQL every committed write wakes "
        "the runner at once, the poll is the fallback)",
    )
    run_parser.add_argument("--once", action="store_true", help="catch up with the log, then exit")
    run_parser.set_defaults(func=run)

    rebuild_parser = actions.add_parser(
        "rebuild",
        help="rebuild read models from the log without stopping reads",
        description="Builds a new version of each read model from position 0 beside the serving one, catches up, "
        "compares (row counts and checksums per table) and swaps it in.",
    )
    rebuild_parser.add_argument("names", nargs="*", metavar="NAME", help="read models to rebuild")
    rebuild_parser.add_argument("--all", action="store_true", help="rebuild every read model")
    rebuild_parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    rebuild_parser.set_defaults(func=run_rebuild)

    status_parser = actions.add_parser("status", help="each read model's version, position and lag")
    status_parser.add_argument("--json", action="store_true", help="print JSON")
    status_parser.set_defaults(func=show_status)


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings()
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    return settings


def run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    configure_logging(settings.log_level)
    projections = select_projections(args.names)
    if args.batch_size < 1:
        raise ValueError("--batch-size must be at least 1")
    app = open_application(settings)
    engine = open_read_store(settings.database_url)
    # R14: read records past the retention period are expired by this worker itself (one at a time).
    expiry = read_expiry_steps(
        app, engine, projections, years=settings.read_retention_years, minutes=settings.read_expiry_minutes
    )
    runner = Runner(
        app, engine, projections, batch_size=args.batch_size, poll_interval=args.poll, periodic=expiry
    )
    app.on_saved.append(runner.wakeup.wake)  # writes of this process (the letter outbox has none here)
    console = Console(stderr=True)
    try:
        with paused_garbage_collector():
            upgraded = rebuild_outdated(app, engine, projections)
        if upgraded is not None:
            console.print(f"rebuilt for the new code: {', '.join(p.name for p in upgraded.projections)}")
        if args.once:
            started = time.perf_counter()
            count = runner.catch_up()
            runner.run_periodic()  # the read expiry (R14), once
            console.print(f"caught up: {count:,} events in {time.perf_counter() - started:.1f} s")
            return 0
        # SIGTERM or Ctrl-C stops the loop after the batch in hand, which commits whole; a second
        # Ctrl-C interrupts at once (the batch then rolls back whole).
        stop_after_batch(runner)
        console.print(f"following the log for {', '.join(p.name for p in projections)} (Ctrl-C stops)")
        runner.wakeup.listen(settings.database_url)  # NOTIFY of every process's writes (PostgreSQL)
        runner.run_forever()
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        runner.join_periodic(
            timeout=30
        )  # a read expiry under way (R14); cut short, its next turn finishes it
        runner.wakeup.close()
        runner.release()
        engine.dispose()
        app.close()


def stop_after_batch(runner: Runner) -> None:
    """Graceful stop on SIGTERM and the first SIGINT: the runner finishes its batch, then returns."""

    def graceful(signum: int, _frame: object) -> None:
        log.info("stopping after the batch in hand (signal %s)", signal.Signals(signum).name)
        runner.stop(timeout=0)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C interrupts

    signal.signal(signal.SIGTERM, graceful)
    signal.signal(signal.SIGINT, graceful)


def run_rebuild(args: argparse.Namespace) -> int:
    if args.all and args.names:
        raise ValueError("name read models or give --all, not both")
    if not args.all and not args.names:
        raise ValueError("name the read models to rebuild, or give --all")
    settings = _settings(args)
    chosen = select_projections(args.names)
    app = open_application(settings)
    engine = open_read_store(settings.database_url)
    console = Console(stderr=True)
    try:
        with Progress(
            TextColumn("rebuilding"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} events"),
            TextColumn("{task.fields[rate]:,.0f} events/s"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        ) as progress:
            task = progress.add_task("rebuild", total=app.position(), rate=0.0)
            started = time.perf_counter()

            def advance(done: int, total: int) -> None:
                elapsed = time.perf_counter() - started
                progress.update(task, completed=done, total=total, rate=done / elapsed if elapsed else 0.0)

            with paused_garbage_collector():
                report = rebuild(app, engine, chosen, progress=advance)
        if args.json:
            print(json.dumps(report_dict(report), indent=2))
        else:
            print_report(report, Console())
        return 0
    finally:
        engine.dispose()
        app.close()


def report_dict(report: RebuildReport) -> dict[str, Any]:
    return {
        "events": report.events,
        "seconds": {k: round(v, 3) for k, v in report.seconds.items()},
        "events_per_s": round(report.events / report.total_seconds) if report.total_seconds else None,
        "equal": report.equal,
        "projections": [
            {
                "name": p.name,
                "old_generation": p.old_generation,
                "new_generation": p.new_generation,
                "position": p.position,
                "rows": p.rows,
                "differences": [
                    {
                        "table": c.table,
                        "old_rows": c.old_rows,
                        "new_rows": c.new_rows,
                        "only_old": c.only_old,
                        "only_new": c.only_new,
                    }
                    for c in p.differences
                ],
            }
            for p in report.projections
        ],
    }


def print_report(report: RebuildReport, console: Console) -> None:
    table = Table(title=f"Rebuilt from {report.events:,} events in {report.total_seconds:.1f} s")
    for column in ("read model", "generation", "position", "rows", "compared with the old"):
        table.add_column(column)
    for p in report.projections:
        if p.replaced_version is not None:
            verdict = f"new version (was {p.replaced_version}): not compared"
        elif not p.comparisons:
            verdict = "nothing served before"
        elif not p.differences:
            verdict = "identical"
        else:
            verdict = "; ".join(
                f"{c.table}: {c.old_rows:,} -> {c.new_rows:,} rows, {c.only_old:,} only in the old, "
                f"{c.only_new:,} only in the new"
                for c in p.differences
            )
        table.add_row(
            p.name, f"{p.old_generation} -> {p.new_generation}", f"{p.position:,}", f"{p.rows:,}", verdict
        )
    console.print(table)
    console.print("phases: " + ", ".join(f"{k} {v:.1f} s" for k, v in report.seconds.items()))


def show_status(args: argparse.Namespace) -> int:
    settings = _settings(args)
    app = open_application(settings)
    engine = open_read_store(settings.database_url)
    try:
        install(engine)
        rows = [s.as_dict() for s in status(app, engine, PROJECTIONS.values())]
    finally:
        engine.dispose()
        app.close()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = Table()
    for column in ("read model", "version", "code version", "generation", "position", "lag"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["name"],
            str(r["version"]),
            str(r["code_version"]),
            str(r["generation"]),
            f"{r['position']:,}",
            f"{r['lag']:,}",
        )
    Console().print(table)
    return 0
