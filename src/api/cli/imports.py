"""``settlement import FILE``: load a file of IMDi's history into the log, then bring the read models level."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

from api.bootstrap import open_application
from api.cli.language import _, text
from api.cli.main import UsageError
from api.imports.backfill import ImportReport, import_file
from api.imports.imdi_long import NotThisFormat
from api.settings import Settings
from projections.catalog import PROJECTIONS
from projections.engine.rebuild import rebuild_outdated
from projections.engine.runner import Runner
from projections.engine.store import open_read_store
from settlement_domain.bulk import paused_garbage_collector

LISTED = 20  # bad rows, conflicts and mismatches printed; --json has them all


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import",
        help="import a file of IMDi's history (R15); the same file again changes nothing",
        description="Validates every row first: a file with bad rows or conflicting figures imports nothing "
        "unless --skip-invalid (the good rows) or --revise (the conflicting figures as revisions).",
    )
    parser.add_argument("file", type=Path, help="IMDi's statistics in long format (CSV), or a person-level "
                        "history (JSON lines, .jsonl)")  # fmt: skip
    parser.add_argument("--dry-run", action="store_true", help="validate and count, store nothing")
    parser.add_argument("--skip-invalid", action="store_true", help="import the good rows, list the others")
    parser.add_argument("--revise", metavar="REASON", help="record figures that differ from the stored ones "
                        "as revisions, with this reason")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument("--database-url", help="the store (default: SETTLEMENT_DATABASE_URL)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.revise is not None and not args.revise.strip():
        raise UsageError(_("--revise needs a reason"))
    try:
        content = args.file.read_bytes()
    except OSError as error:
        reason = error.strerror or _("cannot be read")
        raise UsageError(f"{args.file}: {reason}") from None
    settings = Settings()
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    app = open_application(settings)
    console = Console(stderr=True)
    try:
        with Progress(TextColumn("importing"), BarColumn(), TaskProgressColumn(),
                      TextColumn("{task.completed:,.0f}/{task.total:,.0f} rows"), console=console,
                      transient=True) as progress:  # fmt: skip
            task = progress.add_task("import", total=0)
            try:
                with paused_garbage_collector():
                    report = import_file(
                        app, content, args.file.name, dry_run=args.dry_run, skip_invalid=args.skip_invalid,
                        revise_reason=args.revise, progress=lambda done, total: progress.update(
                            task, completed=done, total=total),
                    )  # fmt: skip
            except NotThisFormat as error:
                raise UsageError(f"{args.file.name}: {error}") from None
        level = _bring_read_models_level(app, settings) if report.imported else None
        if args.json:
            print(json.dumps({**report.as_dict(), "read_models": level}, indent=2, default=str))
        else:
            _print(report, level, Console())
        return 2 if report.refused else 0
    finally:
        app.close()


def _bring_read_models_level(app: Any, settings: Settings) -> dict[str, Any]:
    """Folds the imported events into the read models: a catch-up, faster than a rebuild for what an
    import appends; the live runner of a serving process does the same, and reads go on meanwhile."""
    engine = open_read_store(settings.database_url)
    started = time.perf_counter()
    try:
        with paused_garbage_collector():
            rebuilt = rebuild_outdated(app, engine, PROJECTIONS.values())
            runner = Runner(app, engine, PROJECTIONS.values())
            try:
                events = runner.catch_up()
            finally:
                runner.release()
    finally:
        engine.dispose()
    return {
        "caught_up": list(PROJECTIONS),
        "events": events,
        "seconds": round(time.perf_counter() - started, 2),
        "rebuilt": [p.name for p in rebuilt.projections] if rebuilt else [],
    }


def _print(report: ImportReport, level: dict[str, Any] | None, console: Console) -> None:
    """The report in the run's language (bokmål unless --lang en); --json gives it in the API's terms."""
    if report.already_imported:
        console.print(_("%(file)s: already imported (checksum %(checksum)s…); nothing appended.",
                        file=report.file_name, checksum=report.checksum[:12]))  # fmt: skip
        return
    if report.dry_run:
        verb = _("would record")
    else:
        verb = _("recorded") if report.imported else _("did not import")
    if report.file_format == "person-history":
        console.print(_("%(file)s (%(format)s, %(rows)s lines): %(verb)s %(recorded)s facts; %(unchanged)s already "
                        "stored.", file=report.file_name, format=report.file_format, rows=report.rows, verb=verb,
                        recorded=report.recorded, unchanged=report.unchanged))  # fmt: skip
    else:
        console.print(_("%(file)s (%(format)s, %(rows)s rows): %(verb)s %(recorded)s figures; %(unchanged)s already "
                        "stored, %(revised)s revised; skipped %(derived)s derived and %(other)s other-breakdown rows; "
                        "%(missing)s rows had no figure ('.').", file=report.file_name, format=report.file_format,
                        rows=report.rows, verb=verb, recorded=report.recorded, unchanged=report.unchanged,
                        revised=report.revised, derived=report.derived_rows, other=report.other_levels,
                        missing=report.missing_figures))  # fmt: skip
    if report.municipalities_registered:
        console.print(_("registered %(count)s municipalities unknown to the store (named 'kommune NNNN': name them "
                        "with `settlement municipality rename` or `names FILE`)",
                        count=len(report.municipalities_registered)))  # fmt: skip

    def mismatch(m: dict[str, Any]) -> str:
        where = _("the nation") if m["county"] == "00" else _("county %(county)s", county=m["county"])
        return _("%(year)s %(where)s %(kind)s: file %(total)s, municipalities %(sum)s", year=str(m["year"]),
                 where=where, kind=text(m["kind"]), total=m["file_total"], sum=m["municipality_sum"])  # fmt: skip

    for title, items, line in (
        (_("bad rows"), report.bad_rows, lambda b: _("line %(line)s: %(reason)s", line=str(b["line"]),
                                                     reason=text(b["reason"]))),
        (_("conflicts with what is stored (statistics and settlement dates: import with --revise REASON)"),
         report.conflicts,
         lambda c: _("line %(line)s: %(reason)s", line=str(c["line"]), reason=text(c["message"]))),
        (_("totals in the file that its municipality rows do not add up to (imported as they are)"),
         report.mismatches, mismatch),
    ):  # fmt: skip
        if items:
            console.print(f"{len(items)} {title}:")
            for item in items[:LISTED]:
                console.print(f"  {line(item)}")
            if len(items) > LISTED:
                console.print(
                    "  " + _("… and %(count)s more (--json lists them all)", count=len(items) - LISTED)
                )
    if report.refused:
        console.print(_("Nothing was imported. Fix the file, or use --skip-invalid to import the good rows."))
    if level is not None:
        rebuilt = (
            _(" (rebuilt for new code: %(names)s)", names=", ".join(level["rebuilt"]))
            if level["rebuilt"]
            else ""
        )
        console.print(_("read models caught up with %(events)s events in %(seconds)s s%(rebuilt)s: %(names)s",
                        events=level["events"], seconds=str(level["seconds"]), rebuilt=rebuilt,
                        names=", ".join(level["caught_up"])))  # fmt: skip
