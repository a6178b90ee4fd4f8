"""Pure folds: events from an in-memory application, folded into a projection's rows in memory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from projections.engine.projection import Projection
from projections.engine.rows import MemoryRows
from projections.engine.runner import Dispatch
from settlement_domain.application import SettlementApp
from tests.given import TODAY, events_since


@pytest.fixture
def app() -> Iterator[SettlementApp]:
    """The application on plain Python objects: no database, the events are all a test needs."""
    application = SettlementApp({"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=lambda: TODAY)
    yield application
    application.close()


def fold(projection: Projection, app: SettlementApp) -> MemoryRows:
    """Every event ``app`` recorded, folded by ``projection`` into fresh rows in memory."""
    rows = MemoryRows(projection)
    Dispatch([(projection, rows)], keys=app.personal_keys).fold(
        list(enumerate(events_since(app, 0), start=1))
    )
    return rows


def row_of(rows: MemoryRows, table: str, *key: Any) -> dict[str, Any] | None:
    return rows.get(table, tuple(key))
