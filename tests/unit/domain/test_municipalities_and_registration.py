"""The registry (lifecycle 1) and registration of persons (lifecycle 4): accepted and refused.

Value objects (postal address, residence, contact information) refuse malformed input when they are
made, so the tests make them inside ``refused``.
"""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID, uuid4

import pytest

from settlement_domain import commands as c
from settlement_domain.errors import Refusal
from settlement_domain.model import FAMILY_IDS_KEY, Family, FamilyKey
from settlement_domain.model.family import derive_family_id
from settlement_domain.values import Mapping, PostalAddress, Residence, ResidenceKind
from tests.given import (
    ADDRESS,
    BERGEN,
    IMDI,
    OSLO,
    RECEPTION,
    TODAY,
    contact,
    events_since,
    not_found,
    person,
    refused,
    registration,
)

# The registry ---------------------------------------------------------------------------------


def test_imdi_registers_a_municipality_by_its_number(app):
    result = app.handle(IMDI, c.RegisterMunicipality("5001", "Trondheim", "Trøndelag"))
    registered = events_since(app, 0)[0]
    assert (type(registered).__name__, registered.number, registered.name, registered.county) == (
        "MunicipalityRegistered",
        "5001",
        "Trondheim",
        "Trøndelag",
    )
    assert isinstance(UUID(result.id), UUID)
    assert app.municipality("5001").name == "Trondheim"


def test_a_municipality_is_registered_only_once(given):
    with refused(given, "registry", Refusal.STATE) as caught:
        given.handle(IMDI, c.RegisterMunicipality("0301", "Oslo", "Oslo"))
    assert caught.value.field == "number"


def test_only_imdi_registers_municipalities(given):
    with refused(given, "roles", Refusal.FORBIDDEN):
        given.handle(OSLO, c.RegisterMunicipality("5001", "Trondheim", "Trøndelag"))


@pytest.mark.parametrize(
    "number", ["501", "٥٠٠١", "50011", "abcd"], ids=["three-digits", "arabic-indic", "five", "letters"]
)
def test_a_municipality_number_has_four_ascii_digits(given, number):
    with refused(given, "roles", Refusal.INPUT) as caught:
        given.handle(IMDI, c.RegisterMunicipality(number, "Trondheim", "Trøndelag"))
    assert caught.value.field == "number"


def test_a_municipality_needs_a_name_and_a_county(given):
    with refused(given, "registry", Refusal.INPUT) as caught:
        given.handle(IMDI, c.RegisterMunicipality("5001", " ", "Trøndelag"))
    assert caught.value.field == "name"


def test_the_municipality_keeps_its_contact_information_current(given):
    before = given.position()
    given.handle(OSLO, c.UpdateContact("0301", contact()))
    updated = events_since(given, before)[0]
    assert type(updated).__name__ == "ContactInformationUpdated"
    assert given.municipality("0301").contact == {
        "contact_person": "Kari Nordmann",
        "email": "kari@oslo.kommune.no",
        "phone": "+47 21 80 21 80",
        "postal_address": ADDRESS,
    }


def test_imdi_may_update_a_municipalitys_contact_information(given):
    given.handle(IMDI, c.UpdateContact("4601", contact(contact_person="Per Hansen")))
    assert given.municipality("4601").contact["contact_person"] == "Per Hansen"


def test_a_municipality_cannot_update_anothers_contact_information(given):
    with refused(given, "roles", Refusal.FORBIDDEN):
        given.handle(BERGEN, c.UpdateContact("0301", contact()))


def test_contact_information_for_an_unknown_municipality_is_not_found(given):
    with not_found(given):
        given.handle(IMDI, c.UpdateContact("9999", contact()))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "no-at-sign"}, "email"),
        ({"contact_person": " "}, "contact_person"),
        ({"phone": ""}, "phone"),
    ],
)
def test_malformed_contact_information_is_refused_when_it_is_made(given, changes, field):
    with refused(given, "registry", Refusal.INPUT) as caught:
        given.handle(OSLO, c.UpdateContact("0301", contact(**changes)))
    assert caught.value.field == field


def test_a_contact_address_with_a_malformed_postal_code_is_refused_by_the_registry(given):
    with refused(given, "registry", Refusal.INPUT) as caught:
        given.handle(
            OSLO,
            c.UpdateContact(
                "0301", contact(postal_address=PostalAddress("Storgata 1", "12", "Oslo", rule="registry"))
            ),
        )
    assert caught.value.field == "postal_address.postal_code"


# Registration -----------------------------------------------------------------------------------


def test_registration_keeps_personal_data_in_its_personal_field(given):
    before = given.position()
    someone = person(given, family_id="fam-x", name="Amina Test")
    events = events_since(given, before)
    # The store's first family: a store that keeps keys (SQLite, PostgreSQL) keeps its family key in
    # the key table (R18); the in-memory store records it in the log.
    in_log = [] if given.personal_keys is not None else ["FamilyKeyCreated"]
    assert [type(e).__name__ for e in events] == [
        "RefugeeRegistered",
        *in_log,
        "FamilyFormed",
        "FamilyMemberAdded",
    ]
    registered, member = events[0], events[-1]
    assert registered.personal["full_name"] == "Amina Test"
    assert registered.personal["postal_address"] == ADDRESS
    assert "Amina" not in repr({k: v for k, v in vars(registered).items() if k != "personal"})
    assert registered.family_id == "fam-x" and registered.family_ref == events[-2].originator_id
    assert member.refugee_id == someone


def test_a_familys_id_comes_from_the_stores_key_not_from_its_text(given):
    before = given.position()
    person(given, family_id="fam-rahimi")
    person(given, family_id="fam-other")
    events = events_since(given, before)
    formed = [e for e in events if type(e).__name__ == "FamilyFormed"]
    if given.personal_keys is None:
        key = given.repository.get(FamilyKey.create_id())
        assert sum(type(e).__name__ == "FamilyKeyCreated" for e in events) == 1  # one key per store
        assert [e.originator_id for e in formed] == [key.family_id("fam-rahimi"), key.family_id("fam-other")]
    else:  # the key table's key (R18), never in the log
        secret = given.personal_keys.store_key(FAMILY_IDS_KEY)
        assert not any(type(e).__name__ == "FamilyKeyCreated" for e in events)
        assert [e.originator_id for e in formed] == [
            derive_family_id(secret, "fam-rahimi"),
            derive_family_id(secret, "fam-other"),
        ]
    assert Family.create_id("fam-rahimi") not in {e.originator_id for e in formed}


def test_a_family_formed_before_the_key_keeps_its_id_and_gains_members(given):
    # A store from before family keys: the family's id is its text's natural id.
    old = Family(meta=IMDI.meta(), family_id="fam-old")
    first = person(given)
    old.add_member(IMDI.meta(), first)
    given.save(old)
    second = person(given, family_id="fam-old")
    assert given.repository.get(Family.create_id("fam-old")).members == [first, second]


def test_a_second_family_member_joins_the_family(given):
    first = person(given, family_id="fam-y")
    before = given.position()
    second = person(given, family_id="fam-y")
    assert [type(e).__name__ for e in events_since(given, before)] == [
        "RefugeeRegistered",
        "FamilyMemberAdded",
    ]
    assert events_since(given, before)[1].refugee_id == second != first


def test_imdi_registers_resettlement_refugees(given):
    result = given.handle(IMDI, registration(category="resettlement"))
    assert given.refugee(result.id).category == "resettlement"


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: registration(name=" "), "full_name"),
        (lambda: registration(category="tourist"), "category"),
        (lambda: registration(birth_date=TODAY + timedelta(days=1)), "birth_date"),
        (lambda: registration(birth_date=date(1899, 12, 31)), "birth_date"),
        (
            lambda: c.RegisterRefugee(
                full_name="A",
                birth_date=date(1990, 1, 1),
                family_id=None,
                unaccompanied_minor=True,
                residence=Residence(ResidenceKind.PRIVATE),
                postal_address=PostalAddress(**ADDRESS),
                category="asylum",
            ),
            "unaccompanied_minor",
        ),
        (
            lambda: c.RegisterRefugee(
                full_name="A",
                birth_date=date(1990, 1, 1),
                family_id=None,
                unaccompanied_minor=False,
                residence=Residence("hotel"),
                postal_address=PostalAddress(**ADDRESS),
                category="asylum",
            ),
            "residence.kind",
        ),
        (lambda: Residence(ResidenceKind.RECEPTION_CENTRE), "residence.centre_id"),
        (lambda: Residence(ResidenceKind.RECEPTION_CENTRE, "  "), "residence.centre_id"),
        (lambda: PostalAddress(**{**ADDRESS, "postal_code": "12"}), "postal_address.postal_code"),
        (lambda: PostalAddress(**{**ADDRESS, "postal_code": "٠١٥٠"}), "postal_address.postal_code"),
        (lambda: PostalAddress(**{**ADDRESS, "street": ""}), "postal_address.street"),
    ],
    ids=[
        "blank-name",
        "tourist",
        "born-tomorrow",
        "born-1899",
        "adult-minor",
        "hotel",
        "no-centre",
        "blank-centre",
        "postal-code-12",
        "arabic-indic-postal-code",
        "no-street",
    ],
)
def test_registration_refuses_malformed_persons(given, make, field):
    with refused(given, "registration", Refusal.INPUT) as caught:
        given.handle(RECEPTION, make())
    assert caught.value.field == field


def test_a_private_residence_names_no_centre(given):
    assert Residence("private", "ignored").as_dict() == {"kind": "private"}


def test_only_imdi_and_reception_register_refugees(given):
    for ctx in (OSLO, BERGEN):
        with refused(given, "roles", Refusal.FORBIDDEN):
            given.handle(ctx, registration())


# Mapping ----------------------------------------------------------------------------------------


def test_mapping_is_recorded_by_reception(given):
    someone = person(given)
    before = given.position()
    given.handle(
        RECEPTION, c.RecordMapping(someone, Mapping("Upper secondary", "Carpenter", ("ar", "en"), "None"))
    )
    recorded = events_since(given, before)[0]
    assert type(recorded).__name__ == "MappingRecorded"
    assert recorded.personal["work_experience"] == "Carpenter"
    assert given.refugee(someone).mapping["languages"] == ["ar", "en"]


def test_municipalities_do_not_record_mappings(given):
    someone = person(given)
    with refused(given, "roles", Refusal.FORBIDDEN):
        given.handle(OSLO, c.RecordMapping(someone, Mapping()))


def test_a_mapping_of_an_unknown_person_is_not_found(given):
    with not_found(given):
        given.handle(RECEPTION, c.RecordMapping(uuid4(), Mapping()))


# Unknown ids ------------------------------------------------------------------------------------


def test_ids_of_unknown_aggregates_are_not_found(given):
    with not_found(given):
        given.refugee("not-a-uuid")
    with not_found(given):
        given.refugee(uuid4())
    with not_found(given):
        given.municipality("9999")
    with not_found(given):
        given.distribution_list(given.municipality("0301").id)  # an id of another kind
    with not_found(given):
        given.handle(IMDI, c.AnswerSupportCase(uuid4(), "x", close=True))
    assert given.quota_year("0301", 2025) is None
