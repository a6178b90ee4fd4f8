"""``settlement letters run|tick|open|retry`` (the outbox, R9) and ``settlement export letters`` (R17)."""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from rich.console import Console

from api.bootstrap import open_application
from api.cli.language import _
from api.cli.main import UsageError
from api.letters.archive import export_letters
from api.letters.channels import FileChannel
from api.letters.outbox import OUTBOX_ACTOR, Outbox, TickReport
from api.letters.render import Renderer
from api.settings import Settings
from projections.catalog import PROJECTIONS
from projections.engine.rebuild import rebuild_outdated
from projections.engine.runner import Runner
from projections.engine.store import open_read_store
from settlement_domain import commands as c
from settlement_domain.context import Actor, CommandContext, Role


def _instant(text: str) -> datetime:
    """An ISO time (``2025-06-18T09:00``, UTC unless it says otherwise)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("not an ISO time: %(text)s (like 2025-06-18T09:00)", text=repr(text))
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("not an ISO date: %(text)s (like 2025-01-01)", text=repr(text))
        ) from None


def _letter_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(_("not a letter id: %(text)s", text=repr(text))) from None


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "letters",
        help="the letter outbox: send, follow and fall back to post (R9)",
        description="The letter outbox (R9): sends issued letters through SvarUT (SETTLEMENT_SVARUT_URL) or "
        "the file channel, follows whether they were opened, and sends by post those not opened in 48 hours.",
    )
    parser.add_argument("--database-url", help="the store (default: SETTLEMENT_DATABASE_URL)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="tick every SETTLEMENT_LETTERS_POLL_SECONDS until stopped")
    run.set_defaults(func=run_outbox)
    tick = actions.add_parser("tick", help="one round: deadlines, opened letters and deliveries, then exit")
    tick.add_argument("--now", type=_instant, help="the time to act at (default: now), e.g. 2025-06-18T09:00")
    tick.add_argument("--json", action="store_true", help="print what was done as JSON")
    tick.set_defaults(func=tick_once)
    opened = actions.add_parser("open", help="mark a letter of the file channel opened (for trying it out)")
    opened.add_argument("letter_id", type=_letter_id, metavar="ID")
    opened.add_argument("--at", type=_instant, help="when it was opened (default: now)")
    opened.set_defaults(func=open_letter)
    retry = actions.add_parser(
        "retry", help="try a letter whose delivery failed again (after fixing the address)"
    )
    retry.add_argument("letter_id", type=_letter_id, metavar="ID")
    retry.set_defaults(func=retry_letter)

    export = subparsers.add_parser("export", help="exports for a records system (R17)")
    what = export.add_subparsers(dest="what", required=True, metavar="WHAT")
    letters = what.add_parser(
        "letters",
        help="a municipality's letters as PDF/A with manifest.csv (Noark 5)",
        description="Writes a municipality's letters as PDF/A files into DIR with manifest.csv "
        "(reference, date, kind, recipient, file, sha256). The export is recorded in the audit trail.",
    )
    letters.add_argument("--municipality", required=True, metavar="NNNN", help="the municipality's number")
    letters.add_argument("--since", type=_day, metavar="DATE", help="letters dated on or after this day")
    letters.add_argument("--database-url", help="the store (default: SETTLEMENT_DATABASE_URL)")
    letters.add_argument("dir", type=Path, metavar="DIR", help="the folder to write into")
    letters.set_defaults(func=export_letters_command)


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings()
    if getattr(args, "database_url", None):
        settings = settings.model_copy(update={"database_url": args.database_url})
    return settings


@contextmanager
def _opened(args: argparse.Namespace) -> Iterator[tuple[Settings, Any, Any]]:
    settings = _settings(args)
    app = open_application(settings)
    engine = open_read_store(settings.database_url)
    try:
        yield settings, app, engine
    finally:
        engine.dispose()
        app.close()


def catch_up_letters(app: Any, engine: Any) -> None:
    """The letters read model up to the log's head (where no other process keeps it)."""
    rebuild_outdated(app, engine, [PROJECTIONS["letters"]])
    runner = Runner(app, engine, [PROJECTIONS["letters"]])
    try:
        runner.catch_up()
    finally:
        runner.release()


def tick_once(args: argparse.Namespace) -> int:
    with _opened(args) as (settings, app, engine):
        catch_up_letters(app, engine)
        outbox = Outbox.from_settings(app, engine, settings)
        report = outbox.tick(args.now)
    if args.json:
        print(json.dumps(report.as_dict()))
    elif report.busy:
        Console().print(_("Another outbox worker is at work right now; nothing done."))
    else:
        Console().print(
            _(
                "%(sent)s sent, %(failed)s failed, %(opened)s opened, %(post)s sent by post after 48 hours "
                "unopened.",
                sent=report.dispatched,
                failed=report.failed,
                opened=report.opened,
                post=report.fell_back,
            )
        )
    return 0


def run_outbox(args: argparse.Namespace) -> int:
    with _opened(args) as (settings, app, engine):
        console = Console()
        outbox = Outbox.from_settings(app, engine, settings)
        seconds = f"{settings.letters_poll_seconds:g}"
        console.print(_("Letter outbox: one round every %(seconds)s s (Ctrl-C stops).", seconds=seconds))
        stop = outbox._stop
        while not stop.is_set():
            catch_up_letters(app, engine)
            report = outbox.tick()
            if report.dispatched or report.failed or report.opened or report.fell_back:
                console.print(json.dumps(report.as_dict()))
            stop.wait(settings.letters_poll_seconds)
    return 0


def open_letter(args: argparse.Namespace) -> int:
    with _opened(args) as (settings, app, engine):
        files = FileChannel(settings.letters_outbox_dir)
        at = args.at or datetime.now(UTC)
        try:
            files.mark_opened(args.letter_id, at)
        except ValueError as error:
            raise UsageError(str(error)) from None
        outbox = Outbox.from_settings(app, engine, settings)
        report = TickReport()
        outbox.poll(args.letter_id, report)  # this letter only: the deadlines wait for the next tick
    Console().print(
        _(
            "Letter %(letter)s marked opened at %(at)s (%(count)s recorded).",
            letter=str(args.letter_id),
            at=at.isoformat(),
            count=report.opened,
        )
    )
    return 0


def retry_letter(args: argparse.Namespace) -> int:
    with _opened(args) as (_settings, app, _engine):
        ctx = CommandContext(OUTBOX_ACTOR, f"cli-{uuid.uuid4().hex[:12]}")
        app.handle(ctx, c.RetryLetterDelivery(args.letter_id))
    Console().print(
        _("Letter %(letter)s will be sent again at the outbox's next round.", letter=str(args.letter_id))
    )
    return 0


def export_letters_command(args: argparse.Namespace) -> int:
    with _opened(args) as (settings, app, engine):
        app.municipality(args.municipality)  # an unknown number: one line, exit code 2
        catch_up_letters(app, engine)
        written = export_letters(
            app, engine, Renderer(settings.letter_font_dir), args.municipality, args.since, args.dir
        )
        ctx = CommandContext(Actor("settlement-cli", Role.IMDI), f"cli-{uuid.uuid4().hex[:12]}")
        app.handle(ctx, c.RecordLettersExport(args.municipality, args.since, tuple(written.letter_ids)))
    Console().print(
        _(
            "%(count)s letters and %(manifest)s written to %(dir)s.",
            count=len(written.files),
            manifest=written.manifest.name,
            dir=str(args.dir),
        )
    )
    return 0
