"""The runner and the rebuild: failures stop loudly, crashes lose nothing, rebuilds swap in whole."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import SQLAlchemyError

from projections.catalog import PROJECTIONS, install, select_projections
from projections.engine.projection import ProjectionError
from projections.engine.rebuild import rebuild
from projections.engine.rows import DatabaseRows
from projections.engine.runner import caught_up_to, status
from projections.engine.state import STATE
from projections.engine.store import write_transaction
from projections.places import places
from settlement_domain import commands as c
from settlement_domain.model import QuotaYear
from tests.given import IMDI, OSLO, RECEPTION, registration
from tests.integration.projections.conftest import catch_up, register, runner, snapshot

ROOT = Path(__file__).resolve().parents[3]


def positions(app, engine) -> dict[str, int]:
    return {s.name: s.position for s in status(app, engine, PROJECTIONS.values())}


def decided(engine, municipality: str, year: int) -> int | None:
    (row,) = places(engine, municipality=municipality, year=year)
    return row["decided_persons"]


def settled(engine, municipality: str, year: int) -> int:
    (row,) = places(engine, municipality=municipality, year=year)
    return row["settled_persons"]


def test_a_failing_projection_stops_at_the_event_and_keeps_its_position(app, engine, history, monkeypatch):
    catch_up(app, engine)
    before = positions(app, engine)
    app.handle(OSLO, c.DecideQuota("0301", 2025, 9, 1, date(2025, 4, 1)))

    def broken(e, position, rows):
        raise ValueError("boom")

    monkeypatch.setitem(PROJECTIONS["places"].handlers, QuotaYear.QuotaDecided, broken)
    failing = runner(app, engine)
    with pytest.raises(ProjectionError, match=rf"'places' failed on event {app.position()} \(QuotaDecided\)"):
        failing.catch_up()
    failing.release()
    # The whole batch rolled back: no projection moved past the event, none skipped it.
    assert positions(app, engine) == before
    monkeypatch.undo()
    catch_up(app, engine)
    assert decided(engine, "0301", 2025) == 9


def test_a_runner_killed_in_the_middle_of_a_batch_resumes_without_losing_or_double_counting(
    app, engine, history, database_url
):
    for n in range(12):
        register(app, f"Person {n}")
    worker = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("crash_worker.py")), database_url],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"},
    )
    assert worker.stdout is not None
    flushed = 0
    for line in worker.stdout:
        flushed += line.strip() == "flushed"
        if flushed == 25:  # several batches committed, one written but not yet committed
            worker.send_signal(signal.SIGKILL)
            break
    worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL
    reached = set(positions(app, engine).values())
    assert 0 < min(reached) < app.position()
    catch_up(app, engine)
    live = snapshot(engine)
    report = rebuild(app, engine, select_projections(None), grace_seconds=0)
    assert report.equal, [(p.name, p.differences) for p in report.projections]
    assert snapshot(engine) == live
    assert settled(engine, "0301", 2025) == 2


def test_a_rebuild_swaps_in_a_new_generation_that_equals_the_live_read_models(app, engine, history):
    catch_up(app, engine)
    live = snapshot(engine)
    report = rebuild(app, engine, select_projections(["places", "audit_trail"]), grace_seconds=0)
    assert [p.name for p in report.projections] == ["places", "audit_trail"]
    assert all(p.new_generation == 2 and p.comparisons and not p.differences for p in report.projections)
    assert snapshot(engine) == live
    with engine.connect() as conn:
        generations = dict(conn.execute(select(STATE.c.name, STATE.c.generation)).all())
    assert generations["places"] == 2 and generations["person_folders"] == 1


def test_two_rebuilds_of_one_read_model_never_swap_over_each_other(app, engine, history, monkeypatch):
    # The read expiry's rebuild of the audit trail, an operator's rebuild, a worker's upgrade: on
    # PostgreSQL the second waits for the first (a lock per read model); wherever a swap would replace
    # another generation than the one its rebuild started from, it is refused and nothing of it swaps.
    from projections.engine.rebuild import RebuildRaced, build_and_swap

    catch_up(app, engine)
    chosen = select_projections(["places"])
    with engine.connect() as conn:
        start = conn.execute(select(STATE.c.generation).where(STATE.c.name == "places")).scalar_one()
    if engine.dialect.name == "postgresql":
        done: list[int] = []
        others = [
            threading.Thread(
                target=lambda: done.append(len(rebuild(app, engine, chosen, grace_seconds=0).projections))
            )
            for _ in range(2)
        ]
        for thread in others:
            thread.start()
        for thread in others:
            thread.join(60)
        assert len(done) == 2  # both finished, one after the other
        with engine.connect() as conn:
            final = conn.execute(select(STATE.c.generation).where(STATE.c.name == "places")).scalar_one()
        assert final == start + 2
    else:
        from projections.engine import rebuild as rebuilding

        compare = rebuilding._catch_up_and_compare
        raced: list[bool] = []

        def meanwhile(*args: object, **kwargs: object) -> object:  # another rebuild swaps before this one
            if not raced:
                raced.append(True)
                rebuild(app, engine, chosen, grace_seconds=0)
            return compare(*args, **kwargs)

        monkeypatch.setattr(rebuilding, "_catch_up_and_compare", meanwhile)
        with pytest.raises(RebuildRaced):
            build_and_swap(app, engine, list(chosen))
        monkeypatch.undo()
        with engine.connect() as conn:
            final = conn.execute(select(STATE.c.generation).where(STATE.c.name == "places")).scalar_one()
        assert final == start + 1  # the other's generation serves; the raced one never swapped
    report = rebuild(app, engine, chosen, grace_seconds=0)
    assert all(not r.differences for r in report.projections)


def test_a_rebuild_lists_the_tables_that_differ_from_the_serving_generation(app, engine, history):
    catch_up(app, engine)
    with engine.begin() as conn:
        quotas = PROJECTIONS["places"].sql_tables(1, conn.dialect)["quotas"]
        conn.execute(quotas.update().values(settled_persons=99))
    report = rebuild(app, engine, select_projections(["places"]), grace_seconds=0)
    (result,) = report.projections
    assert [t.table for t in result.differences] == ["quotas"]
    assert settled(engine, "0301", 2025) == 2  # rebuilt from the log


def test_a_rebuild_while_commands_keep_arriving_includes_every_event(app, engine, history):
    catch_up(app, engine)
    stop = threading.Event()
    errors: list[BaseException] = []

    def keep_registering() -> None:
        try:
            n = 0
            while not stop.is_set() or n < 20:
                app.handle(
                    RECEPTION, registration(name=f"Late {n}", birth_date=date(1991, 1, 1), private=True)
                )
                n += 1
        except BaseException as error:  # surfaced below: a silent writer would prove nothing
            errors.append(error)

    writer = threading.Thread(target=keep_registering)
    writer.start()
    try:
        rebuild(app, engine, select_projections(None), grace_seconds=0)
    finally:
        stop.set()
        writer.join()
    assert not errors
    catch_up(app, engine)
    assert min(positions(app, engine).values()) == app.position()
    live = snapshot(engine)
    assert len(live["audit_trail"]["events"]) == app.position()
    rebuild(app, engine, select_projections(None), grace_seconds=0)
    assert snapshot(engine) == live


def test_on_postgresql_one_worker_owns_a_projection_at_a_time(app, engine, history, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("advisory locks are PostgreSQL's")
    first = runner(app, engine)
    second = runner(app, engine)
    try:
        assert len(first.owned()) == len(PROJECTIONS)
        assert second.owned() == []
        assert second.catch_up() == 0
        first.release()
        assert len(second.owned()) == len(PROJECTIONS)
    finally:
        first.release()
        second.release()


def test_the_live_runner_follows_the_log_and_answers_read_your_writes(app, engine, history):
    live = runner(app, engine, poll_interval=0.05)
    live.start()
    try:
        position = app.handle(OSLO, c.DecideQuota("0301", 2025, 30, 3, date(2025, 5, 1))).position
        assert live.wait_for(position, timeout=10)
        assert decided(engine, "0301", 2025) == 30
        app.handle(IMDI, c.RequestSettlement("4601", 2026, 7, 1))
        assert live.wait_for(app.position(), timeout=10)
    finally:
        live.stop()
    assert places(engine, municipality="4601", year=2026)[0]["requested_persons"] == 7


def test_caught_up_to_tells_whether_every_projection_has_reached_a_position(app, engine, history):
    catch_up(app, engine)
    assert caught_up_to(engine, app.position(), timeout=0)
    later = app.handle(IMDI, c.RequestSettlement("4601", 2026, 7, 1)).position
    assert not caught_up_to(engine, later, timeout=0.1)
    catch_up(app, engine)
    assert caught_up_to(engine, later, timeout=0)


def test_a_database_error_in_a_batch_is_logged_without_the_rows_personal_data(
    app, engine, history, monkeypatch, caplog
):
    catch_up(app, engine)
    person = register(app, "Hemmelig Navnesen", born=date(1977, 3, 14))
    original = DatabaseRows.flush

    def flush_twice(self):
        # The batch's rows written a second time: a real database error (duplicate keys) whose
        # statement carries the rows' values, the person's name and birth date among them.
        again = {
            name: [dict(self.cache[name][k]) for k in keys if self.cache[name][k] is not None]
            for name, keys in self.dirty.items()
        }
        original(self)
        for name, rows in again.items():
            if rows and self.projection.name == "person_folders":
                self.conn.execute(self.tables[name].insert(), rows)

    monkeypatch.setattr(DatabaseRows, "flush", flush_twice)
    with caplog.at_level(logging.DEBUG), pytest.raises(Exception) as failed:
        runner(app, engine).run_forever()
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    for secret in ("Hemmelig", "Navnesen", "1977-03-14", "1977, 3, 14"):
        assert secret not in logged, logged
    assert isinstance(failed.value, ProjectionError) and failed.value.projection == "person_folders"
    assert isinstance(failed.value.__cause__, SQLAlchemyError)
    assert "Hemmelig" not in str(failed.value) and "Hemmelig" not in str(failed.value.__cause__)
    stopped = [r for r in caplog.records if r.getMessage().startswith("projection runner stopped")]
    assert len(stopped) == 1 and stopped[0].exc_info is None
    message = stopped[0].getMessage()
    assert failed.value.cause_type in message and failed.value.projection in message
    assert str(failed.value.position) in message and failed.value.event_type in message
    assert person


def test_installing_removes_a_retired_read_model_whose_position_would_hold_every_wait_back(
    app, engine, history
):
    catch_up(app, engine)
    with write_transaction(engine) as conn:  # what the distribution lists' read model was called before
        conn.execute(STATE.insert().values(name="open_lists", version=1, generation=1, position=1))
        conn.exec_driver_sql('CREATE TABLE "open_lists_lists_g1" (list_id varchar(36))')
    assert not caught_up_to(engine, app.position(), timeout=0)
    install(engine)
    assert caught_up_to(engine, app.position(), timeout=0)
    with engine.connect() as conn:
        assert not inspect(conn).has_table("open_lists_lists_g1")
