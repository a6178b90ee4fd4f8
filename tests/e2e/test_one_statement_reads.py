"""The places read in one statement: the serving generation known in memory, a swap seen at once.

``GET /municipalities/{number}/places`` reads the registry, the quota rows and the completeness marks
in one statement over the tables of the generations it remembers, and reads their state rows in the
same statement (``projections.engine.serving``). On PostgreSQL it runs in the event loop on asyncpg,
on SQLite in a worker thread; both are tested here (the ``database_url`` fixture runs each test once
per backend).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, insert, select, update

from api.http.controllers.municipalities import Places
from projections.catalog import PROJECTIONS
from projections.engine.generations import create_generation
from projections.engine.rebuild import rebuild
from projections.engine.state import STATE
from projections.engine.store import write_transaction
from projections.places import PLACES_OF_ONE, QUOTA_COLUMNS
from tests.e2e.conftest import IMDI, MUNICIPALITY, OSLO, Api, problem
from tests.e2e.story import request_and_decide, two_municipalities

PLACES = PROJECTIONS["places"]


def engine_of(api: Api) -> Engine:
    return api.app.state.reads.engine


def places(api: Api, **params: Any) -> Any:
    return api.ok(api.get(f"/municipalities/{OSLO}/places", IMDI, params=params))


def serving_generation(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(STATE.c.generation).where(STATE.c.name == "places")).scalar_one())


def test_a_swap_to_another_generation_is_seen_by_the_next_read(api: Api) -> None:
    """A swap made behind the reader's back (another process, say): the old tables still exist, the
    remembered generation is stale, and the statement's own state columns say so at once."""
    two_municipalities(api)
    request_and_decide(api, OSLO, persons=10, minors=2)
    before = places(api, year=2025)
    assert before["persons"]["decided"] == 10
    engine = engine_of(api)
    # PostgreSQL reads in the event loop (asyncpg), SQLite in a worker thread.
    assert (api.app.state.reads.pool is not None) == (engine.dialect.name == "postgresql")
    old = serving_generation(engine)
    assert api.app.state.reads.serving.get(["places"]) == (("places", old, PLACES.version),)

    # A new generation with a figure the old one does not have, swapped in by its state row alone.
    new = old + 1
    old_quotas = PLACES.sql_tables(old, engine.dialect)["quotas"]
    new_quotas = PLACES.sql_tables(new, engine.dialect)["quotas"]
    with write_transaction(engine) as conn:
        create_generation(conn, PLACES, new)
        rows = [dict(r) for r in conn.execute(select(old_quotas)).mappings()]
        conn.execute(insert(new_quotas), [{**r, "decided_persons": 77} for r in rows])
        conn.execute(update(STATE).where(STATE.c.name == "places").values(generation=new))

    assert places(api, year=2025)["persons"]["decided"] == 77  # the first read after the swap
    assert places(api)[0]["persons"]["decided"] == 77
    assert api.app.state.reads.serving.get(["places"]) == (("places", new, PLACES.version),)


def test_a_rebuild_that_dropped_the_old_tables_is_followed_at_once(api: Api) -> None:
    """A rebuild swaps and drops the old generation (no grace here): the remembered statement names
    tables that no longer exist, and the read looks the generations up again instead of failing."""
    two_municipalities(api)
    request_and_decide(api, OSLO, persons=10, minors=2)
    assert places(api, year=2025)["persons"]["decided"] == 10
    engine = engine_of(api)
    old = serving_generation(engine)
    app = api.app.state.settlement
    rebuild(app, engine, [PLACES], grace_seconds=0)
    assert serving_generation(engine) == old + 1
    assert places(api, year=2025)["persons"]["decided"] == 10
    assert api.app.state.reads.serving.get(["places"]) == (("places", old + 1, PLACES.version),)
    request_and_decide(api, OSLO, persons=12, minors=2, year=2026)
    assert [p["year"] for p in places(api)] == [2026, 2025]


def test_the_one_statement_answers_as_the_query_functions_did(api: Api) -> None:
    """Tenancy, a year without a record, completeness (R19) and an unknown municipality, unchanged."""
    two_municipalities(api)
    request_and_decide(api, OSLO, persons=10, minors=2)
    assert places(api, year=2030) == Places.nothing_recorded(OSLO, 2030).model_dump(mode="json")
    api.ok(api.post("/completeness", {"year": 2025, "municipality": OSLO}, IMDI))
    (found,) = places(api)
    assert (found["year"], found["complete"], found["notice"]) == (2025, True, None)
    assert places(api, year=2024)["complete"] is False
    api.ok(api.post("/completeness", {"year": 2024}, IMDI))
    assert places(api, year=2024)["complete"] is True  # the whole year's mark, without a quota row
    problem(api.get("/municipalities/9999/places", IMDI), 404)
    problem(api.get("/municipalities/4601/places", MUNICIPALITY, OSLO), 404)  # another's: not found
    assert api.ok(api.get(f"/municipalities/{OSLO}/places", MUNICIPALITY, OSLO))[0]["year"] == 2025


def test_the_answer_built_without_the_models_equals_the_models_answer() -> None:
    """``Places.answer`` (the hot read) and ``Places.of(...).marked(...)`` give the same JSON."""
    base = {name: 0 for name in QUOTA_COLUMNS} | {"municipality": OSLO, "year": 2025}
    variants = [
        base | {"requested_persons": None, "requested_minors": None, "decided_persons": None,
                "decided_minors": None, "historical_request": False, "historical_decision": False,
                "historical_settled": None},
        base | {"requested_persons": 10, "requested_minors": 2, "decided_persons": 8, "decided_minors": 1,
                "settled_persons": 3, "agreed_persons": 6, "settled_minors": 1, "agreed_minors": 1,
                "over_quota_persons": 1, "over_quota_minors": 1, "historical_request": True,
                "historical_decision": False, "historical_settled": None},
        base | {"requested_persons": None, "requested_minors": None, "decided_persons": 5,
                "decided_minors": None, "historical_request": False, "historical_decision": True,
                "historical_settled": 4},
    ]  # fmt: skip
    for row in variants:
        for complete in (True, False):
            assert Places.answer(row, complete) == Places.of(row).marked(complete).model_dump(mode="json")
    assert set(QUOTA_COLUMNS) <= {c.name for c in PLACES_OF_ONE.statement(
        (("completeness", 1, 1), ("municipalities", 1, 3), ("places", 1, 3)), "all", "sqlite"
    ).selected_columns}  # fmt: skip
