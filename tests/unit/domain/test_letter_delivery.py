"""R9 in the domain: a delivery is recorded once; the fallback to post only 48 hours after a digital
dispatch and only when not opened before; opened only after a digital dispatch; IMDi retries only a
failed letter; organisation numbers have 9 digits. Version-1 events still load."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from api.letters.render import LetterData, letter_text
from settlement_domain import commands as c
from settlement_domain.model import Letter, Municipality
from tests.given import IMDI, OSLO, events_named, refused
from tests.given.letters import letter_history, oslo_contact
from tests.unit.domain.test_stored_events import rewritten, stored_events

SENT = datetime(2025, 6, 16, 9, tzinfo=UTC)


@pytest.fixture
def letters(app) -> dict[str, UUID]:
    return letter_history(app).letters


def dispatch(app, letter_id, at=SENT, delivery="digital", channel="file"):
    return app.handle(IMDI, c.RecordLetterDispatch(letter_id, delivery, channel, f"s-{letter_id}", at))


def test_a_delivery_is_recorded_once(app, letters):
    dispatch(app, letters["request"])
    with refused(app, "R9"):
        dispatch(app, letters["request"])
    with refused(app, "R9"):  # the person's letter goes by paper, never digitally
        dispatch(app, letters["decision_person"])
    dispatch(app, letters["decision_person"], delivery="paper", channel="paper")


def test_the_fallback_comes_48_hours_after_dispatch_and_only_once(app, letters):
    letter = letters["request"]
    with refused(app, "R9"):  # not sent yet
        app.handle(IMDI, c.FallBackToPaper(letter, SENT + timedelta(days=5)))
    dispatch(app, letter)
    with refused(app, "R9") as caught:
        app.handle(IMDI, c.FallBackToPaper(letter, SENT + timedelta(hours=47, minutes=59, seconds=59)))
    assert "not before" in caught.value.message
    app.handle(IMDI, c.FallBackToPaper(letter, SENT + timedelta(hours=48)))
    (fell,) = events_named(app, "LetterFellBackToPaper")
    assert (fell.due_at, fell.fallback_at) == (SENT + timedelta(hours=48), SENT + timedelta(hours=48))
    with refused(app, "R9"):
        app.handle(IMDI, c.FallBackToPaper(letter, SENT + timedelta(hours=49)))
    dispatch(app, letter, SENT + timedelta(hours=48), delivery="paper", channel="paper")


def test_opened_at_47h59_means_no_post_opened_at_48h_does_not_stop_it(app, letters):
    early, late = letters["request"], letters["selection"]
    for letter in (early, late):
        dispatch(app, letter)
    app.handle(IMDI, c.RecordLetterOpened(early, SENT + timedelta(hours=47, minutes=59), "channel"))
    app.handle(IMDI, c.RecordLetterOpened(late, SENT + timedelta(hours=48), "callback"))
    with refused(app, "R9") as caught:
        app.handle(IMDI, c.FallBackToPaper(early, SENT + timedelta(hours=48)))
    assert "opened in time" in caught.value.message
    app.handle(IMDI, c.FallBackToPaper(late, SENT + timedelta(hours=48)))


def test_opened_needs_a_digital_dispatch_and_a_second_opening_records_nothing(app, letters):
    with refused(app, "R9"):
        app.handle(IMDI, c.RecordLetterOpened(letters["request"], SENT, "callback"))
    dispatch(app, letters["request"])
    first = app.handle(IMDI, c.RecordLetterOpened(letters["request"], SENT + timedelta(hours=1), "callback"))
    again = app.handle(IMDI, c.RecordLetterOpened(letters["request"], SENT + timedelta(hours=2), "channel"))
    assert first.extra["recorded"] and not again.extra["recorded"]
    assert len(events_named(app, "LetterOpened")) == 1
    assert again.extra["opened_at"] == (SENT + timedelta(hours=1)).isoformat()


def test_imdi_retries_a_failed_letter_only(app, letters):
    letter = letters["request"]
    with refused(app, "R9"):
        app.handle(IMDI, c.RetryLetterDelivery(letter))
    app.handle(
        IMDI, c.RecordLetterDeliveryFailure(letter, "digital", "svarut", "SvarUT svarte 503", False, SENT)
    )
    with refused(app, "R9"):  # a temporary failure is retried by the outbox itself
        app.handle(IMDI, c.RetryLetterDelivery(letter))
    app.handle(IMDI, c.RecordLetterDeliveryFailure(letter, "digital", "svarut", "400", True, None))
    with refused(app, "R9"):  # waits for IMDi: no further failure is recorded
        app.handle(IMDI, c.RecordLetterDeliveryFailure(letter, "digital", "svarut", "400", True, None))
    app.handle(IMDI, c.RetryLetterDelivery(letter))
    dispatch(app, letter)
    failures = events_named(app, "LetterDeliveryFailed")
    assert [(f.attempt, f.permanent) for f in failures] == [(1, False), (2, True)]
    assert failures[1].next_attempt_at is None


def test_delivery_records_name_a_known_delivery_and_channel(app, letters):
    with refused(app, "R9") as caught:
        app.handle(IMDI, c.RecordLetterDispatch(letters["request"], "pigeon", "file", "s", SENT))
    assert caught.value.field == "delivery"
    with refused(app, "R9") as caught:
        app.handle(IMDI, c.RecordLetterDispatch(letters["request"], "digital", "fax", "s", SENT))
    assert caught.value.field == "channel"


@pytest.mark.parametrize("number", ["12345678", "1234567890", "97476067X", "٩٧٤٧٦٠٦٧٣", " "])
def test_an_organisation_number_has_nine_digits(given, number):
    with refused(given, "R9") as caught:
        given.handle(OSLO, c.UpdateContact("0301", oslo_contact(organisation_number=number)))
    assert caught.value.field == "organisation_number"
    with refused(given, "R9"):
        given.handle(IMDI, c.RegisterMunicipality("5001", "Trondheim", "Trøndelag", number))


def test_the_contacts_organisation_number_stands_before_the_registered_one(app):
    app.handle(IMDI, c.RegisterMunicipality("5001", "Trondheim", "Trøndelag", "942110464"))
    assert app.municipality("5001").organisation_number == "942110464"
    app.handle(IMDI, c.UpdateContact("5001", oslo_contact(organisation_number=None)))
    assert app.municipality("5001").organisation_number == "942110464"
    app.handle(IMDI, c.UpdateContact("5001", oslo_contact(organisation_number="974760673")))
    assert app.municipality("5001").organisation_number == "974760673"


def test_version_1_letters_and_municipalities_still_load(app, letters):
    def as_version_1_letter(state):
        del state["content"], state["personal"], state["class_version"]

    v1 = rewritten(app, stored_events(app, letters["request"])[0], as_version_1_letter)
    app.recorder.insert_events([v1])
    old = app.repository.get(v1.originator_id)
    assert isinstance(old, Letter) and (old.content, old.personal, old.kind) == ({}, {}, "request")
    data = LetterData.of(old)  # it renders from what it has: its kind, year and municipality
    assert (data.reference, data.title) == (
        f"{old.created_on.year}/{old.id.hex[:8].upper()}",
        "Anmodning om bosetting av flyktninger i 2025",
    )
    assert letter_text(data)["recipient"] == ["0301 kommune"]

    def as_version_1_municipality(state):
        del state["organisation_number"], state["class_version"]

    v1 = rewritten(app, stored_events(app, Municipality.create_id("0301"))[0], as_version_1_municipality)
    app.recorder.insert_events([v1])
    municipality = app.repository.get(v1.originator_id)
    assert municipality.name == "Oslo" and municipality.organisation_number is None
