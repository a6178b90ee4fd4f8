"""Stopping the live runner (server shutdown, SIGTERM, Ctrl-C) finishes the batch in hand first."""

from __future__ import annotations

import signal
import threading

import pytest

from api.cli.projections import stop_after_batch
from projections.catalog import PROJECTIONS
from projections.engine.runner import status
from settlement_domain.model import QuotaYear
from tests.integration.projections.conftest import runner


def test_stop_waits_for_the_batch_in_hand_which_commits_whole(app, engine, history, monkeypatch):
    in_batch, go_on = threading.Event(), threading.Event()
    fold = PROJECTIONS["places"].handlers[QuotaYear.SettlementRequested]

    def slow(event, position, rows):
        in_batch.set()
        assert go_on.wait(10)
        fold(event, position, rows)

    monkeypatch.setitem(PROJECTIONS["places"].handlers, QuotaYear.SettlementRequested, slow)
    live = runner(app, engine, poll_interval=0.05)
    live.start()
    assert in_batch.wait(10), "the runner never reached the slow event"
    stopping = threading.Thread(target=live.stop)
    stopping.start()
    stopping.join(0.3)
    assert stopping.is_alive(), "stop() returned while a batch was still in hand"
    go_on.set()
    stopping.join(10)
    assert not stopping.is_alive()
    # The batch was the whole history: every read model reached the log's head, none half-way.
    assert {s.position for s in status(app, engine, PROJECTIONS.values())} == {app.position()}
    assert live.error is None


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_a_signal_stops_projections_run_after_its_batch(app, engine, history, monkeypatch, signal_name):
    live = runner(app, engine, poll_interval=0.05)
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        stop_after_batch(live)
        fold = PROJECTIONS["places"].handlers[QuotaYear.SettlementRequested]
        sent = []

        def signalled(event, position, rows):
            if not sent:  # the signal arrives in the middle of the batch
                sent.append(signal.raise_signal(getattr(signal, signal_name)))
            fold(event, position, rows)

        monkeypatch.setitem(PROJECTIONS["places"].handlers, QuotaYear.SettlementRequested, signalled)
        live.run_forever()  # returns once the batch is done, as `settlement projections run` does
        assert sent
        assert {s.position for s in status(app, engine, PROJECTIONS.values())} == {app.position()}
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
