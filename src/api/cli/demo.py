"""``settlement demo``: the demo year, or with ``--scale`` a seeded history of 2016-2025.

What it prints is in bokmål unless ``--lang en`` or ``SETTLEMENT_LANG=en`` (:mod:`api.cli.language`)."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from api.bootstrap import open_application
from api.cli.language import _
from api.demo.history import generate, print_summary, require_empty_store, rich_progress
from api.demo.story import play_story
from api.settings import Settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="play the demo year (or, with --scale, generate 2016-2025 history)",
        description=(
            "Without --scale: plays a realistic settlement year through the application service and "
            "prints each step, refusals with their rule codes included; a second run replays and "
            "appends nothing. With --scale X: generates a seeded history of 2016-2025 for all 357 "
            "municipalities (X=1.0 is full size) into an empty store."
        ),
    )
    parser.add_argument("--database-url", help="store to use instead of SETTLEMENT_DATABASE_URL")
    parser.add_argument("--scale", type=float, help="generate history at this scale (1.0 = full size)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated history (default 1)")
    parser.add_argument(
        "--flush-every", type=int, default=200, help="commands per transaction when generating (default 200)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = Settings()
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    console = Console()
    if args.scale is None and args.seed != 1:
        raise ValueError(_("--seed goes with --scale"))
    if args.scale is not None and not args.scale > 0:  # NaN too
        raise ValueError(_("--scale must be above 0"))
    app = open_application(settings)
    try:
        if args.scale is None:
            play_story(app, console)
        else:
            require_empty_store(app)
            with rich_progress(console) as progress:
                summary = generate(
                    app, args.scale, seed=args.seed, progress=progress, flush_every=args.flush_every
                )
            print_summary(summary, console)
    finally:
        app.close()
    return 0
