"""Fixtures for the read side: a read store on the test's database, and a small settlement history."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine

from projections.catalog import PROJECTIONS
from projections.rebuild import table_rows
from projections.runner import Runner
from projections.store import open_read_store
from projections.views import serving_tables
from settlement_domain.application import SettlementApp
from settlement_domain.context import Role
from tests.conftest import ctx_for

IMDI = ctx_for(Role.IMDI, sub="ingrid")
RECEPTION = ctx_for(Role.RECEPTION, sub="udi")
OSLO = ctx_for(Role.MUNICIPALITY, "0301", sub="kari")
BERGEN = ctx_for(Role.MUNICIPALITY, "4601", sub="ola")
ADDRESS = {"street": "Storgata 1", "postal_code": "0155", "city": "Oslo"}


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = open_read_store(database_url)
    yield engine
    engine.dispose()


def catch_up(app: SettlementApp, engine: Engine) -> Runner:
    runner = Runner(app, engine, batch_size=7)  # small batches: several per test history
    try:
        runner.catch_up()
    finally:
        runner.release()
    return runner


def snapshot(engine: Engine) -> dict[str, dict[str, list[list[Any]]]]:
    """Every serving table's rows in key order, backend-independent: what "the views" are."""
    with engine.connect() as conn:
        result = {}
        for name, projection in PROJECTIONS.items():
            tables = serving_tables(conn, projection)
            result[name] = {
                spec.name: list(table_rows(conn, tables[spec.name], spec.key)) for spec in projection.tables
            }
        return result


def register(app: SettlementApp, name: str = "Amina Test", *, minor: bool = False, private: bool = True,
             family_id: str | None = None, born: date = date(1990, 5, 17)) -> str:
    residence = {"kind": "private"} if private else {"kind": "reception_centre", "centre_id": "mottak-7"}
    return app.register_refugee(
        RECEPTION, name, date(2009, 1, 2) if minor else born, family_id, minor, residence, ADDRESS, "asylum"
    ).id


@dataclass
class History:
    """A small history: Oslo and Bergen, requests, decisions, a family selected, decided and settled."""

    persons: dict[str, str] = field(default_factory=dict)
    list_id: str = ""


@pytest.fixture
def history(app: SettlementApp) -> History:
    h = History()
    app.register_municipality(IMDI, "0301", "Oslo", "Oslo")
    app.register_municipality(IMDI, "4601", "Bergen", "Vestland")
    app.request_settlement(IMDI, "0301", 2025, 10, 2)
    app.request_settlement(IMDI, "0301", 2025, 12, 3, reason="more arrivals")
    app.decide_quota(OSLO, "0301", 2025, 8, 1, date(2025, 3, 1))
    app.request_settlement(IMDI, "4601", 2025, 5, 0)
    h.persons["mother"] = register(app, "Mother Family", family_id="fam-1")
    h.persons["child"] = register(app, "Child Family", family_id="fam-1", born=date(2015, 2, 2))
    h.persons["minor"] = register(app, "Minor Alone", minor=True, private=False)
    h.persons["declined"] = register(app, "Declined Person")
    ids = [h.persons[k] for k in ("mother", "child", "minor", "declined")]
    h.list_id = app.create_distribution_list(IMDI, "0301", ids, date(2025, 7, 1)).id
    app.approve_distribution_list(OSLO, h.list_id, ids[:3], {h.persons["declined"]: "no housing"})
    app.decide_settlement(IMDI, h.persons["mother"], "0301", 2025)
    app.decide_settlement(IMDI, h.persons["minor"], "0301", 2025)
    app.register_settlement_date(OSLO, h.persons["mother"], date(2025, 6, 16))
    app.register_settlement_date(OSLO, h.persons["child"], date(2025, 6, 16))
    app.open_deviation(IMDI, h.persons["minor"], "address", "Address unknown")
    return h
