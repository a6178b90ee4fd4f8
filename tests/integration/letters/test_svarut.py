"""R9 through a SvarUT-shaped server on 127.0.0.1 (both backends): the shipment's shape, opened from
SvarUT's status, and a server that is down, slow, answers 500 or 400, or took a shipment and crashed
before answering: retried with backoff and jitter, nothing lost, nothing recorded twice, and no
second shipment where the reference lookup finds the first."""

from __future__ import annotations

import json

import pytest

from api.bench.ports import free_port
from api.letters.channels import SvarUT
from api.letters.outbox import backoff
from api.letters.render import LetterData
from tests.given import events_named
from tests.given.letters import Clock, assert_pdf_a, letter_history, outbox_for
from tests.given.svarut import PASSWORD, USER, svarut_server
from tests.integration.letters.test_outbox import tick
from tests.integration.projections.conftest import catch_up


@pytest.fixture
def sleeps() -> list[float]:
    return []


def channel(url: str, sleeps: list[float], **options) -> SvarUT:
    return SvarUT(
        url,
        USER,
        PASSWORD,
        timeout=0.5,
        attempts=3,
        backoff=0.25,
        sleep=sleeps.append,
        jitter=lambda: 0.5,
        **options,
    )


def outbox_backoff(attempt: int):
    return backoff(attempt, lambda: 0.5)


MUNICIPALITY_LETTERS = ("request", "selection", "decision_municipality")


def dispatched_by_svarut(app) -> dict:
    return {e.originator_id: e for e in events_named(app, "LetterDispatched") if e.channel == "svarut"}


def test_letters_go_to_svarut_with_its_shape_and_are_opened_from_its_status(app, engine, tmp_path, sleeps):
    history = letter_history(app)
    clock = Clock()
    with svarut_server() as (url, server):
        outbox = outbox_for(app, engine, tmp_path, clock, channel(url, sleeps))
        assert tick(app, engine, outbox).dispatched == 4
        sent = dispatched_by_svarut(app)
        assert set(sent) == {history.letters[k] for k in MUNICIPALITY_LETTERS}
        for kind in MUNICIPALITY_LETTERS:
            letter_id = history.letters[kind]
            (shipment_id,) = server.sent_for(str(letter_id))
            assert sent[letter_id].shipment_id == shipment_id
            shipment = server.shipments[shipment_id]
            form = shipment["forsendelse"]
            assert form["mottaker"]["digitalAdresse"] == {"orgnr": "974760673"}
            assert form["mottaker"]["postAdresse"] == {
                "navn": "Oslo kommune",
                "adresse1": "Postboks 6999 St. Olavs plass",
                "postnr": "0130",
                "poststed": "Oslo",
            }
            (document,) = form["dokumenter"]
            assert document["mimeType"] == "application/pdf" and document["filnavn"].endswith(".pdf")
            assert_pdf_a(shipment["pdf"])
        server.read(sent[history.letters["request"]].shipment_id, clock.at(hours=47, minutes=59))
        report = tick(app, engine, outbox, clock.at(hours=48))
        assert report.opened == 1 and report.fell_back == 2
        (opened,) = events_named(app, "LetterOpened")
        assert (opened.originator_id, opened.opened_at, opened.source) == (
            history.letters["request"],
            clock.at(hours=47, minutes=59),
            "channel",
        )
        assert history.letters["request"] not in {
            e.originator_id for e in events_named(app, "LetterFellBackToPaper")
        }
        assert sleeps == []  # nothing had to be retried


def test_a_server_that_is_down_fails_for_now_and_the_letters_go_out_when_it_is_back(
    app, engine, tmp_path, sleeps
):
    letter_history(app)
    clock = Clock()
    port = free_port()
    outbox = outbox_for(app, engine, tmp_path, clock, channel(f"http://127.0.0.1:{port}", sleeps))
    report = tick(app, engine, outbox)
    assert report.failed == 3 and report.dispatched == 1  # the person's letter goes by paper
    failures = events_named(app, "LetterDeliveryFailed")
    assert {f.reason for f in failures} == {"Ingen forbindelse med SvarUT (ConnectError)"}
    assert all(not f.permanent and f.attempt == 1 and f.next_attempt_at > clock.now for f in failures)
    assert sleeps[:2] == [0.25, 0.5]  # backoff doubles, jitter at its middle
    assert tick(app, engine, outbox, clock.at(minutes=0.5)).failed == 0  # not yet time to try again
    with svarut_server(port) as (_, server):
        report = tick(app, engine, outbox, clock.at(minutes=2))
        assert report.dispatched == 3
        assert len(server.shipments) == 3
    assert len(dispatched_by_svarut(app)) == 3


def test_a_slow_server_is_timed_out_and_retried(app, engine, tmp_path, sleeps):
    letter_history(app)
    with svarut_server() as (url, server):
        server.slow, server.slow_calls = 1.5, 1
        outbox = outbox_for(app, engine, tmp_path, Clock(), channel(url, sleeps))
        report = tick(app, engine, outbox)
        assert report.dispatched == 4 and report.failed == 0
        assert len(sleeps) == 1
        assert len(server.shipments) == 3


def test_500_is_retried_with_backoff_and_a_lasting_one_waits_for_the_next_attempt(
    app, engine, tmp_path, sleeps
):
    letter_history(app)
    clock = Clock()
    with svarut_server() as (url, server):
        server.fail_500 = 2
        outbox = outbox_for(app, engine, tmp_path, clock, channel(url, sleeps))
        assert tick(app, engine, outbox).dispatched == 4
        assert sleeps == [0.25, 0.5]
        assert len(server.shipments) == 3
        server.read(next(iter(server.shipments)), clock.at(hours=1))
        server.fail_500 = 100  # SvarUT is down for a while: status polls and sends fail for now
        report = tick(app, engine, outbox, clock.at(hours=2))
        assert report.opened == 0 and report.failed == 0
    assert events_named(app, "LetterDeliveryFailed") == []


def test_a_lasting_500_is_recorded_with_its_next_attempt_then_sent(app, engine, tmp_path, sleeps):
    letter_history(app)
    clock = Clock()
    with svarut_server() as (url, server):
        server.fail_500 = 9  # three letters, three calls each
        outbox = outbox_for(app, engine, tmp_path, clock, channel(url, sleeps))
        assert tick(app, engine, outbox).failed == 3
        failures = events_named(app, "LetterDeliveryFailed")
        assert {f.reason for f in failures} == {"SvarUT svarte 500"}
        assert {f.next_attempt_at - clock.now for f in failures} == {outbox_backoff(1)}
        assert tick(app, engine, outbox, clock.at(minutes=1)).dispatched == 3
        assert len(server.shipments) == 3


def test_400_is_a_permanent_failure_shown_to_imdi(app, engine, tmp_path, sleeps):
    history = letter_history(app)
    with svarut_server() as (url, server):
        server.fail_400 = 1
        outbox = outbox_for(app, engine, tmp_path, Clock(), channel(url, sleeps))
        report = tick(app, engine, outbox)
        assert report.failed == 1 and report.dispatched == 3
        (failure,) = events_named(app, "LetterDeliveryFailed")
        assert failure.permanent and "avviste forsendelsen (400)" in failure.reason
        assert failure.originator_id == history.letters["request"]
        assert sleeps == []  # a 400 is not retried
        assert tick(app, engine, outbox).failed == 0


def test_a_shipment_taken_before_a_crash_is_found_by_its_reference_and_not_sent_again(
    app, engine, tmp_path, sleeps
):
    history = letter_history(app)
    with svarut_server() as (url, server):
        server.crash_after_accept = 1
        outbox = outbox_for(app, engine, tmp_path, Clock(), channel(url, sleeps))
        report = tick(app, engine, outbox)
        assert report.dispatched == 4 and report.failed == 0
        for kind in MUNICIPALITY_LETTERS:
            assert len(server.sent_for(str(history.letters[kind]))) == 1
        assert len(server.shipments) == 3
        sent = dispatched_by_svarut(app)
        assert len(sent) == len(events_named(app, "LetterDispatched")) - 1 == 3


def test_a_worker_that_died_after_sending_leaves_one_shipment_and_one_record(app, engine, tmp_path, sleeps):
    history = letter_history(app)
    with svarut_server() as (url, server):
        svarut = channel(url, sleeps)
        outbox = outbox_for(app, engine, tmp_path, Clock(), svarut)
        catch_up(app, engine)
        letter = app.repository.get(history.letters["selection"])
        first = svarut.send(
            outbox._shipment(letter, LetterData.of(letter), "digital")
        )  # then the worker died
        tick(app, engine, outbox)
        assert server.sent_for(str(letter.id)) == [first]
        assert dispatched_by_svarut(app)[letter.id].shipment_id == first
        assert json.dumps(server.calls).count("sendForsendelse") == 3
