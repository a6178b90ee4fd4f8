"""``settlement erase`` and ``settlement keys``: a person's erasure (R18), the master key's rotation,
the expiry of read records (R14) and the key store's counts. See docs/privacy.md."""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import UUID

from api.bootstrap import open_application
from api.cli.language import _
from api.cli.letters import catch_up_letters
from api.cli.main import UsageError
from api.letters.erasure import erase_letter_files, undelivered_letters_lookup
from api.settings import Settings
from projections.engine.store import open_read_store
from projections.read_expiry import expire_reads
from settlement_domain import commands as c
from settlement_domain.application import SettlementApp
from settlement_domain.context import Actor, CommandContext, Role
from settlement_domain.errors import NotFound
from settlement_domain.personal_keys import PersonalKeys, master_key_from_text, previous_keys_file
from settlement_domain.read_retention import oldest_readable_month


def register(subparsers: argparse._SubParsersAction) -> None:
    erase = subparsers.add_parser(
        "erase", help="erase a person's personal data, or a support case's texts (R18, imdi)"
    )
    erase.add_argument("--person", help="the person's id (refugee_id)")
    erase.add_argument("--support-case", help="a support case's id: its subject, text and answers")
    erase.add_argument("--reason", required=True, help="why (naming no person: it is kept in the log)")
    erase.add_argument(
        "--legal-basis", default="GDPR art. 17", help="the legal basis (default: GDPR art. 17)"
    )
    erase.add_argument("--database-url", help="the store (default: SETTLEMENT_DATABASE_URL)")
    erase.set_defaults(func=run_erase)

    keys = subparsers.add_parser("keys", help="the key store: rotate the master key, expire read records")
    actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    rotate = actions.add_parser(
        "rotate-master", help="re-wrap every person's data key with a new master key (the log is untouched)"
    )
    rotate.add_argument("--database-url", help="the store (default: SETTLEMENT_DATABASE_URL)")
    rotate.set_defaults(func=run_rotate)
    retire = actions.add_parser(
        "retire-previous",
        help="re-wrap what is left under an old master key with the current one, then drop the old keys",
    )
    retire.add_argument("--database-url", help="the store (default: SETTLEMENT_DATABASE_URL)")
    retire.set_defaults(func=run_retire)
    expire = actions.add_parser(
        "expire", help="delete the keys of read records older than the retention period (R14)"
    )
    expire.add_argument("--database-url", help="the store (default: SETTLEMENT_DATABASE_URL)")
    expire.add_argument("--today", type=date.fromisoformat, help=argparse.SUPPRESS)
    expire.set_defaults(func=run_expire)
    status = actions.add_parser("status", help="how many data keys are held and erased")
    status.add_argument("--database-url", help="the store (default: SETTLEMENT_DATABASE_URL)")
    status.set_defaults(func=run_status)


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings()
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    return settings


def _keys(app: SettlementApp) -> PersonalKeys:
    if app.personal_keys is None:
        raise UsageError("this store keeps no data keys (an in-memory store)")
    return app.personal_keys


def run_erase(args: argparse.Namespace) -> int:
    if (args.person is None) == (args.support_case is None):
        raise UsageError("give either --person or --support-case")
    if args.support_case is not None:
        return _erase_support_case(args)
    try:
        person = UUID(args.person)
    except ValueError:
        raise UsageError("--person: not a person id") from None
    settings = _settings(args)
    app = open_application(settings)
    ctx = CommandContext(actor=Actor(f"operator:{getpass.getuser()}", Role.IMDI), correlation_id="cli-erase")
    engine = open_read_store(settings.database_url)
    app.letters_naming = undelivered_letters_lookup(app, engine)  # R18e
    catch_up_letters(app, engine)  # the letters read model reaches the log even with no service running
    try:
        if _erased_before(app, person):
            # Erased before: only the letter files are looked for again (a letter the read model had
            # not folded then).
            position = None
            done = _("Person %(person)s was erased before.", person=str(person))
        else:
            result = app.handle(ctx, c.ErasePersonalData(person, args.legal_basis, args.reason))
            position = result.position
            done = _(
                "Person %(person)s erased: the data key is deleted (log position %(position)s).",
                person=str(person),
                position=str(result.position),
            )
        files = erase_letter_files(engine, settings, person, position=position)
    finally:
        engine.dispose()
        app.close()
    print(done)
    print(
        _(
            "%(files)s files of %(letters)s letters naming the person removed from disk.",
            files=files.files,
            letters=files.letters,
        )
    )
    return 0


def _erase_support_case(args: argparse.Namespace) -> int:
    """R18: the case's key is deleted with ``SupportCaseTextsErased`` (same transaction)."""
    try:
        case = UUID(args.support_case)
    except ValueError:
        raise UsageError("--support-case: not a support case id") from None
    app = open_application(_settings(args))
    ctx = CommandContext(actor=Actor(f"operator:{getpass.getuser()}", Role.IMDI), correlation_id="cli-erase")
    try:
        result = app.handle(ctx, c.EraseSupportCaseTexts(case, args.legal_basis, args.reason))
    finally:
        app.close()
    print(
        _(
            "Support case %(case)s: its texts are erased, the key is deleted (log position %(position)s).",
            case=str(case),
            position=str(result.position),
        )
    )
    return 0


def _erased_before(app: SettlementApp, person: UUID) -> bool:
    try:
        return app.refugee(person).erased
    except NotFound:
        return False  # the erasure command says so


def run_rotate(args: argparse.Namespace) -> int:
    """Step 2 of a rotation (docs/privacy.md): every data key re-wrapped with the new master key. The
    old key stays accepted for unwrapping until ``keys retire-previous``: processes still running
    with it go on working (they take up a rotated key file within a minute)."""
    settings = _settings(args)
    app = open_application(settings)
    try:
        keys = _keys(app)
        if settings.master_key is not None:
            # The operator holds the master key: the new one comes the same way.
            if settings.new_master_key is None:
                raise UsageError(
                    "SETTLEMENT_MASTER_KEY is set: give the new one as SETTLEMENT_NEW_MASTER_KEY"
                )
            count = keys.rotate_master(master_key_from_text(settings.new_master_key.get_secret_value()))
            print(
                f"{count} data keys re-wrapped. Now, for every process of this store, set "
                "SETTLEMENT_MASTER_KEY to the new key and SETTLEMENT_MASTER_KEY_PREVIOUS to the old one "
                "(drop SETTLEMENT_NEW_MASTER_KEY), restart them, then run `settlement keys retire-previous`."
            )
            return 0
        # The key file: the new key is written beside it first (a crash leaves both readable), the
        # keys re-wrapped, the old key kept in the .previous file, then the new file takes the old
        # one's place.
        path = Path(settings.master_key_file)
        twin = path.with_name(path.name + ".new")
        previous = previous_keys_file(path)
        if not twin.exists():
            fd = os.open(twin, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_urlsafe(32))
        count = keys.rotate_master(master_key_from_text(twin.read_text()))
        old = path.read_text().strip()
        kept = previous.read_text() if previous.exists() else ""
        if old not in kept.split():
            fd = os.open(previous, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a") as file:
                file.write(old + "\n")
                file.flush()
                os.fsync(file.fileno())
        os.replace(twin, path)
    finally:
        app.close()
    print(
        f"{count} data keys re-wrapped with a new master key in {path} (back it up). The old key is kept "
        f"in {previous} for the processes still running with it: once each was restarted (or a minute "
        "later), run `settlement keys retire-previous`."
    )
    return 0


def run_retire(args: argparse.Namespace) -> int:
    """Step 3 of a rotation: what processes wrapped with an old master key meanwhile is re-wrapped with
    the current one, then the old keys are dropped (the .previous key file is deleted)."""
    settings = _settings(args)
    app = open_application(settings)
    try:
        keys = _keys(app)
        count = keys.rotate_master(keys.masters[keys.current_master])
        left = keys.wrapped_by_others()
    finally:
        app.close()
    if left:
        print(
            f"{left} data keys are still wrapped by an old master key (a process still uses it): run again."
        )
        return 1
    if settings.master_key is not None:
        print(
            f"{count} data keys re-wrapped; none is left under an old key: unset SETTLEMENT_MASTER_KEY_PREVIOUS."
        )
        return 0
    previous = previous_keys_file(Path(settings.master_key_file))
    previous.unlink(missing_ok=True)
    print(f"{count} data keys re-wrapped; none is left under an old key: {previous} deleted.")
    return 0


def run_expire(args: argparse.Namespace) -> int:
    """R14: deletes the month keys of read records older than the retention period, then rebuilds the
    audit trail, whose index of reads by person no longer holds the expired reads' persons; the same
    round as the projection runner's (projections/read_expiry.py), which waits here for a runner's
    round in progress and finishes one that was interrupted."""
    settings = _settings(args)
    app = open_application(settings)
    try:
        _keys(app)
        today = args.today or app.clock()
        now = datetime.now(UTC).date()  # the month read records are written in now (R14)
        engine = open_read_store(settings.database_url)
        try:
            outcome = expire_reads(
                app,
                engine,
                today=today,
                years=settings.read_retention_years,
                now=max(now, app.clock()),
                wait=True,
            )
        finally:
            engine.dispose()
    finally:
        app.close()
    oldest = oldest_readable_month(today, settings.read_retention_years)
    print(
        f"{len(outcome.expired)} month keys of read records deleted; read records from {oldest} on stay "
        f"readable ({settings.read_retention_years} years)"
        + ("; the audit trail was rebuilt." if outcome.rebuilt else ".")
    )
    return 0


def run_status(args: argparse.Namespace) -> int:
    app = open_application(_settings(args))
    try:
        held, erased = _keys(app).counts()
    finally:
        app.close()
    print(f"{held} data keys held, {erased} erased or expired.")
    return 0
