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
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from projections import places
from projections.base import STATE, DatabaseRows, ProjectionError
from projections.catalog import PROJECTIONS
from projections.rebuild import rebuild
from projections.runner import Runner, status, views_reached
from settlement_domain.context import Role
from tests.conftest import ctx_for
from tests.projections.conftest import IMDI, OSLO, catch_up, register, snapshot

ROOT = Path(__file__).resolve().parents[2]


def test_a_failing_projection_stops_at_the_event_and_keeps_its_position(app, engine, history, monkeypatch):
    catch_up(app, engine)
    before = {s.name: s.position for s in status(app, engine)}
    app.decide_quota(OSLO, "0301", 2025, 9, 1, date(2025, 4, 1))

    def broken(self, e, position, rows):
        raise ValueError("boom")

    monkeypatch.setattr(type(PROJECTIONS["places"]), "on_QuotaDecided", broken)
    runner = Runner(app, engine)
    with pytest.raises(ProjectionError, match=rf"'places' failed on event {app.position()} \(QuotaDecided\)"):
        runner.catch_up()
    runner.release()
    # The whole batch rolled back: no view moved past the event, none skipped it.
    assert {s.name: s.position for s in status(app, engine)} == before
    monkeypatch.undo()
    catch_up(app, engine)
    assert places.places_for_year(engine, "0301", 2025)["persons"]["decided"] == 9


def test_a_runner_killed_in_the_middle_of_a_batch_resumes_without_losing_or_double_counting(
    app, engine, history, database_url
):
    for n in range(12):
        register(app, f"Person {n}")
    worker = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("crash_worker.py")), database_url],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
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
    positions = {s.position for s in status(app, engine)}
    assert 0 < min(positions) < app.position()
    catch_up(app, engine)
    live = snapshot(engine)
    report = rebuild(app, engine, grace_seconds=0)
    assert report.equal, [(p.name, p.differences) for p in report.projections]
    assert snapshot(engine) == live
    assert places.places_for_year(engine, "0301", 2025)["persons"]["settled"] == 2


def test_a_rebuild_swaps_in_a_new_generation_that_equals_the_live_views(app, engine, history):
    catch_up(app, engine)
    live = snapshot(engine)
    report = rebuild(app, engine, ["places", "audit_trail"], grace_seconds=0)
    assert [p.name for p in report.projections] == ["places", "audit_trail"]
    assert all(p.new_generation == 2 and p.comparisons and not p.differences for p in report.projections)
    assert snapshot(engine) == live
    with engine.connect() as conn:
        generations = dict(conn.execute(select(STATE.c.name, STATE.c.generation)).all())
    assert generations["places"] == 2 and generations["person_folders"] == 1


def test_a_rebuild_lists_the_tables_that_differ_from_the_serving_generation(app, engine, history):
    catch_up(app, engine)
    with engine.begin() as conn:
        quotas = PROJECTIONS["places"].sql_tables(1, conn.dialect)["quotas"]
        conn.execute(quotas.update().values(settled_persons=99))
    report = rebuild(app, engine, ["places"], grace_seconds=0)
    (result,) = report.projections
    assert [c.table for c in result.differences] == ["quotas"]
    assert places.places_for_year(engine, "0301", 2025)["persons"]["settled"] == 2  # rebuilt from the log


def test_a_rebuild_while_commands_keep_arriving_includes_every_event(app, engine, history):
    catch_up(app, engine)
    stop = threading.Event()
    errors: list[BaseException] = []

    def keep_registering() -> None:
        try:
            n = 0
            while not stop.is_set() or n < 20:
                app.register_refugee(ctx_for(Role.RECEPTION), f"Late {n}", date(1991, 1, 1), None, False,
                                     {"kind": "private"}, {"street": "A 1", "postal_code": "0150", "city": "Oslo"},
                                     "asylum")
                n += 1
        except BaseException as error:  # surfaced below: a silent writer would prove nothing
            errors.append(error)

    writer = threading.Thread(target=keep_registering)
    writer.start()
    try:
        rebuild(app, engine, grace_seconds=0)
    finally:
        stop.set()
        writer.join()
    assert not errors
    catch_up(app, engine)
    assert min(s.position for s in status(app, engine)) == app.position()
    live = snapshot(engine)
    assert len(live["audit_trail"]["events"]) == app.position()
    rebuild(app, engine, grace_seconds=0)
    assert snapshot(engine) == live


def test_on_postgresql_one_worker_owns_a_projection_at_a_time(app, engine, history, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("advisory locks are PostgreSQL's")
    first = Runner(app, engine)
    second = Runner(app, engine)
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
    runner = Runner(app, engine, poll_interval=0.05)
    runner.start()
    try:
        position = app.decide_quota(OSLO, "0301", 2025, 30, 3, date(2025, 5, 1)).position
        assert runner.wait_for(position, timeout=10)
        assert places.places_for_year(engine, "0301", 2025)["persons"]["decided"] == 30
        app.request_settlement(IMDI, "4601", 2026, 7, 1)
        assert runner.wait_for(app.position(), timeout=10)
    finally:
        runner.stop()
    assert places.places_for_year(engine, "4601", 2026)["persons"]["requested"] == 7


def test_views_reached_tells_whether_every_view_has_caught_up_with_a_position(app, engine, history):
    catch_up(app, engine)
    assert views_reached(engine, app.position(), timeout=0)
    later = app.request_settlement(IMDI, "4601", 2026, 7, 1).position
    assert not views_reached(engine, later, timeout=0.1)
    catch_up(app, engine)
    assert views_reached(engine, later, timeout=0)


def test_a_database_error_in_a_batch_is_logged_without_the_rows_personal_data(app, engine, history, monkeypatch,
                                                                               caplog):
    catch_up(app, engine)
    person = register(app, "Hemmelig Navnesen", born=date(1977, 3, 14))
    original = DatabaseRows.flush

    def flush_twice(self):
        # The batch's rows written a second time: a real database error (duplicate keys) whose
        # statement carries the rows' values, the person's name and birth date among them.
        again = {name: [dict(self.cache[name][k]) for k in keys if self.cache[name][k] is not None]
                 for name, keys in self.dirty.items()}
        original(self)
        for name, rows in again.items():
            if rows and self.projection.name == "person_folders":
                self.conn.execute(self.tables[name].insert(), rows)

    monkeypatch.setattr(DatabaseRows, "flush", flush_twice)
    runner = Runner(app, engine)
    with caplog.at_level(logging.DEBUG), pytest.raises(Exception) as failed:
        runner.run_forever()
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
