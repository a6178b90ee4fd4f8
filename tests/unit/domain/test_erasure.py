"""R18: IMDi erases a person's personal data; refused while the case is open (R18a-R18d)."""

from __future__ import annotations

from uuid import uuid4

from settlement_domain import commands as c
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
