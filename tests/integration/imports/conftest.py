"""What the import tests share: a read store on the test's database, and the read models brought level."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from projections.catalog import PROJECTIONS
from projections.engine.runner import Runner
from projections.engine.store import open_read_store
from settlement_domain.application import SettlementApp


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = open_read_store(database_url)
    yield engine
    engine.dispose()


def caught_up(app: SettlementApp, engine: Engine) -> None:
    """Folds everything appended so far into every read model."""
    runner = Runner(app, engine, PROJECTIONS.values())
    try:
        runner.catch_up()
    finally:
        runner.release()
