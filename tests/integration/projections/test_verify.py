"""``settlement audit verify``: a replay of the log compared with the serving read models, row by row."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import Engine, insert, select, update

from api.cli.main import main
from projections.catalog import PROJECTIONS
from projections.engine.paging import serving_tables
from projections.engine.runner import Runner
from projections.engine.state import STATE
from projections.engine.store import write_transaction
from projections.engine.verify import verify
from settlement_domain import commands as c
from settlement_domain.application import SettlementApp
from tests.given import IMDI, OSLO
from tests.integration.projections.conftest import catch_up, register

PLACES = PROJECTIONS["places"]
FOLDERS = PROJECTIONS["person_folders"]


def audit(database_url: str, capsys: Any, *extra: str) -> tuple[int, str]:
    code = main(["audit", "verify", "--database-url", database_url, *extra])
    return code, capsys.readouterr().out


def change(engine: Engine, projection: Any, table: str, statement: Any) -> None:
    """Runs ``statement(serving table)`` on a serving table behind the runner's back: a planted fault."""
    with write_transaction(engine) as conn:
        conn.execute(statement(serving_tables(conn, projection)[table]))


def handled_by(app: SettlementApp, position: int, projection: Any) -> bool:
    (notification,) = app.recorder.select_notifications(position, 1)
    return projection.handler_for(type(app.mapper.to_domain_event(notification))) is not None


def test_an_untouched_store_agrees_with_its_log(app, engine, history, database_url, capsys):
    catch_up(app, engine)
    report = verify(app, engine, PROJECTIONS.values())
    assert report.equal and report.differences == [] and report.events == app.position()
    assert {r.name for r in report.read_models} == set(PROJECTIONS)
    assert all(
        r.position == app.position() and r.total("view_rows") == r.total("log_rows")
        for r in report.read_models
    )
    code, out = audit(database_url, capsys)
    assert code == 0, out
    assert "every read model agrees with the log" in out


def test_a_changed_count_is_named_with_its_table_key_column_and_position(
    app, engine, history, database_url, capsys
):
    catch_up(app, engine)
    change(
        engine,
        PLACES,
        "quotas",
        lambda t: (
            update(t)
            .where(t.c.municipality == "0301", t.c.year == 2025)
            .values(settled_persons=t.c.settled_persons + 1)
        ),
    )
    code, out = audit(database_url, capsys)
    assert code == 1
    (line,) = [line for line in out.splitlines() if line.startswith("places.quotas")]
    assert line.startswith("places.quotas key=(0301, 2025): changed settled_persons view=3 log=2")
    position = int(line.rsplit("position ", 1)[1].rstrip(")"))
    assert 0 < position <= app.position() and handled_by(app, position, PLACES)

    (difference,) = verify(app, engine, [PLACES]).differences
    assert (difference.table, difference.kind, dict(difference.key)) == (
        "quotas",
        "changed",
        {"municipality": "0301", "year": 2025},
    )
    assert difference.position == position
    assert [(col.column, col.view, col.log) for col in difference.columns] == [("settled_persons", 3, 2)]
    # The same difference as an auditor reads it by default, in bokmål (the --json report stays English).
    code, out = audit(database_url, capsys, "--lang", "nb")
    assert code == 1 and "lesemodellene avviker fra loggen" in out
    (line,) = [line for line in out.splitlines() if line.startswith("places.quotas")]
    assert line == (
        f"places.quotas nøkkel=(0301, 2025): endret settled_persons visning=3 logg=2 (siste hendelse ved "
        f"posisjon {position})"
    )


def test_a_deleted_row_is_missing_and_an_invented_row_is_extra(app, engine, history, database_url, capsys):
    catch_up(app, engine)
    change(engine, PLACES, "quotas", lambda t: t.delete().where(t.c.municipality == "4601"))
    with write_transaction(engine) as conn:  # a copy of a real row under a key no event makes
        quotas = serving_tables(conn, PLACES)["quotas"]
        row = conn.execute(select(quotas).where(quotas.c.municipality == "0301")).mappings().first()
        conn.execute(insert(quotas).values({**row, "municipality": "1103", "year": 2031}))
    report = verify(app, engine, PROJECTIONS.values())
    assert not report.equal
    kinds = {(d.read_model, d.table, d.kind, tuple(v for _, v in d.key)) for d in report.differences}
    assert kinds == {
        ("places", "quotas", "missing", ("4601", 2025)),
        ("places", "quotas", "extra", ("1103", 2031)),
    }
    (places,) = [r for r in report.read_models if r.name == "places"]
    (quotas,) = [t for t in places.tables if t.table == "quotas"]
    assert (quotas.missing, quotas.extra, quotas.changed, quotas.view_rows) == (1, 1, 0, quotas.log_rows)
    assert all(r.equal for r in report.read_models if r.name != "places")

    code, out = audit(database_url, capsys)
    assert code == 1
    assert "places.quotas key=(4601, 2025): missing (last event at position " in out
    assert "places.quotas key=(1103, 2031): extra (no event in the log makes this row)" in out


def test_personal_values_are_never_printed_only_the_column(app, engine, history, database_url, capsys):
    catch_up(app, engine)
    mother = history.persons["mother"]
    change(
        engine,
        FOLDERS,
        "folders",
        lambda t: update(t).where(t.c.refugee_id == mother).values(full_name="Planted Name"),
    )
    code, out = audit(database_url, capsys, "person_folders", "--json")
    assert code == 1
    report = json.loads(out)
    assert report["equal"] is False
    assert [r["name"] for r in report["read_models"]] == ["person_folders"]
    (difference,) = report["differences"]
    assert difference["key"] == {"refugee_id": mother}
    assert difference["columns"] == [{"column": "full_name", "hidden": True}]
    assert "Planted Name" not in out and "Mother Family" not in out

    code, out = audit(database_url, capsys, "person_folders")
    assert code == 1
    assert f"person_folders.folders key=({mother}): changed full_name (values hidden)" in out
    assert "Planted Name" not in out and "Mother Family" not in out


def test_views_behind_the_log_or_at_different_positions_are_compared_at_their_own_position(
    app, engine, history, database_url, capsys
):
    catch_up(app, engine)
    first = app.position()
    # The log moves on: one read model follows it, the others stay behind (a runner at work).
    newcomer = register(app, "Late Arrival", born=date(1988, 1, 1))
    app.handle(IMDI, c.RequestSettlement("0301", 2026, 20, 4))
    app.handle(OSLO, c.DecideQuota("0301", 2026, 15, 2, date(2025, 6, 1)))
    places_only = Runner(app, engine, [PLACES])
    try:
        places_only.catch_up()
    finally:
        places_only.release()
    assert app.position() > first
    report = verify(app, engine, PROJECTIONS.values())
    assert report.equal, [d.describe() for d in report.differences]
    positions = {r.name: r.position for r in report.read_models}
    assert positions["places"] == app.position()
    assert positions["person_folders"] == first and report.events == app.position()
    assert newcomer  # registered after the folders' position: not in their view, nor in their replay

    code, out = audit(database_url, capsys, "--json")
    assert code == 0 and json.loads(out)["equal"] is True


def test_a_read_model_of_another_version_is_not_comparable(app, engine, history, database_url, capsys):
    catch_up(app, engine)
    with write_transaction(engine) as conn:
        conn.execute(
            update(STATE).where(STATE.c.name == "letters").values(version=PROJECTIONS["letters"].version - 1)
        )
        assert conn.execute(select(STATE.c.version).where(STATE.c.name == "letters")).scalar_one() >= 0
    code, out = audit(database_url, capsys, "--json")
    assert code == 1
    report = json.loads(out)
    (letters,) = [r for r in report["read_models"] if r["name"] == "letters"]
    assert letters["equal"] is False and letters["problem"].startswith("not comparable: version ")
    assert all(r["equal"] for r in report["read_models"] if r["name"] != "letters")


def test_unknown_read_models_are_refused_as_usage(database_url, capsys):
    assert main(["audit", "verify", "--database-url", database_url, "nonsense"]) == 2
    assert "Unknown projections: nonsense" in capsys.readouterr().err
