"""R18: IMDi erases a person's personal data; refused while the case is open (R18a-R18d) or a letter
naming the person is not delivered yet (R18e)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from settlement_domain import commands as c
from settlement_domain.context import Actor, CommandContext, Role
from settlement_domain.errors import Refusal
from settlement_domain.values import Mapping
from tests.given import (
    IMDI,
    OSLO,
    TODAY,
    decided,
    distribution_list,
    events_since,
    not_found,
    person,
    refused,
    selected,
    types_since,
)

OUTBOX = Actor("letter-outbox", Role.IMDI)


def erase(refugee_id):
    return c.ErasePersonalData(refugee_id, "GDPR art. 17", "the person asked")


def test_a_registered_person_is_erased_with_the_legal_basis_and_the_reason(given):
    someone = person(given, name="Erased Person")
    before = given.position()
    assert given.handle(IMDI, erase(someone)).extra == {"erased": True}
    assert types_since(given, before) == ["PersonalDataErased"]
    (erased,) = events_since(given, before)
    assert (erased.legal_basis, erased.reason) == ("GDPR art. 17", "the person asked")
    case = given.refugee(someone)
    assert case.erased and case.personal == {"erased": True} and case.mapping is None
    # Nothing personal is recorded again (R18), and a second erasure is refused (R18d).
    with refused(given, "R18", Refusal.STATE):
        given.handle(IMDI, c.RecordMapping(someone, Mapping(health_needs="x")))
    with refused(given, "R18d", Refusal.STATE):
        given.handle(IMDI, erase(someone))


def test_erasure_waits_while_the_case_is_open(given_places):
    listed = person(given_places)
    distribution_list(given_places, "0301", [listed])
    with refused(given_places, "R18a", Refusal.STATE):
        given_places.handle(IMDI, erase(listed))
    chosen = person(given_places, private=True)
    selected(given_places, OSLO, [chosen])
    with refused(given_places, "R18b", Refusal.STATE):
        given_places.handle(IMDI, erase(chosen))
    decided(given_places, chosen)
    with refused(given_places, "R18b", Refusal.STATE):
        given_places.handle(IMDI, erase(chosen))
    given_places.handle(OSLO, c.RegisterSettlementDate(chosen, TODAY))
    deviating = person(given_places)
    deviation = given_places.handle(IMDI, c.OpenDeviation(deviating, "identity", "x")).extra["deviation_id"]
    with refused(given_places, "R18c", Refusal.STATE):
        given_places.handle(IMDI, erase(deviating))
    given_places.handle(IMDI, c.ResolveDeviation(deviating, deviation, "done"))
    # Settled, or the deviation resolved: the case is closed and can be erased.
    given_places.handle(IMDI, erase(chosen))
    given_places.handle(IMDI, erase(deviating))


def test_only_imdi_erases_and_needs_a_legal_basis_and_a_reason(given):
    someone = person(given)
    with refused(given, "R18", Refusal.FORBIDDEN):
        given.handle(OSLO, erase(someone))
    with refused(given, "R18", Refusal.INPUT):
        given.handle(IMDI, c.ErasePersonalData(someone, " ", "reason"))
    with refused(given, "R18", Refusal.INPUT):
        given.handle(IMDI, c.ErasePersonalData(someone, "GDPR art. 17", ""))
    with refused(given, "R18", Refusal.INPUT):
        given.handle(IMDI, c.ErasePersonalData(someone, "GDPR art. 17", "x" * 1001))


def test_an_unknown_person_is_not_found(given):
    with not_found(given):
        given.handle(IMDI, erase(uuid4()))


def _letters_naming(app):
    """The lookup an edge gives the application (R18e), here from the log itself: every letter ever
    issued naming the person (a superset is fine: each letter's own state decides)."""

    def lookup(person_id):
        issued = (app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(1, 10_000))
        return [
            e.originator_id
            for e in issued
            if type(e).__name__ == "LetterIssued" and person_id in e.person_ids
        ]

    return lookup


def test_erasure_waits_for_the_letters_naming_the_person(given_places):
    """R18e: a letter naming the person that is not delivered (waiting, to be tried again, or digital
    and unopened, which may still go by post) holds the erasure; delivered or failed for good, not."""
    given_places.letters_naming = _letters_naming(given_places)
    chosen = person(given_places, private=True)
    selected(given_places, OSLO, [chosen])
    decided(given_places, chosen)
    given_places.handle(OSLO, c.RegisterSettlementDate(chosen, TODAY))
    letters = _letters_naming(given_places)(chosen)
    assert len(letters) == 3  # the selection letter and the decision's two
    with refused(given_places, "R18e", Refusal.STATE) as refusal:
        given_places.handle(IMDI, erase(chosen))
    assert refusal.value.params == {"count": 3}

    outbox = CommandContext(OUTBOX, "outbox")
    at = datetime(2025, 6, 16, 9, tzinfo=UTC)
    for letter_id in letters:
        letter = given_places.repository.get(letter_id)
        if letter.pending == "digital":
            given_places.handle(outbox, c.RecordLetterDispatch(letter_id, "digital", "svarut", "s-1", at))
        else:  # the person's letter: failed for good (no address)
            given_places.handle(
                outbox, c.RecordLetterDeliveryFailure(letter_id, "paper", "paper", "no address", True)
            )
    # Sent by digital post, not opened: they may still go by post (R9).
    with refused(given_places, "R18e", Refusal.STATE) as refusal:
        given_places.handle(IMDI, erase(chosen))
    assert refusal.value.params == {"count": 2}
    for letter_id in letters:
        if given_places.repository.get(letter_id).digital_dispatched_at is not None:
            given_places.handle(outbox, c.RecordLetterOpened(letter_id, at, "channel"))
    given_places.handle(IMDI, erase(chosen))
    assert given_places.refugee(chosen).erased
