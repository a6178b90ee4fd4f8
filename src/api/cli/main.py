"""The ``settlement`` command line: one dispatcher; each subcommand has its module in ``api.cli``.

Bad input prints one line naming the field or rule and exits with code 2; never a traceback. What a
caseworker reads is in bokmål unless ``--lang en`` (anywhere on the line) or ``SETTLEMENT_LANG=en``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

import psycopg
from eventsourcing.persistence import PersistenceError
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from api.cli import language
from api.cli.language import _
from settlement_domain.errors import DomainError, RuleViolation

# Each module registers its subcommands and sets ``func`` on them: func(args) -> exit code.
COMMAND_MODULES = (
    "api.cli.demo",
    "api.cli.token",
    "api.cli.serve",
    "api.cli.projections",
    "api.cli.bench",
    "api.cli.imports",
    "api.cli.audit",
    "api.cli.municipalities",
    "api.cli.letters",
    "api.cli.keys",
    "api.cli.store",
)


# The module registering each command: a command imports only its own module (a rebuild need not
# load the HTTP app); no command given, or one not listed here, loads them all (help, errors).
COMMANDS = {
    "demo": "api.cli.demo",
    "token": "api.cli.token",
    "serve": "api.cli.serve",
    "projections": "api.cli.projections",
    "bench": "api.cli.bench",
    "import": "api.cli.imports",
    "audit": "api.cli.audit",
    "municipality": "api.cli.municipalities",
    "letters": "api.cli.letters",
    "export": "api.cli.letters",
    "keys": "api.cli.keys",
    "erase": "api.cli.keys",
    "store": "api.cli.store",
}


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit code 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``--help`` still shows the usage)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        problem = language.text(message)  # argparse's English, by the templates of api.messages
        self.exit(2, _("%(prog)s: %(message)s (see --help)", prog=self.prog, message=problem) + "\n")


def _first_problem(error: ValidationError) -> str:
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"]) or "input"
    return f"{where}: {problem['msg']}"


def installed_version() -> str:
    """The version of the installed ``settlement`` package (pyproject.toml's ``version``)."""
    try:
        return version("settlement")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or (given the arguments) of the one command they name."""
    parser = OneLineParser(prog="settlement", description="Settlement of refugees in municipalities (IMDi).")
    parser.add_argument("--version", action="version", version=f"settlement {installed_version()}")
    parser.add_argument(
        "--lang", choices=("nb", "en"), help="the language of messages (default: SETTLEMENT_LANG, else nb)"
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    command = argv[0] if argv else None
    modules = [COMMANDS[command]] if command in COMMANDS else list(COMMAND_MODULES)
    for name in modules:
        importlib.import_module(name).register(subparsers)
    return parser


def _language_of(argv: Sequence[str]) -> list[str]:
    """Takes ``--lang X`` (or ``--lang=X``) from anywhere on the line before a ``--``, so it may follow
    the command (``settlement import FILE --lang en``); a missing value or one other than nb or en is a
    usage error (exit code 2), never taken as the next word of the command."""
    language.choose(None)
    rest: list[str] = []
    words = list(argv)
    at = 0
    while at < len(words):
        word = words[at]
        if word == "--":
            rest += words[at:]
            break
        if word == "--lang" or word.startswith("--lang="):
            value = word.partition("=")[2] if "=" in word else (words[at + 1] if at + 1 < len(words) else "")
            if value not in language.LOCALES:
                sys.stderr.write(
                    _(
                        "settlement: --lang must be one of %(languages)s (see --help)",
                        languages=", ".join(language.LOCALES),
                    )
                    + "\n"
                )
                raise SystemExit(2)
            language.choose(value)
            at += 1 if "=" in word else 2
            continue
        rest.append(word)
        at += 1
    return rest


def main(argv: Sequence[str] | None = None) -> int:
    words = _language_of(sys.argv[1:] if argv is None else list(argv))
    args = build_parser(words).parse_args(words)
    try:
        return int(args.func(args) or 0)
    except RuleViolation as error:
        print(_("settlement: refused by %(rule)s: %(message)s", rule=error.rule, message=language.refusal(error)),
              file=sys.stderr)  # fmt: skip
        return 2
    except ValidationError as error:  # settings from the environment, or a file's row
        print(f"settlement: {language.text(_first_problem(error))}", file=sys.stderr)
        return 2
    except DomainError as error:
        print(f"settlement: {language.refusal(error).splitlines()[0]}", file=sys.stderr)
        return 2
    except (UsageError, ValueError, OverflowError) as error:
        print(
            f"settlement: {language.text(str(error).splitlines()[0]) if str(error) else type(error).__name__}",
            file=sys.stderr,
        )
        return 2
    except (PersistenceError, SQLAlchemyError, psycopg.Error, OSError) as error:
        # The message may carry SQL parameters (personal data): name the kind of failure only.
        print(
            _(
                "settlement: the store could not be used (%(kind)s); check SETTLEMENT_DATABASE_URL and that "
                "the database is running",
                kind=type(error).__name__,
            ),
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    # ``python -m api.cli.main``: run the module the commands import (``api.cli.main``), not this copy
    # of it named ``__main__``, so that their UsageError is the one caught (exit 2, one line).
    from api.cli.main import main as command_line

    sys.exit(command_line())
