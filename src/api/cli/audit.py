"""``settlement audit verify``: replay the log and compare it with the read models, row by row.
``settlement audit replay``: a person's case or a municipality's places as of a past moment (R14).

``verify`` exits 0 when every read model agrees with the log, 1 when any differs (or cannot be compared).
``replay`` reads the log (the aggregates' own streams), never the read models; bad input exits 2.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from api.bootstrap import open_application
from api.settings import Settings
from projections.catalog import PROJECTIONS, select_projections
from projections.engine.store import open_read_store
from projections.engine.verify import LISTED, VerifyReport, verify
from settlement_domain import rules
from settlement_domain.bulk import paused_garbage_collector
from settlement_domain.errors import NotFound
from settlement_domain.replay import BY, case_as_of, case_facts, replay_places


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="check the read models against the log, or replay the past from it",
        description="Audits of the store: the read models against a replay of the log, and the past as the log tells it.",
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

    replay_parser = actions.add_parser(
        "replay",
        help="a person's case or a municipality's places as of a past moment, replayed from the log",
        description="Replays one person's case, or one municipality's places per year (R10), as they "
        "stood at --as-of (default now), from the log itself (the aggregates' own streams, never the "
        "read models). By recorded time (default) the log counts as it was recorded by then; by "
        "business time every fact recorded so far counts from its own date (a decision from its "
        "decision date, a selection from its day, a settlement from the settlement date; facts "
        "without a date from their recorded time). A person's replay shows the facts of the case "
        "only: no name, birth date or address. Writes nothing: safe on a live store.",
    )
    who = replay_parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--person", metavar="ID", help="the person's id (a UUID)")
    who.add_argument("--municipality", metavar="N", help="the municipality's 4-digit number, like 0301")
    replay_parser.add_argument(
        "--as-of",
        metavar="TIME",
        help="the moment, ISO 8601 (2025-06-16T12:00:00+02:00; UTC when it names no offset; a date "
        "alone is its start, 00:00 UTC); default now",
    )
    replay_parser.add_argument(
        "--by", choices=BY, default="recorded", help="the clock of --as-of (default recorded)"
    )
    replay_parser.add_argument(
        "--year",
        type=int,
        action="append",
        metavar="Y",
        help="only this year of the municipality's places (repeatable; default every year)",
    )
    replay_parser.add_argument("--json", action="store_true", help="print the answer as one JSON object")
    replay_parser.add_argument("--database-url", help="store to use instead of SETTLEMENT_DATABASE_URL")
    replay_parser.set_defaults(func=run_replay)


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


# replay ------------------------------------------------------------------------------------------


def parse_instant(text: str | None, option: str = "--as-of") -> datetime | None:
    """An ISO 8601 moment, in UTC when it names no offset; ValueError (exit 2) naming the option."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{option} is not an ISO 8601 time, like 2025-06-16T12:00:00+02:00") from None
    if not rules.EARLIEST_YEAR <= moment.year <= rules.LAST_YEAR:
        raise ValueError(f"{option} must be between the years {rules.EARLIEST_YEAR} and {rules.LAST_YEAR}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _check_replay_args(args: argparse.Namespace) -> tuple[datetime | None, UUID | None]:
    as_of = parse_instant(args.as_of)
    person = None
    if args.person is not None:
        if args.year:
            raise ValueError("--year goes with --municipality")
        try:
            person = UUID(args.person.strip())
        except ValueError:
            raise ValueError("--person is not an id (a UUID)") from None
    else:
        rules.check_municipality_number(args.municipality, "municipality")
    for year in args.year or ():
        if not rules.FIRST_YEAR <= year <= rules.LAST_YEAR:
            raise ValueError(f"--year must be between {rules.FIRST_YEAR} and {rules.LAST_YEAR}")
    return as_of, person


def _plain(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def run_replay(args: argparse.Namespace) -> int:
    as_of, person = _check_replay_args(args)
    settings = Settings()
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    app = open_application(settings)
    try:
        started = time.perf_counter()
        if person is not None:
            case = case_as_of(app, person, as_of, by=args.by)
            if case is None and app.case_as_of(person, None) is None:
                raise NotFound("person", str(person))
            answer: dict[str, Any] = {"refugee_id": str(person), "as_of": as_of, "by": args.by}
            answer["state"] = case_facts(case)
        else:
            replay = replay_places(app, args.municipality, as_of, by=args.by, years=args.year)
            answer = {
                "municipality": args.municipality, "as_of": as_of, "by": args.by, "rows": replay.rows,
                "streams_read": replay.cost.streams, "events_read": replay.cost.events,
            }  # fmt: skip
        answer["milliseconds"] = round((time.perf_counter() - started) * 1000, 1)
    finally:
        app.close()
    if args.json:
        print(json.dumps(answer, indent=2, default=_plain))
        return 0
    console = Console()
    console = console if console.is_terminal else Console(width=120)
    if person is not None:
        print_case(answer, console)
    else:
        print_places(answer, console)
    return 0


def _moment(answer: dict[str, Any]) -> str:
    when = "now" if answer["as_of"] is None else answer["as_of"].isoformat()
    return f"as of {when} ({answer['by']} time)"


def print_case(answer: dict[str, Any], console: Console) -> None:
    state = answer["state"]
    if state is None:
        console.print(f"person {answer['refugee_id']}: not registered {_moment(answer)}", highlight=False)
        return
    table = Table(title=f"Case of {answer['refugee_id']} {_moment(answer)}, {answer['milliseconds']} ms")
    table.add_column("fact", no_wrap=True)
    table.add_column("value")
    for name, value in state.items():
        if name == "refugee_id":
            continue
        if isinstance(value, dict):
            value = f"{value['municipality']} {value['year']}"
        elif isinstance(value, list):
            value = ", ".join(value) or "none"
        elif isinstance(value, date):
            value = value.isoformat()
        table.add_row(name.replace("_", " "), escape("-" if value is None else str(value)))
    console.print(table)


def _pair(persons: int | None, minors: int | None) -> str:
    if persons is None:
        return "-"
    return f"{persons} ({'-' if minors is None else minors})"


def print_places(answer: dict[str, Any], console: Console) -> None:
    table = Table(
        title=f"Places of {answer['municipality']} {_moment(answer)}: persons (of which unaccompanied "
        f"minors); {answer['events_read']:,} events of {answer['streams_read']:,} streams read, "
        f"{answer['milliseconds']} ms"
    )
    for column in ("year", "requested", "decided", "settled", "agreed", "vacant", "over quota"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("historical", no_wrap=True)
    for r in answer["rows"]:
        vacant = None
        if r["decided_persons"] is not None:
            vacant = (
                r["decided_persons"] - r["settled_persons"] - r["agreed_persons"],
                (r["decided_minors"] or 0) - r["settled_minors"] - r["agreed_minors"],
            )
        historical = [
            name
            for name, flag in (("request", r["historical_request"]), ("decision", r["historical_decision"]))
            if flag
        ]
        if r["historical_settled"] is not None:
            historical.append(f"settled {r['historical_settled']}")
        table.add_row(
            str(r["year"]),
            _pair(r["requested_persons"], r["requested_minors"]),
            _pair(r["decided_persons"], r["decided_minors"]),
            _pair(r["settled_persons"], r["settled_minors"]),
            _pair(r["agreed_persons"], r["agreed_minors"]),
            "-" if vacant is None else _pair(*vacant),
            _pair(r["over_quota_persons"], r["over_quota_minors"]),
            ", ".join(historical) or "-",
        )
    console.print(table)
    if not answer["rows"]:
        console.print(f"no places recorded for {answer['municipality']} {_moment(answer)}", highlight=False)
