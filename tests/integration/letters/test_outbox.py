"""R9 on both backends: the outbox sends each issued letter through its channel and records it once;
a digital letter not opened 48 hours after dispatch goes by post once, even with two workers; one
opened at 47:59 is never printed; a letter to a person goes by post directly; a municipality without
an organisation number or a postal address gets a clear failure that IMDi can retry."""

from __future__ import annotations

import json
import threading
from uuid import UUID

import pytest

from projections.letters import letter as letter_row
from settlement_domain import commands as c
from tests.given import IMDI, events_named
from tests.given.letters import Clock, assert_pdf_a, letter_history, oslo_contact, outbox_for, pdf_text
from tests.integration.projections.conftest import catch_up


def tick(app, engine, outbox, now=None):
    catch_up(app, engine)
    report = outbox.tick(now)
    catch_up(app, engine)
    return report


def test_each_letter_goes_out_once_digital_to_the_municipality_paper_to_the_person(app, engine, tmp_path):
    history = letter_history(app)
    clock = Clock()
    outbox = outbox_for(app, engine, tmp_path, clock)
    first = tick(app, engine, outbox)
    assert first.dispatched == 4 and first.failed == 0
    again = tick(app, engine, outbox)
    assert again.dispatched == 0
    dispatched = {e.originator_id: e for e in events_named(app, "LetterDispatched")}
    assert len(dispatched) == len(events_named(app, "LetterDispatched")) == 4
    person_letter = dispatched[history.letters["decision_person"]]
    assert (person_letter.delivery, person_letter.channel) == ("paper", "paper")
    for kind in ("request", "selection", "decision_municipality"):
        sent = dispatched[history.letters[kind]]
        assert (sent.delivery, sent.channel, sent.dispatched_at) == ("digital", "file", clock.now)
        folder = tmp_path / "outbox" / str(history.letters[kind])
        meta = json.loads((folder / "forsendelse.json").read_text())
        assert meta["eksternReferanse"] == str(history.letters[kind])
        assert meta["mottaker"]["digitalAdresse"] == {"orgnr": "974760673"}
        assert meta["mottaker"]["postAdresse"]["postnr"] == "0130"
        (pdf,) = [p for p in folder.iterdir() if p.suffix == ".pdf"]
        assert_pdf_a(pdf.read_bytes())
    printed = (tmp_path / "print" / f"{history.letters['decision_person']}.pdf").read_bytes()
    text = " ".join(pdf_text(printed, tmp_path).split())
    assert text.startswith("Integrerings- og mangfoldsdirektoratet (IMDi)")
    assert "Adresseark for brev" in text and "Tøyengata 7 0578 Oslo" in text
    row = letter_row(engine, str(history.letters["decision_person"]))
    assert row["status"] == "posted" and [h["event"] for h in row["history"]] == ["issued", "dispatched"]


def test_opened_at_47h59_is_never_printed_unopened_at_48h_is_printed_once(app, engine, tmp_path):
    history = letter_history(app)
    clock = Clock()
    outbox = outbox_for(app, engine, tmp_path, clock)
    tick(app, engine, outbox)
    opened, unopened = history.letters["request"], history.letters["selection"]
    outbox.channels.by_name["file"].mark_opened(opened, clock.at(hours=47, minutes=59))
    # Nothing at 47:59 yet: the opened letter's status is seen, the other waits a minute more.
    report = tick(app, engine, outbox, clock.at(hours=47, minutes=59))
    assert report.fell_back == 0 and report.opened == 1
    assert events_named(app, "LetterOpened")[0].opened_at == clock.at(hours=47, minutes=59)
    report = tick(app, engine, outbox, clock.at(hours=48))
    assert report.fell_back == 2  # the selection letter and the decision letter to Oslo
    fell = {e.originator_id for e in events_named(app, "LetterFellBackToPaper")}
    assert opened not in fell and unopened in fell
    assert not (tmp_path / "print" / f"{opened}.pdf").exists()
    assert (tmp_path / "print" / f"{unopened}.pdf").exists()
    for hours in (48, 49, 72):
        assert tick(app, engine, outbox, clock.at(hours=hours)).fell_back == 0
    assert len(events_named(app, "LetterFellBackToPaper")) == 2
    papers = [e for e in events_named(app, "LetterDispatched") if e.delivery == "paper"]
    assert sorted(str(e.originator_id) for e in papers) == sorted(
        str(i)
        for i in (unopened, history.letters["decision_municipality"], history.letters["decision_person"])
    )
    row = letter_row(engine, str(unopened))
    assert row["status"] == "posted"
    assert [h["event"] for h in row["history"]] == ["issued", "dispatched", "fell_back", "dispatched"]
    assert letter_row(engine, str(opened))["status"] == "opened"


def test_an_opening_the_channel_reports_late_but_dated_before_48h_prevents_the_paper(app, engine, tmp_path):
    history = letter_history(app)
    clock = Clock()
    outbox = outbox_for(app, engine, tmp_path, clock)
    tick(app, engine, outbox)
    letter_id = history.letters["request"]
    outbox.channels.by_name["file"].mark_opened(letter_id, clock.at(hours=47, minutes=59))
    # The first look at the channel comes after the deadline: it still finds the opening in time.
    report = tick(app, engine, outbox, clock.at(hours=50))
    assert letter_id not in {e.originator_id for e in events_named(app, "LetterFellBackToPaper")}
    assert report.opened == 1


def test_two_workers_ticking_at_48h_record_the_fallback_and_the_paper_once(app, engine, tmp_path):
    history = letter_history(app)
    clock = Clock()
    first = outbox_for(app, engine, tmp_path, clock, locked=False)
    second = outbox_for(app, engine, tmp_path, clock, locked=False)
    tick(app, engine, first)
    catch_up(app, engine)
    clock.at(hours=48)
    reports = []
    workers = [threading.Thread(target=lambda o=o: reports.append(o.tick())) for o in (first, second)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sum(r.fell_back for r in reports) == 3
    fallbacks = events_named(app, "LetterFellBackToPaper")
    assert len(fallbacks) == len({e.originator_id for e in fallbacks}) == 3
    # Again, one after the other, later: nothing more.
    for outbox in (first, second, first):
        assert tick(app, engine, outbox, clock.at(hours=49)).fell_back == 0
    papers = [e for e in events_named(app, "LetterDispatched") if e.delivery == "paper"]
    assert len(papers) == len({e.originator_id for e in papers}) == 4  # three fallbacks and the person's
    assert len(list((tmp_path / "print").glob("*.pdf"))) == 4
    assert history.letters["request"] in {e.originator_id for e in fallbacks}


def test_two_workers_with_the_lock_one_of_them_works(app, engine, tmp_path):
    letter_history(app)
    clock = Clock()
    first, second = outbox_for(app, engine, tmp_path, clock), outbox_for(app, engine, tmp_path, clock)
    catch_up(app, engine)
    with first._exclusive() as mine:
        assert mine
        assert second.tick().busy
    assert tick(app, engine, second).dispatched == 4


def test_a_municipality_without_organisation_number_or_address_fails_clearly_until_imdi_retries(
    app, engine, tmp_path
):
    history = letter_history(app, bergen_request=True)
    clock = Clock()
    outbox = outbox_for(app, engine, tmp_path, clock)
    tick(app, engine, outbox)
    (failure,) = events_named(app, "LetterDeliveryFailed")
    assert failure.originator_id == history.letters["bergen"]
    assert failure.permanent and failure.next_attempt_at is None
    assert "Bergen kommune har ikke oppgitt organisasjonsnummer" in failure.reason
    row = letter_row(engine, str(history.letters["bergen"]))
    assert (row["status"], row["needs_attention"]) == ("failed", True)
    assert tick(app, engine, outbox, clock.at(hours=5)).failed == 0  # it waits for IMDi
    contact = oslo_contact(organisation_number="964338531")
    from settlement_domain.context import Role
    from tests.given import ctx_for

    app.handle(ctx_for(Role.MUNICIPALITY, "4601"), c.UpdateContact("4601", contact))
    app.handle(IMDI, c.RetryLetterDelivery(history.letters["bergen"]))
    assert tick(app, engine, outbox, clock.at(hours=6)).dispatched == 1
    sent = json.loads((tmp_path / "outbox" / str(history.letters["bergen"]) / "forsendelse.json").read_text())
    assert sent["mottaker"]["digitalAdresse"]["orgnr"] == "964338531"
    assert sent["mottaker"]["postAdresse"]["navn"] == "Bergen kommune"
    assert letter_row(engine, str(history.letters["bergen"]))["status"] == "digital"


def test_a_crash_after_the_channel_took_the_letter_records_it_without_sending_again(app, engine, tmp_path):
    history = letter_history(app)
    clock = Clock()
    outbox = outbox_for(app, engine, tmp_path, clock)
    catch_up(app, engine)
    letter_id = history.letters["request"]
    sent_before = outbox.channels.digital.send  # the channel takes it, the worker dies before recording
    from api.letters.render import LetterData

    letter = app.repository.get(letter_id)
    shipment_id = sent_before(outbox._shipment(letter, LetterData.of(letter), "digital"))
    sends = []
    outbox.channels.digital.send = lambda shipment: sends.append(shipment) or "never"
    tick(app, engine, outbox)
    recorded = [e for e in events_named(app, "LetterDispatched") if e.originator_id == letter_id]
    assert [e.shipment_id for e in recorded] == [shipment_id]
    assert letter_id not in {s.letter_id for s in sends}


def test_a_letter_already_dispatched_is_refused_a_second_record(app, engine, tmp_path):
    history = letter_history(app)
    outbox = outbox_for(app, engine, tmp_path, Clock())
    tick(app, engine, outbox)
    letter_id = history.letters["request"]
    assert not outbox._record(c.RecordLetterDispatch(letter_id, "digital", "file", "again", Clock().now))
    assert (
        len([e for e in events_named(app, "LetterDispatched") if e.originator_id == UUID(str(letter_id))])
        == 1
    )


def test_a_missing_font_is_a_failure_shown_on_the_letter_and_tried_again(app, engine, tmp_path):
    history = letter_history(app)
    clock = Clock()
    outbox = outbox_for(app, engine, tmp_path, clock)
    outbox.renderer = type(outbox.renderer)(tmp_path / "no-fonts")
    assert tick(app, engine, outbox).failed == 4
    row = letter_row(engine, str(history.letters["request"]))
    assert (row["status"], row["needs_attention"]) == ("pending", False)
    assert row["failure_reason"] == "Brevet kan ikke lages: skriften mangler på serveren"
    outbox.renderer = type(outbox.renderer)()
    assert tick(app, engine, outbox, clock.at(minutes=2)).dispatched == 4


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_worker_of_another_store_in_the_same_database_does_not_hold_this_ones_lock(app, engine, tmp_path):
    """The outbox's advisory lock is per schema: a store in another schema of the same PostgreSQL
    database (another environment, another test) never makes this one's worker wait."""
    from sqlalchemy import text

    from api.letters.outbox import OUTBOX_LOCK

    outbox = outbox_for(app, engine, tmp_path, Clock())
    with engine.connect() as other:
        other.execute(text("create schema if not exists outbox_lock_neighbour"))
        other.execute(text("set search_path to outbox_lock_neighbour"))
        from projections.engine.generations import lock_key

        neighbour = lock_key(other, OUTBOX_LOCK)
        assert other.execute(text("select pg_try_advisory_lock(:k)"), {"k": neighbour}).scalar_one()
        try:
            with outbox._exclusive() as mine:
                assert mine  # the neighbour's worker holds its own lock, not this store's
        finally:
            other.execute(text("select pg_advisory_unlock(:k)"), {"k": neighbour})
            other.execute(text("drop schema outbox_lock_neighbour"))
            other.commit()
