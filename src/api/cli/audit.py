"""``settlement audit verify``: replay the log and compare it with the read models, row by row.

Exit code 0 when every read model agrees with the log, 1 when any differs (or cannot be compared).
"""

from __future__ import annotations

import argparse
import json
import time

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from api.bootstrap import open_application
from api.settings import Settings
from projections.catalog import PROJECTIONS, select_projections
from projections.engine.store import open_read_store
from projections.engine.verify import LISTED, VerifyReport, verify
from settlement_domain.bulk import paused_garbage_collector


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="check the read models against the log",
        description="Audits of the store: the read models against a replay of the log.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    verify_parser = actions.add_parser(
        "verify",
        help="replay the log and compare every read model with it, row by row (exit 1 on a difference)",
        description="Replays the whole log in memory and compares each read model's serving tables with "
        "it, table by table, at the read model's own position. Each differing row is named by its key, "
        "with the log position of the last event that wrote it. Writes nothing: safe on a live store. "
        "Values of columns that may hold personal data (free text, JSON, calendar dates) are not printed.",
    )
    verify_parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"read models to verify (default all: {', '.join(PROJECTIONS)})",
    )
    verify_parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    verify_parser.add_argument("--database-url", help="store to use instead of SETTLEMENT_DATABASE_URL")
    verify_parser.add_argument(
        "--limit",
        type=int,
        default=LISTED,
        help=f"differing rows listed per table and kind (default {LISTED}; the counts are always complete)",
    )
    verify_parser.set_defaults(func=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    if args.limit < 0:
        raise ValueError("--limit must be 0 or more")
    settings = Settings()
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    chosen = select_projections(args.names)
    app = open_application(settings)
    engine = open_read_store(settings.database_url)
    try:
        with Progress(
            TextColumn("replaying"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} events"),
            TextColumn("{task.fields[rate]:,.0f} events/s"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        ) as progress:
            task = progress.add_task("verify", total=app.position() or 1, rate=0.0)
            started = time.perf_counter()

            def advance(done: int, total: int) -> None:
                elapsed = time.perf_counter() - started
                progress.update(
                    task, completed=done, total=max(total, 1), rate=done / elapsed if elapsed else 0.0
                )

            with paused_garbage_collector():
                report = verify(app, engine, chosen, progress=advance, listed=args.limit)
            progress.update(task, completed=report.events, total=max(report.events, 1))
    finally:
        engine.dispose()
        app.close()
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        console = Console()
        # Piped output (a log, a file) is not cut to 80 columns: the table stays whole.
        print_report(report, console if console.is_terminal else Console(width=120))
    return 0 if report.equal else 1


def print_report(report: VerifyReport, console: Console) -> None:
    table = Table(
        title=f"Read models against {report.events:,} events of the log (head {report.head:,}), "
        f"{report.seconds:.1f} s"
    )
    table.add_column("read model", no_wrap=True)
    for column in ("position", "rows in view", "rows replayed", "missing", "extra", "changed"):
        table.add_column(column, justify="right")
    table.add_column("verdict", no_wrap=True)
    for r in report.read_models:
        if r.problem is not None:
            verdict = "[red]not compared[/red]"
        elif r.equal:
            verdict = "[green]equal[/green]"
        else:
            verdict = "[red]differs[/red]"
        position = "-" if r.position is None else f"{r.position:,}"
        counts = [
            "-" if r.problem is not None else f"{r.total(k):,}"
            for k in ("view_rows", "log_rows", "missing", "extra", "changed")
        ]
        table.add_row(r.name, position, *counts, verdict)
    console.print(table)
    for r in report.read_models:
        if r.problem is not None:
            console.print(escape(f"{r.name}: {r.problem}"), highlight=False, soft_wrap=True)
    for difference in report.differences:
        console.print(escape(difference.describe()), highlight=False, soft_wrap=True)
    listed = len(report.differences)
    total = sum(r.total("missing") + r.total("extra") + r.total("changed") for r in report.read_models)
    if total > listed:
        console.print(f"({total - listed:,} more differing rows not listed; see --limit)")
    if report.equal:
        console.print("[green]every read model agrees with the log[/green]")
    else:
        console.print("[red]the read models differ from the log[/red]")
