"""The demo's own "today": a clock it walks forward, and an application of its own that runs on it.

The story and the generated history walk through days the rules judge ("today" for R3's respond-by
date, R7e's no future dates). They do so on a :class:`~settlement_domain.application.SettlementApp`
of their own over the same store, so that the application they were given (perhaps the one a
running server answers with) keeps its real clock and is never changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from api.cli.language import _
from settlement_domain.application import SettlementApp


class WalkingClock:
    """A "today" that the demo sets, day by day."""

    def __init__(self, today: date) -> None:
        self.today = today

    def __call__(self) -> date:
        return self.today


@contextmanager
def application_on_clock(app: SettlementApp, clock: WalkingClock) -> Iterator[SettlementApp]:
    """A SettlementApp of its own over ``app``'s store, whose "today" is ``clock``; closed afterwards."""
    env = dict(app.env)
    dbname = env.get("SQLITE_DBNAME", "")
    if env.get("PERSISTENCE_MODULE") == "eventsourcing.sqlite" and (
        dbname == ":memory:" or "mode=memory" in dbname
    ):
        raise ValueError(
            _("The demo plays into a store that a second connection can open, not sqlite:///:memory:.")
        )
    own = SettlementApp(env, clock=clock, settlement_cutoff=app.settlement_cutoff)
    try:
        yield own
    finally:
        own.close()
