"""Live views within a second: new events wake the idle runner; polling covers a lost notification.

The runners here poll every 60 s, so a runner that catches up well before that was woken. The
waits are generous (20 s) for a busy machine: they bound a hang, they time nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from projections.catalog import PROJECTIONS
from projections.engine.runner import Runner
from projections.engine.store import open_read_store
from projections.engine.wakeup import Wakeup
from settlement_domain import commands as c
from settlement_domain.application import SettlementApp
from settlement_domain.persistence import NOTIFY_SETTING, store_environment
from tests.given import IMDI
from tests.given.builders import municipalities

LONG_POLL = 60.0
BOUND = 20.0


@pytest.fixture
def live(app: SettlementApp, engine: Engine) -> Iterator[Runner]:
    """A live runner of every read model, caught up, that polls only once a minute."""
    runner = Runner(app, engine, PROJECTIONS.values(), poll_interval=LONG_POLL)
    runner.catch_up()
    yield runner
    runner.stop()
    runner.wakeup.close()
    runner.release()


def test_a_write_of_the_runners_own_process_wakes_it(app: SettlementApp, live: Runner) -> None:
    app.on_saved.append(live.wakeup.wake)
    live.start()
    municipalities(app)
    assert live.wait_for(app.position(), timeout=BOUND)


@pytest.mark.postgres
def test_notify_from_another_process_wakes_the_runner(postgres_url: str, engine_of_url: Engine) -> None:
    """Every committed append sends NOTIFY on the schema's channel; a runner listening hears it."""
    reader = SettlementApp(store_environment(postgres_url))
    writer = SettlementApp(store_environment(postgres_url))  # another process: no hook into the runner
    runner = Runner(reader, engine_of_url, PROJECTIONS.values(), poll_interval=LONG_POLL)
    try:
        runner.catch_up()
        runner.wakeup.listen(postgres_url)
        assert runner.wakeup.listening.wait(BOUND)
        runner.start()
        runner.wakeup.wait(0)  # forget the wake-up of the listener's start
        municipalities(writer)
        assert runner.wait_for(writer.position(), timeout=BOUND)
        assert runner.wakeup.heard >= 1
    finally:
        runner.stop()
        runner.wakeup.close()
        runner.release()
        reader.close()
        writer.close()


@pytest.mark.postgres
def test_a_lost_notification_is_covered_by_polling(postgres_url: str, engine_of_url: Engine) -> None:
    """A write whose NOTIFY was lost (a writer that sends none): the runner finds it at its poll."""
    reader = SettlementApp(store_environment(postgres_url))
    writer = SettlementApp({**store_environment(postgres_url), NOTIFY_SETTING: "n"})
    assert writer.notify_sql is None and reader.notify_sql is not None
    runner = Runner(reader, engine_of_url, PROJECTIONS.values(), poll_interval=0.2)
    try:
        runner.catch_up()
        runner.wakeup.listen(postgres_url)
        assert runner.wakeup.listening.wait(BOUND)
        runner.start()
        writer.handle(IMDI, c.RegisterMunicipality("0301", "Oslo", "Oslo"))
        assert runner.wait_for(writer.position(), timeout=BOUND)
        assert runner.wakeup.heard == 0  # nothing was heard: the poll found it
    finally:
        runner.stop()
        runner.wakeup.close()
        runner.release()
        reader.close()
        writer.close()


def test_polling_finds_what_no_one_announced(app: SettlementApp, engine: Engine) -> None:
    """No wake-up at all (a write of another process on SQLite, say): the poll finds it."""
    runner = Runner(app, engine, PROJECTIONS.values(), poll_interval=0.2, wakeup=Wakeup())
    runner.catch_up()
    runner.start()
    try:
        municipalities(app)  # this process's hook is not registered here
        assert runner.wait_for(app.position(), timeout=BOUND)
    finally:
        runner.stop()
        runner.release()


@pytest.fixture
def engine_of_url(postgres_url: str) -> Iterator[Engine]:
    engine = open_read_store(postgres_url)
    yield engine
    engine.dispose()
