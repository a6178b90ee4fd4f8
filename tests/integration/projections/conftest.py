"""Fixtures for the read side on a database: a read store on the test's database, and a small history."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Engine

from projections.catalog import PROJECTIONS
from projections.engine.compare import table_rows
from projections.engine.paging import serving_tables
from projections.engine.runner import Runner
from projections.engine.store import open_read_store
from settlement_domain import commands as c
from settlement_domain.application import SettlementApp
from settlement_domain.values import Decline
from tests.given import IMDI, OSLO, distribution_list, municipalities, person


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = open_read_store(database_url)
    yield engine
    engine.dispose()


def runner(app: SettlementApp, engine: Engine, **options: Any) -> Runner:
    """A runner of every read model."""
    return Runner(app, engine, PROJECTIONS.values(), **options)


def catch_up(app: SettlementApp, engine: Engine) -> Runner:
    caught_up = runner(app, engine, batch_size=7)  # small batches: several per test history
    try:
        caught_up.catch_up()
    finally:
        caught_up.release()
    return caught_up


def snapshot(engine: Engine) -> dict[str, dict[str, list[list[Any]]]]:
    """Every serving table's rows in key order, backend-independent: what the read models hold."""
    with engine.connect() as conn:
        result = {}
        for name, projection in PROJECTIONS.items():
            tables = serving_tables(conn, projection)
            result[name] = {
                spec.name: list(table_rows(conn, tables[spec.name], spec.key)) for spec in projection.tables
            }
        return result


def register(
    app: SettlementApp,
    name: str = "Amina Test",
    *,
    minor: bool = False,
    private: bool = True,
    family_id: str | None = None,
    born: date = date(1990, 5, 17),
) -> str:
    """A registered person's id as text (living privately unless told otherwise)."""
    return str(person(app, name=name, minor=minor, private=private, family_id=family_id, birth_date=born))


@dataclass
class History:
    """A small history: Oslo and Bergen, requests, decisions, a family selected, decided and settled."""

    persons: dict[str, str] = field(default_factory=dict)
    list_id: str = ""


@pytest.fixture
def history(app: SettlementApp) -> History:
    h = History()
    municipalities(app)
    app.handle(IMDI, c.RequestSettlement("0301", 2025, 10, 2))
    app.handle(IMDI, c.RequestSettlement("0301", 2025, 12, 3, reason="more arrivals"))
    app.handle(OSLO, c.DecideQuota("0301", 2025, 8, 1, date(2025, 3, 1)))
    app.handle(IMDI, c.RequestSettlement("4601", 2025, 5, 0))
    h.persons["mother"] = register(app, "Mother Family", family_id="fam-1")
    h.persons["child"] = register(app, "Child Family", family_id="fam-1", born=date(2015, 2, 2))
    h.persons["minor"] = register(app, "Minor Alone", minor=True, private=False)
    h.persons["declined"] = register(app, "Declined Person")
    ids = [UUID(h.persons[k]) for k in ("mother", "child", "minor", "declined")]
    h.list_id = str(distribution_list(app, "0301", ids))
    app.handle(
        OSLO, c.ApproveDistributionList(UUID(h.list_id), tuple(ids[:3]), (Decline(ids[3], "no housing"),))
    )
    app.handle(IMDI, c.DecideSettlement(ids[0], "0301", 2025))
    app.handle(IMDI, c.DecideSettlement(ids[2], "0301", 2025))
    app.handle(OSLO, c.RegisterSettlementDate(ids[0], date(2025, 6, 16)))
    app.handle(OSLO, c.RegisterSettlementDate(ids[1], date(2025, 6, 16)))
    app.handle(IMDI, c.OpenDeviation(ids[2], "address", "Address unknown"))
    return h
