"""``settlement municipality rename NUMBER NAME`` and ``settlement municipality names FILE``: the
operator names municipalities that an import registered as "kommune NNNN" (or that a reform renamed).

A names file is CSV with a header naming a number column (``code``, ``kommunenummer``, ``kommune_nr``
or ``kommune_id``) and a name column (``name``, ``navn`` or ``kommunenavn``), separated by ``;`` or
``,``: for instance Statistics Norway's classification of municipalities as exported from KLASS. Every
municipality of the file that the store knows under another name is renamed; numbers the store does
not know are listed and left alone. Each renaming is an event (``MunicipalityRenamed``) with the
operator as actor.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import io
import re
from pathlib import Path

from api.bootstrap import open_application
from api.cli.language import _
from api.cli.main import UsageError
from api.settings import Settings
from settlement_domain import commands as c
from settlement_domain.application import SettlementApp
from settlement_domain.bulk import bulk_run
from settlement_domain.context import Actor, CommandContext, Role
from settlement_domain.errors import NotFound

NUMBER_COLUMNS = ("code", "kommunenummer", "kommune_nr", "kommune_id", "number")
NAME_COLUMNS = ("name", "navn", "kommunenavn")
NUMBER = re.compile(r"^[0-9]{4}\Z")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("municipality", help="name municipalities in the registry (imdi)")
    commands = parser.add_subparsers(dest="municipality_command", required=True, metavar="ACTION")
    rename = commands.add_parser("rename", help="give one municipality its name")
    rename.add_argument("number", help="4-digit municipality number")
    rename.add_argument("name", help="the municipality's name, for instance Lillestrøm")
    rename.add_argument("--database-url", help="the store (default: SETTLEMENT_DATABASE_URL)")
    rename.set_defaults(func=run_rename)
    names = commands.add_parser(
        "names", help="name every municipality of a CSV file (number and name columns)"
    )
    names.add_argument(
        "file", type=Path, help="CSV with a number column (code/kommunenummer) and a name column"
    )
    names.add_argument("--database-url", help="the store (default: SETTLEMENT_DATABASE_URL)")
    names.set_defaults(func=run_names)


def _app(args: argparse.Namespace) -> SettlementApp:
    settings = Settings()
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    return open_application(settings)


def _operator() -> CommandContext:
    return CommandContext(
        actor=Actor(f"operator:{getpass.getuser()}", Role.IMDI), correlation_id="cli-municipality"
    )


def run_rename(args: argparse.Namespace) -> int:
    app = _app(args)
    try:
        renamed = app.handle(_operator(), c.RenameMunicipality(args.number, args.name)).extra["renamed"]
    finally:
        app.close()
    name = args.name.strip()
    if renamed:
        print(_("%(number)s is now named %(name)s.", number=args.number, name=name))
    else:
        print(_("%(number)s is already named %(name)s.", number=args.number, name=name))
    return 0


def read_names(content: bytes, file_name: str) -> dict[str, str]:
    """Number -> name from a names file; a file without the two columns is a usage error."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(_("%(file)s: the file is not UTF-8 text", file=file_name)) from None
    first = text.splitlines()[0] if text.strip() else ""
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=";" if first.count(";") > first.count(",") else ","
    )
    header = [cell.strip().lower() for cell in next(reader, [])]
    number_at = next((header.index(n) for n in NUMBER_COLUMNS if n in header), None)
    name_at = next((header.index(n) for n in NAME_COLUMNS if n in header), None)
    if number_at is None or name_at is None:
        raise UsageError(
            _(
                "%(file)s: the header needs a number column (%(numbers)s) and a name column (%(names)s)",
                file=file_name,
                numbers="/".join(NUMBER_COLUMNS),
                names="/".join(NAME_COLUMNS),
            )
        )
    names: dict[str, str] = {}
    for row in reader:
        if len(row) <= max(number_at, name_at):
            continue
        number, name = row[number_at].strip(), row[name_at].strip()
        if NUMBER.match(number) and name:
            names[number] = name
    return names


def run_names(args: argparse.Namespace) -> int:
    try:
        content = args.file.read_bytes()
    except OSError as error:
        reason = error.strerror or _("cannot be read")
        raise UsageError(f"{args.file}: {reason}") from None
    names = read_names(content, args.file.name)
    app = _app(args)
    renamed, unknown = [], []
    try:
        with bulk_run(app) as run:
            for number, name in sorted(names.items()):
                try:
                    current = app.municipality(number)
                except NotFound:
                    unknown.append(number)
                    continue
                if current.name != name:
                    run.handle(_operator(), c.RenameMunicipality(number, name))
                    renamed.append(number)
    finally:
        app.close()
    print(_("%(file)s: %(count)s municipalities, %(renamed)s renamed, %(same)s already so named, %(unknown)s "
            "unknown to the store", file=args.file.name, count=len(names), renamed=len(renamed),
            same=len(names) - len(renamed) - len(unknown), unknown=len(unknown))
          + (f" ({', '.join(unknown[:20])}{' …' if len(unknown) > 20 else ''})" if unknown else ""))  # fmt: skip
    return 0
