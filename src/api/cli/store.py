"""``settlement store move --to URL``: the whole store copied into a new, empty one, with every personal
part an older store holds in the clear sealed on the way (R18); see api/store_move.py and
docs/operator-guide.md ("Moving an older store")."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

from api.cli.language import _
from api.cli.main import UsageError
from api.settings import Settings
from api.store_move import TargetNotEmpty, move_store


def register(subparsers: argparse._SubParsersAction) -> None:
    store = subparsers.add_parser(
        "store", help="move the store into a new, empty one (sealing an older store)"
    )
    actions = store.add_subparsers(dest="store_command", required=True, metavar="ACTION")
    move = actions.add_parser(
        "move",
        help="copy the whole log into a new, empty store, sealing every personal part still in the clear, "
        "then build its chain and views and verify them (stop the service first)",
    )
    move.add_argument(
        "--to", required=True, metavar="URL", help="the new, empty store (sqlite:///... or postgresql://...)"
    )
    move.add_argument("--database-url", help="the store to move (default: SETTLEMENT_DATABASE_URL)")
    move.add_argument("--batch-size", type=int, default=1000, help="events per transaction (default 1000)")
    move.set_defaults(func=run_move)


def run_move(args: argparse.Namespace) -> int:
    settings = Settings()
    if args.database_url:
        settings = settings.model_copy(update={"database_url": args.database_url})
    with Progress(
        TextColumn("copying the log"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} events"),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("move", total=1)
        try:
            report = move_store(
                settings,
                args.to,
                batch_size=args.batch_size,
                progress=lambda done, total: progress.update(task, completed=done, total=max(total, 1)),
            )
        except TargetNotEmpty:
            raise UsageError(
                _("--to: the target store is not empty; a store is moved into a new, empty one")
            ) from None
        except BaseException:  # a failure or Ctrl-C part-way: whatever the target holds is a fragment
            message = _(
                "The move stopped before it finished: the new store is incomplete. Do not switch to it; "
                "drop it and move again."
            )
            print(message, file=sys.stderr)
            raise
    print(
        _(
            "%(events)s events and %(keys)s data keys moved in %(seconds)s s; the personal parts are sealed "
            "with their persons' keys, as in new events.",
            events=report.events,
            keys=report.keys,
            seconds=round(report.seconds, 1),
        )
    )
    print(
        _(
            "The new store holds %(found)s events; hash chain %(chain)s; read models %(views)s.",
            found=report.target_events,
            chain=_("intact") if report.chain_intact else _("NOT intact"),
            views=_("equal to the log") if report.read_models_equal else _("differing from the log"),
        )
    )
    if report.source_head_after != report.source_head:
        print(
            _(
                "The old store was written to during the move (its log went from position %(before)s to "
                "%(after)s): stop every process of it, drop the new store and move again.",
                before=report.source_head,
                after=report.source_head_after,
            )
        )
    if not report.ok:
        print(_("The move did not verify: do not switch to the new store."))
        return 1
    print(
        _("Switch SETTLEMENT_DATABASE_URL to the new store, then destroy the old database and its backups.")
    )
    return 0
