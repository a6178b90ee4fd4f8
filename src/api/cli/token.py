"""``settlement token``: prints a bearer token signed with the local secret, for local use and the demo."""

from __future__ import annotations

import argparse
import re
from datetime import timedelta

from api.http.auth import issue_token, local_secret
from api.settings import Settings
from settlement_domain.context import Actor, Role

TTL = re.compile(r"^(\d+)([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


MAX_TTL = timedelta(days=366)


def parse_ttl(text: str) -> timedelta:
    """``90s``, ``30m``, ``8h`` or ``2d``; at most a year (366 days)."""
    match = TTL.match(text.strip())
    if not match or int(match[1]) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a lifetime like 30m, 8h or 2d")
    amount, unit = int(match[1]), match[2]
    seconds_per_unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    # Compared as integers: timedelta itself overflows long before a huge number is refused.
    if amount * seconds_per_unit > MAX_TTL.total_seconds():
        raise argparse.ArgumentTypeError(f"{text!r} is longer than the longest lifetime, {MAX_TTL.days}d")
    return timedelta(**{UNITS[unit]: amount})


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "token",
        help="print a bearer token signed with the local secret",
        description="Print a JWT for the API, signed with SETTLEMENT_JWT_SECRET or the local secret in var/.",
    )
    parser.add_argument("--role", required=True, choices=[r.value for r in Role])
    parser.add_argument("--municipality", help="4-digit municipality number (needed for --role municipality)")
    parser.add_argument("--sub", required=True, help="the user id the token names")
    parser.add_argument("--name", help="display name (defaults to --sub)")
    parser.add_argument(
        "--ttl", type=parse_ttl, default=timedelta(hours=8), help="lifetime, like 8h (default)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = Settings()
    actor = Actor(
        args.sub, Role(args.role), args.municipality
    )  # refuses a municipality role without a number
    token = issue_token(
        local_secret(settings),
        role=actor.role,
        sub=actor.sub,
        municipality=actor.municipality,
        name=args.name,
        ttl=args.ttl,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    print(token)
    return 0
