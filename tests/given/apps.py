"""Applications for tests: the write side in memory, with the test clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from settlement_domain.application import SettlementApp
from tests.given.actors import TODAY


def in_memory_app(clock: Callable[[], date] = lambda: TODAY) -> SettlementApp:
    """The write side on the library's in-memory store (no database): for the unit and property tiers."""
    return SettlementApp({"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=clock)
