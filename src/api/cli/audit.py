"""``settlement audit verify``: walk the hash chain over the log (R20), then replay the log and
compare it with the read models, row by row.
``settlement audit checkpoint``: link the log up to its head and sign the chain's head (R20).
``settlement audit replay``: a person's case or a municipality's places as of a past moment (R14).

``verify`` exits 0 when the log is intact and every read model agrees with it, 1 when the chain or a
checkpoint names a bad position or any read model differs (or cannot be compared).
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
from api.cli.language import _, text
from api.keys import signing_key, verifying_key
from api.settings import Settings
from api.web.i18n import N_
from projections.catalog import PROJECTIONS, select_projections
from projections.engine import chain as event_chain
from projections.engine.chain import (
    ADDED,
    ALTERED,
    REMOVED,
    ChainProblem,
    ChainReport,
    Checkpoint,
    CheckpointVerdict,
)
from projections.engine.store import open_read_store
from projections.engine.verify import EXTRA, LISTED, MISSING, RowDifference, VerifyReport, verify
from settlement_domain import rules
from settlement_domain.bulk import paused_garbage_collector
from settlement_domain.errors import NotFound
from settlement_domain.personal_keys import ERASED_NAME
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
        "with the log position of the last event that wrote it. First it walks the hash chain over the "
        "log (R20) and checks the signed checkpoints: the first position where an event was altered, "
        "removed, added or reordered is named. Writes nothing: safe on a live store. "
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
    verify_parser.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="LINE",
        help="a checkpoint line kept outside the database (from settlement audit checkpoint; repeatable)",
    )
    verify_parser.add_argument(
        "--checkpoints-file",
        metavar="FILE",
        help="a file of checkpoint lines kept outside the database, one a line",
    )
    verify_parser.add_argument(
        "--public-key",
        metavar="HEX",
        help="the checkpoint key's public half (default SETTLEMENT_CHECKPOINT_PUBLIC_KEY, else the key file's)",
    )
    verify_parser.add_argument(
        "--chain-only", action="store_true", help="walk the hash chain only; compare no read model"
    )
    verify_parser.set_defaults(func=run_verify)

    checkpoint_parser = actions.add_parser(
        "checkpoint",
        help="link the log up to its head and sign the chain's head (print the line, keep it elsewhere)",
        description="Links every event not linked yet into the hash chain (R20), then signs the chain's "
        "head (position and link) with the Ed25519 key of SETTLEMENT_CHECKPOINT_KEY_FILE (created, mode "
        "0600, on first use). The checkpoint is stored in the database and printed as one line: keep "
        "the line, and the public key, outside the database; settlement audit verify --checkpoint LINE "
        "checks the log against it.",
    )
    checkpoint_parser.add_argument("--json", action="store_true", help="print the checkpoint as JSON")
    checkpoint_parser.add_argument("--database-url", help="store to use instead of SETTLEMENT_DATABASE_URL")
    checkpoint_parser.set_defaults(func=run_checkpoint)

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


def _given_checkpoints(args: argparse.Namespace) -> list[Checkpoint]:
    lines = list(args.checkpoint)
    if args.checkpoints_file:
        try:
            with open(args.checkpoints_file, encoding="utf-8") as file:
                lines += [line for line in file if line.strip() and not line.lstrip().startswith("#")]
        except OSError:
            raise ValueError(
                _("--checkpoints-file %(file)s cannot be read", file=args.checkpoints_file)
            ) from None
    checkpoints = []
    for line in lines:
        try:
            checkpoints.append(Checkpoint.parse(line))
        except ValueError as error:
            raise ValueError(_("--checkpoint: %(problem)s", problem=text(str(error)))) from None
    return checkpoints


def run_verify(args: argparse.Namespace) -> int:
    if args.limit < 0:
        raise ValueError(_("--limit must be 0 or more"))
    settings = Settings()
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    chosen = select_projections(args.names)
    given = _given_checkpoints(args)
    public_key = verifying_key(settings, args.public_key)
    app = open_application(settings)
    engine = open_read_store(settings.database_url)
    report: VerifyReport | None = None
    try:
        chain = _walk_chain(app, engine, public_key, given, args.limit)
        if not args.chain_only:
            report = _verify_read_models(app, engine, chosen, args.limit)
    finally:
        engine.dispose()
        app.close()
    if args.json:
        answer: dict[str, Any] = {"chain": chain.as_dict()}
        if report is not None:
            answer |= report.as_dict()
            answer["equal"] = report.equal and chain.intact
        print(json.dumps(answer, indent=2))
    else:
        console = Console()
        # Piped output (a log, a file) is not cut to 80 columns: the table stays whole.
        console = console if console.is_terminal else Console(width=120)
        print_chain(chain, public_key is not None, console)
        if report is not None:
            print_report(report, console)
    return 0 if chain.intact and (report is None or report.equal) else 1


def _walk_chain(app: Any, engine: Any, public_key: Any, given: list[Checkpoint], listed: int) -> ChainReport:
    with Progress(
        TextColumn(_("walking the hash chain")),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} " + _("events")),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("chain", total=app.position() or 1)
        return event_chain.verify_chain(
            app,
            engine,
            public_key=public_key,
            given=given,
            listed=max(listed, 1),
            progress=lambda done, total: progress.update(task, completed=done, total=max(total, 1)),
        )


def print_chain(chain: ChainReport, key_at_hand: bool, console: Console) -> None:
    seconds = f"{chain.seconds:.1f}"
    console.print(
        _(
            "Hash chain (R20): %(events)s events in the log, %(linked)s linked, %(unlinked)s not linked yet, "
            "%(checkpoints)s checkpoints, %(seconds)s s",
            events=chain.log_events,
            linked=chain.linked,
            unlinked=chain.unlinked,
            checkpoints=len(chain.checkpoints),
            seconds=seconds,
        ),
        highlight=False,
    )
    for problem in chain.first:
        console.print(f"[red]{escape(chain_problem(problem))}[/red]", highlight=False, soft_wrap=True)
    if chain.problems > len(chain.first):
        console.print(
            _("(%(count)s more positions not listed; see --limit)", count=chain.problems - len(chain.first))
        )
    for verdict in chain.checkpoints:
        colour = "green" if verdict.ok else "red"
        console.print(
            f"[{colour}]{escape(checkpoint_verdict(verdict))}[/{colour}]", highlight=False, soft_wrap=True
        )
    if chain.checkpoints and not key_at_hand:
        console.print(
            _(
                "checkpoint signatures not checked: no public key (--public-key or "
                "SETTLEMENT_CHECKPOINT_PUBLIC_KEY)"
            )
        )
    if chain.unlinked:
        console.print(
            _(
                "%(count)s events after the chain's head are not linked yet (the projection runner and "
                "settlement audit checkpoint link them)",
                count=chain.unlinked,
            )
        )
    if chain.intact:
        intact = _("the log is intact up to the chain's head")
        console.print(f"[green]{escape(intact)}[/green]")
    else:
        first = chain.first_bad_position
        message = (
            _("the log was altered; the first bad position is %(position)s", position=str(first))
            if first is not None
            else _("the log was altered")
        )
        console.print(f"[red]{escape(message)}[/red]", highlight=False)


CHAIN_PROBLEMS = {
    ALTERED: N_(
        "position %(position)s: the event there is not the one linked there (altered or moved), or its link "
        "was altered"
    ),
    REMOVED: N_("position %(position)s: the event linked there was removed from the log"),
    ADDED: N_("position %(position)s: an event was added to the log inside the linked range"),
}


def chain_problem(problem: ChainProblem) -> str:
    """One bad position of the chain, in the run's language (``--json`` keeps the English explanation)."""
    return _(CHAIN_PROBLEMS[problem.kind], position=str(problem.position))


CHECKPOINT_SOURCES = {"database": N_("stored in the database"), "given": N_("given outside the database")}
SIGNATURES = {
    "valid": N_("signature valid"),
    "invalid": N_("signature invalid"),
    "unknown key": N_("signed by an unknown key"),
    "not checked": N_("signature not checked"),
}


def checkpoint_verdict(verdict: CheckpointVerdict) -> str:
    checkpoint = verdict.checkpoint
    what = _(
        "checkpoint at position %(position)s signed %(signed_at)s (%(source)s)",
        position=str(checkpoint.position),
        signed_at=checkpoint.signed_at.isoformat(),
        source=_(CHECKPOINT_SOURCES.get(verdict.source, verdict.source)),
    )
    signature = _(SIGNATURES.get(verdict.signature, verdict.signature))
    if verdict.signature in ("invalid", "unknown key"):
        return f"{what}: {signature}"
    if verdict.log_matches is None:
        return _("%(what)s: the log no longer reaches its position (events removed at the end)", what=what)
    if not verdict.log_matches:
        return _("%(what)s: the log up to it no longer hashes to the signed link", what=what)
    return _("%(what)s: holds (%(signature)s)", what=what, signature=signature)


def run_checkpoint(args: argparse.Namespace) -> int:
    settings = Settings()
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    key, created = signing_key(settings)
    app = open_application(settings)
    engine = open_read_store(settings.database_url)
    try:
        event_chain.install(engine)
        signed = event_chain.checkpoint(app, engine, key)
    finally:
        engine.dispose()
        app.close()
    if args.json:
        print(
            json.dumps(
                {
                    "position": signed.position,
                    "link": signed.link.hex(),
                    "signed_at": signed.signed_at.isoformat(),
                    "public_key": signed.public_key,
                    "signature": signed.signature,
                    "line": signed.line(),
                    "key_created": created,
                },
                indent=2,
            )
        )
        return 0
    if created:
        print(
            _(
                "created the checkpoint key %(file)s (mode 0600); keep it off the database's disk",
                file=str(settings.checkpoint_key_file),
            )
        )
    print(
        _(
            "checkpoint of the log at position %(position)s, public key %(key)s",
            position=signed.position,
            key=signed.public_key,
        )
    )
    print(_("keep this line outside the database:"))
    print(signed.line())
    return 0


def _verify_read_models(app: Any, engine: Any, chosen: Any, limit: int) -> VerifyReport:
    with Progress(
        TextColumn(_("replaying")),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} " + _("events")),
        TextColumn("{task.fields[rate]:,.0f} " + _("events/s")),
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
            report = verify(app, engine, chosen, progress=advance, listed=limit)
        progress.update(task, completed=report.events, total=max(report.events, 1))
    return report


READ_MODEL_PROBLEMS = (  # verify's reasons a read model was not compared, translated by template
    N_("not installed (run settlement projections run)"),
    N_(
        "not comparable: version %(version)s, code version %(code)s (rebuild it: settlement projections "
        "rebuild %(name)s)"
    ),
)
DIFFERENCES = {MISSING: N_("missing"), EXTRA: N_("extra"), "changed": N_("changed")}


def row_difference(difference: RowDifference) -> str:
    """One differing row, in the run's language (``--json`` keeps the English explanation)."""
    key = ", ".join(str(value) for _name, value in difference.key)
    what = _(DIFFERENCES.get(difference.kind, difference.kind))
    if difference.columns:
        what += " " + ", ".join(
            _("%(column)s (values hidden)", column=c.column)
            if c.hidden
            else _("%(column)s view=%(view)s log=%(log)s", column=c.column, view=str(c.view), log=str(c.log))
            for c in difference.columns
        )
    if difference.position is None:
        why = _("no event in the log makes this row")
    elif difference.kind == EXTRA:
        why = _("the event at position %(position)s deleted this row", position=str(difference.position))
    else:
        why = _("last event at position %(position)s", position=str(difference.position))
    table = f"{difference.read_model}.{difference.table}"
    return _("%(table)s key=(%(key)s): %(what)s (%(why)s)", table=table, key=key, what=what, why=why)


def print_report(report: VerifyReport, console: Console) -> None:
    seconds = f"{report.seconds:.1f}"
    table = Table(
        title=_(
            "Read models against %(events)s events of the log (head %(head)s), %(seconds)s s",
            events=report.events,
            head=report.head,
            seconds=seconds,
        )
    )
    table.add_column(_("read model"), no_wrap=True)
    for column in (
        N_("position"), N_("rows in view"), N_("rows replayed"), N_("missing"), N_("extra"), N_("changed")
    ):  # fmt: skip
        table.add_column(_(column), justify="right")
    table.add_column(_("verdict"), no_wrap=True)
    for r in report.read_models:
        if r.problem is not None:
            verdict = "[red]" + _("not compared") + "[/red]"
        elif r.equal:
            verdict = "[green]" + _("equal") + "[/green]"
        else:
            verdict = "[red]" + _("differs") + "[/red]"
        position = "-" if r.position is None else f"{r.position:,}"
        counts = [
            "-" if r.problem is not None else f"{r.total(k):,}"
            for k in ("view_rows", "log_rows", "missing", "extra", "changed")
        ]
        table.add_row(r.name, position, *counts, verdict)
    console.print(table)
    for r in report.read_models:
        if r.problem is not None:
            console.print(escape(f"{r.name}: {text(r.problem)}"), highlight=False, soft_wrap=True)
    for difference in report.differences:
        console.print(escape(row_difference(difference)), highlight=False, soft_wrap=True)
    listed = len(report.differences)
    total = sum(r.total("missing") + r.total("extra") + r.total("changed") for r in report.read_models)
    if total > listed:
        console.print(_("(%(count)s more differing rows not listed; see --limit)", count=total - listed))
    if report.equal:
        console.print("[green]" + _("every read model agrees with the log") + "[/green]")
    else:
        console.print("[red]" + _("the read models differ from the log") + "[/red]")


# replay ------------------------------------------------------------------------------------------


def parse_instant(text: str | None, option: str = "--as-of") -> datetime | None:
    """An ISO 8601 moment, in UTC when it names no offset; ValueError (exit 2) naming the option."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            _("%(option)s is not an ISO 8601 time, like 2025-06-16T12:00:00+02:00", option=option)
        ) from None
    if not rules.EARLIEST_YEAR <= moment.year <= rules.LAST_YEAR:
        raise ValueError(
            _(
                "%(option)s must be between the years %(first)s and %(last)s",
                option=option,
                first=str(rules.EARLIEST_YEAR),
                last=str(rules.LAST_YEAR),
            )
        )
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _check_replay_args(args: argparse.Namespace) -> tuple[datetime | None, UUID | None]:
    as_of = parse_instant(args.as_of)
    person = None
    if args.person is not None:
        if args.year:
            raise ValueError(_("--year goes with --municipality"))
        try:
            person = UUID(args.person.strip())
        except ValueError:
            raise ValueError(_("--person is not an id (a UUID)")) from None
    else:
        rules.check_municipality_number(args.municipality, "municipality")
    for year in args.year or ():
        if not rules.FIRST_YEAR <= year <= rules.LAST_YEAR:
            raise ValueError(
                _(
                    "--year must be between %(first)s and %(last)s",
                    first=str(rules.FIRST_YEAR),
                    last=str(rules.LAST_YEAR),
                )
            )
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
            if answer["state"] is not None and app.family_label_erased(case):  # R18: erased with a member
                answer["state"]["family_id"] = ERASED_NAME
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
    clock = _(BY_WORDS.get(answer["by"], answer["by"]))
    if answer["as_of"] is None:
        return _("as of now (%(clock)s)", clock=clock)
    return _("as of %(moment)s (%(clock)s)", moment=answer["as_of"].isoformat(), clock=clock)


BY_WORDS = {"recorded": N_("recorded time"), "business": N_("business time")}
FACTS = {  # the facts of a replayed case (settlement_domain.replay.case_facts), as the table names them
    "version": N_("version"),
    "lived_privately": N_("lived privately"),
    "unaccompanied_minor": N_("unaccompanied minor"),
    "family_id": N_("family"),
    "proposed_to": N_("proposed to"),
    "selected_by": N_("selected by"),
    "selected_on": N_("selected on"),
    "selection_year": N_("selection year"),
    "decided_for": N_("decided for"),
    "decision_year": N_("decision year"),
    "place": N_("place"),
    "settlement_date": N_("settlement date"),
    "open_deviations": N_("open deviations"),
    "mapping_recorded": N_("mapping recorded"),
}


def _fact(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, dict):
        return f"{value['municipality']} {value['year']}"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or _("none")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def print_case(answer: dict[str, Any], console: Console) -> None:
    state = answer["state"]
    if state is None:
        console.print(
            _("person %(id)s: not registered %(moment)s", id=answer["refugee_id"], moment=_moment(answer)),
            highlight=False,
        )
        return
    table = Table(
        title=_(
            "Case of %(id)s %(moment)s, %(ms)s ms",
            id=answer["refugee_id"],
            moment=_moment(answer),
            ms=str(answer["milliseconds"]),
        )
    )
    table.add_column(_("fact"), no_wrap=True)
    table.add_column(_("value"))
    for name, value in state.items():
        if name == "refugee_id":
            continue
        label = _(FACTS[name]) if name in FACTS else name.replace("_", " ")
        table.add_row(label, escape(_fact(value)))
    console.print(table)


def _pair(persons: int | None, minors: int | None) -> str:
    if persons is None:
        return "-"
    return f"{persons} ({'-' if minors is None else minors})"


def print_places(answer: dict[str, Any], console: Console) -> None:
    table = Table(
        title=_(
            "Places of %(municipality)s %(moment)s: persons (of which unaccompanied minors); %(events)s events "
            "of %(streams)s streams read, %(ms)s ms",
            municipality=answer["municipality"],
            moment=_moment(answer),
            events=answer["events_read"],
            streams=answer["streams_read"],
            ms=str(answer["milliseconds"]),
        )
    )
    for column in (
        N_("year"), N_("requested"), N_("decided"), N_("settled"), N_("agreed"), N_("vacant"), N_("over quota")
    ):  # fmt: skip
        table.add_column(_(column), justify="right", no_wrap=True)
    table.add_column(_("historical"), no_wrap=True)
    for r in answer["rows"]:
        vacant = None
        if r["decided_persons"] is not None:
            vacant = (
                r["decided_persons"] - r["settled_persons"] - r["agreed_persons"],
                (r["decided_minors"] or 0) - r["settled_minors"] - r["agreed_minors"],
            )
        historical = [
            _(name)
            for name, flag in (
                (N_("request"), r["historical_request"]),
                (N_("decision"), r["historical_decision"]),
            )
            if flag
        ]
        if r["historical_settled"] is not None:
            historical.append(_("settled %(count)s", count=r["historical_settled"]))
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
        console.print(
            _("no places recorded for %(municipality)s %(moment)s", municipality=answer["municipality"],
              moment=_moment(answer)),
            highlight=False,
        )  # fmt: skip
