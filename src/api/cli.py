"""The ``settlement`` command line: one dispatcher; each subcommand lives in ``api.commands``.

Bad input prints one line naming the field or rule and exits with code 2; never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from settlement_domain.errors import DomainError, RuleViolation

# Each module registers its subcommands and sets ``func`` on them: func(args) -> exit code.
COMMAND_MODULES = (
    "api.commands.demo",
    "api.commands.token",
    "api.commands.serve",
    "api.commands.projections",
    "api.commands.bench",
)


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="settlement", description="Settlement of refugees in municipalities (IMDi)."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except RuleViolation as error:
        print(f"settlement: refused by {error.rule}: {error.message}", file=sys.stderr)
        return 2
    except (DomainError, UsageError, ValueError) as error:
        print(f"settlement: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
