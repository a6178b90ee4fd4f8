"""R14: the process that runs the projections expires read records past the retention period by itself
(projections/read_expiry.py), at start and then periodically, one process at a time, finishing a round
that was interrupted between the key's deletion and the audit trail's rebuild; on both backends."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import eventsourcing.domain
import pytest

from api.cli.main import main
from api.http.app import create_app
from projections import audit_trail, read_expiry
from projections.catalog import PROJECTIONS
from projections.engine.rebuild import rebuild
from projections.engine.runner import Runner
from projections.read_expiry import ExpiryOutcome, exclusive, expire_reads, read_expiry_steps
from settlement_domain import commands as c
from settlement_domain.application import SettlementApp
from tests.e2e.conftest import settings_for
from tests.given import IMDI, TODAY, registration

OLD = datetime(2019, 1, 15, 12, tzinfo=UTC)


class Clock:
    """The runner's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _a_person_read_in_2019_and_now(app: SettlementApp, monkeypatch: pytest.MonkeyPatch) -> UUID:
    person = UUID(app.handle(IMDI, registration(name="Ortvin Quelmsdatter")).id)
    with monkeypatch.context() as old:
        old.setattr(eventsourcing.domain, "datetime_now_with_tzinfo", lambda: OLD)
        app.handle(IMDI, c.RecordFolderRead(person))
        app.handle(IMDI, c.RecordPersonalDataListed("GET /refugees", (person, person)))
    app.handle(IMDI, c.RecordFolderRead(person))  # a read of now, in the current month
    return person


def _reads_of(engine: Any, person: UUID) -> list[str]:
    """The years of the read records the audit search finds for the person."""
    found = audit_trail.audit_events(engine, person=str(person), limit=500)["items"]
    return sorted(
        str(e["recorded_at"])[:4] for e in found if e["type"] in ("PersonFolderViewed", "PersonalDataListed")
    )


def _month_keys(app: SettlementApp) -> dict[str, bool]:
    assert app.personal_keys is not None
    return dict(app.personal_keys.key_ids("reads:"))


def _current_month() -> str:
    now = datetime.now(UTC)
    return f"reads:{now.year:04d}-{now.month:02d}"


def _runner(app: SettlementApp, engine: Any, clock: Clock, minutes: float = 60) -> Runner:
    steps = read_expiry_steps(app, engine, PROJECTIONS.values(), years=5, minutes=minutes)
    return Runner(app, engine, PROJECTIONS.values(), periodic=steps, monotonic=clock, poll_interval=0.02)


def _spy(runner: Runner) -> list[ExpiryOutcome]:
    """The outcomes of the runner's expiry rounds, in order."""
    outcomes: list[ExpiryOutcome] = []
    (task,) = runner.periodic
    step = task.step
    task.step = lambda: outcomes.append(step())
    return outcomes


def _rebuild_is_equal(app: SettlementApp, engine: Any) -> bool:
    return rebuild(app, engine, [audit_trail.PROJECTION]).equal


def test_the_runner_deletes_an_old_months_key_at_its_periodic_step_and_never_the_current_one(
    app, engine, monkeypatch
):
    person = _a_person_read_in_2019_and_now(app, monkeypatch)
    clock = Clock()
    runner = _runner(app, engine, clock)
    outcomes = _spy(runner)
    try:
        runner.catch_up()
        assert _reads_of(engine, person) == ["2019", "2019", str(datetime.now(UTC).year)]
        assert _month_keys(app) == {"reads:2019-01": True, _current_month(): True}

        assert runner.run_periodic() == 1  # the first turn is at start
        assert outcomes == [ExpiryOutcome(["reads:2019-01"], rebuilt=True)]
        assert _month_keys(app) == {"reads:2019-01": False, _current_month(): True}
        # The audit trail was rebuilt: the old reads no longer name the person; the current one does.
        assert _reads_of(engine, person) == [str(datetime.now(UTC).year)]
        assert _rebuild_is_equal(app, engine)

        clock.now += 59 * 60  # not yet the next turn
        assert runner.run_periodic() == 0
        clock.now += 60
        assert runner.run_periodic() == 1
        assert outcomes[1] == ExpiryOutcome([], rebuilt=False)  # nothing past the limit: no work
        assert _month_keys(app)[_current_month()] is True
    finally:
        runner.release()


def test_the_live_runner_expires_at_start_by_itself(app, engine, monkeypatch):
    person = _a_person_read_in_2019_and_now(app, monkeypatch)
    runner = _runner(app, engine, Clock())
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while _month_keys(app)["reads:2019-01"] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _month_keys(app) == {"reads:2019-01": False, _current_month(): True}
        assert runner.wait_for(app.recorder.max_notification_id() or 0, timeout=20)
        deadline = time.monotonic() + 20
        while len(_reads_of(engine, person)) != 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _reads_of(engine, person) == [str(datetime.now(UTC).year)]
        assert runner.error is None
    finally:
        runner.stop()
    # The round ran in a thread of its own beside the batches, and the stop waited for it.
    (task,) = runner.periodic
    assert task.thread is None and task.due is not None


def test_a_round_interrupted_before_the_rebuild_is_finished_by_the_next(app, engine, monkeypatch, caplog):
    person = _a_person_read_in_2019_and_now(app, monkeypatch)
    clock = Clock()
    runner = _runner(app, engine, clock)
    outcomes = _spy(runner)
    try:
        runner.catch_up()

        def crash(*args: Any, **kwargs: Any) -> None:
            raise OSError("the process died here")

        with monkeypatch.context() as broken:
            broken.setattr(read_expiry, "rebuild", crash)
            assert runner.run_periodic() == 1
        assert "read expiry (R14) failed: OSError" in caplog.text
        # The key is gone but the audit trail still names the person of the expired reads.
        assert _month_keys(app)["reads:2019-01"] is False
        assert _reads_of(engine, person).count("2019") == 2
        assert runner.error is None

        clock.now += 3600
        runner.run_periodic()
        assert outcomes == [ExpiryOutcome([], rebuilt=True)]  # nothing left to delete; rebuilt
        assert _reads_of(engine, person) == [str(datetime.now(UTC).year)]
        assert _rebuild_is_equal(app, engine)
    finally:
        runner.release()


def test_a_clock_far_ahead_deletes_nothing_and_the_runner_goes_on(app, engine, monkeypatch, caplog):
    _a_person_read_in_2019_and_now(app, monkeypatch)
    far = date(datetime.now(UTC).year + 7, 6, 16)
    monkeypatch.setattr(app, "clock", lambda: far)
    runner = _runner(app, engine, Clock())
    outcomes = _spy(runner)
    try:
        runner.catch_up()
        assert runner.run_periodic() == 1
        assert outcomes == [ExpiryOutcome()]
        assert "R14" in caplog.text
        assert all(_month_keys(app).values())  # the current month's key never, so none at all
    finally:
        runner.release()


def test_one_process_at_a_time(app, engine, monkeypatch):
    _a_person_read_in_2019_and_now(app, monkeypatch)
    now = datetime.now(UTC).date()
    with exclusive(engine, wait=False) as mine:
        assert mine
        held = expire_reads(app, engine, today=TODAY, years=5, now=now)
        assert held == ExpiryOutcome(busy=True)
        assert _month_keys(app)["reads:2019-01"] is True
    done = expire_reads(app, engine, today=TODAY, years=5, now=now)
    assert done == ExpiryOutcome(["reads:2019-01"], rebuilt=True)


def test_turned_off_the_runner_has_no_expiry_step(app, engine):
    assert read_expiry_steps(app, engine, PROJECTIONS.values(), years=5, minutes=0) == []
    # A worker that does not keep the audit trail leaves the expiry to the one that does.
    assert read_expiry_steps(app, engine, [PROJECTIONS["places"]], years=5, minutes=60) == []


def test_projections_run_once_expires_too(app, database_url, monkeypatch, capsys):
    """The worker's command line (``settlement projections run``) carries the same step: ``--once``
    catches up and runs it once."""
    _a_person_read_in_2019_and_now(app, monkeypatch)
    monkeypatch.setenv("SETTLEMENT_READ_RETENTION_YEARS", "5")
    assert main(["projections", "--database-url", database_url, "run", "--once"]) == 0
    assert _month_keys(app) == {"reads:2019-01": False, _current_month(): True}
    monkeypatch.setenv("SETTLEMENT_READ_EXPIRY_MINUTES", "0")  # off: the worker leaves it to the cron
    with monkeypatch.context() as old:
        old.setattr(
            eventsourcing.domain, "datetime_now_with_tzinfo", lambda: datetime(2019, 2, 15, tzinfo=UTC)
        )
        app.handle(IMDI, c.RecordFolderRead(_a_person(app)))
    assert main(["projections", "--database-url", database_url, "run", "--once"]) == 0
    assert _month_keys(app)["reads:2019-02"] is True


def test_the_server_runs_the_step_beside_its_embedded_runner(database_url, tmp_path):
    app = create_app(settings_for(database_url, tmp_path), clock=lambda: TODAY)
    try:
        (task,) = app.state.runner.periodic
        assert task.name == "read expiry (R14)" and task.every == 3600
    finally:
        app.state.runner.release()
        app.state.reads.engine.dispose()
        app.state.settlement.close()
    off = create_app(settings_for(database_url, tmp_path, read_expiry_minutes=0), clock=lambda: TODAY)
    try:
        assert off.state.runner.periodic == []
    finally:
        off.state.runner.release()
        off.state.reads.engine.dispose()
        off.state.settlement.close()


def _a_person(app: SettlementApp) -> UUID:
    return UUID(app.handle(IMDI, registration(name="Another Readperson")).id)
