"""R3 (IMDi proposes persons on a distribution list for a settlement year) and R4 (the municipality
answers for every person; accepting selects and takes places of the list's year), accepted and refused."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID, uuid4

import pytest

from settlement_domain import commands as c
from settlement_domain.errors import Refusal
from settlement_domain.values import Decline
from tests.given import (
    BERGEN,
    IMDI,
    OSLO,
    RECEPTION,
    TODAY,
    decided_quota,
    distribution_list,
    events_named,
    events_since,
    not_found,
    person,
    refused,
    selected,
    types_since,
)

# R3 -------------------------------------------------------------------------------------------


def test_imdi_proposes_a_whole_family_on_a_list(given):
    app = given
    family = [person(app, family_id="fam-1"), person(app, family_id="fam-1")]
    before = app.position()
    list_id = distribution_list(app, "0301", family)
    assert types_since(app, before) == ["DistributionListCreated", "RefugeeProposed", "RefugeeProposed"]
    dlist = app.distribution_list(list_id)
    # Keyed by the family's id, never by its text (R18: the text may name the family).
    family_ref = app.refugee(family[0]).family_ref
    assert family_ref is not None and app.refugee(family[1]).family_ref == family_ref
    assert dlist.families == {str(family_ref): family}
    assert (dlist.municipality, dlist.status.value) == ("0301", "open")
    assert all(app.refugee(r).open_list_id == list_id for r in family)
    assert all(app.refugee(r).proposed_to == "0301" for r in family)


def test_a_list_names_its_settlement_year(given):
    someone = person(given)
    list_id = distribution_list(given, "0301", [someone], year=2026)
    created = events_named(given, "DistributionListCreated")[0]
    assert created.year == 2026
    assert given.distribution_list(list_id).year == 2026


def test_a_lists_year_defaults_to_the_year_of_its_respond_by_date(given):
    this_year, next_year = person(given), person(given)
    distribution_list(given, "0301", [this_year])  # to answer within 14 days: this year
    january = date(TODAY.year + 1, 1, 10)
    list_id = UUID(given.handle(IMDI, c.CreateDistributionList("0301", (next_year,), january)).id)
    assert events_named(given, "DistributionListCreated")[0].year == TODAY.year
    assert (given.distribution_list(list_id).respond_by, given.distribution_list(list_id).year) == (
        january,
        TODAY.year + 1,
    )


@pytest.mark.parametrize("year", [1999, TODAY.year + 3])
def test_a_lists_year_lies_between_2000_and_two_years_ahead(given, year):
    someone = person(given)
    with refused(given, "R3", Refusal.INPUT) as caught:
        distribution_list(given, "0301", [someone], year=year)
    assert caught.value.field == "year"
    assert given.refugee(someone).open_list_id is None


@pytest.mark.parametrize("year", [2000, TODAY.year + 2])
def test_a_lists_year_may_be_any_year_within_the_bounds(given, year):
    list_id = distribution_list(given, "0301", [person(given)], year=year)
    assert given.distribution_list(list_id).year == year


def test_a_respond_by_date_far_ahead_gives_a_year_out_of_bounds(given):
    someone = person(given)
    with refused(given, "R3", Refusal.INPUT) as caught:
        given.handle(IMDI, c.CreateDistributionList("0301", (someone,), TODAY.replace(year=TODAY.year + 3)))
    assert caught.value.field == "year"


def test_a_family_is_never_split_across_lists(given):
    app = given
    mother, child = person(app, family_id="fam-2"), person(app, family_id="fam-2")
    with refused(app, "R3", Refusal.STATE) as caught:
        distribution_list(app, "0301", [mother])
    assert str(child) in caught.value.message
    assert app.refugee(child).open_list_id is None


def test_a_person_on_an_open_list_cannot_be_proposed_again(given):
    app = given
    someone = person(app)
    distribution_list(app, "0301", [someone])
    with refused(app, "R3", Refusal.STATE):
        distribution_list(app, "4601", [someone])


def test_a_selected_person_cannot_be_proposed_again(given_places):
    app = given_places
    someone = person(app)
    selected(app, OSLO, [someone])
    with refused(app, "R3", Refusal.STATE):
        distribution_list(app, "4601", [someone])


def test_a_decided_person_cannot_be_proposed_again(given_places):
    app = given_places
    someone = person(app)
    selected(app, OSLO, [someone])
    app.handle(IMDI, c.DecideSettlement(someone, "0301"))
    with refused(app, "R3", Refusal.STATE):
        distribution_list(app, "4601", [someone])


def test_lists_name_registered_persons_once_and_a_future_respond_by(given):
    app = given
    with refused(app, "R3", Refusal.INPUT) as caught:
        distribution_list(app, "0301", [uuid4()])
    assert caught.value.field == "refugee_ids"
    someone = person(app)
    with refused(app, "R3", Refusal.INPUT) as caught:
        distribution_list(app, "0301", [someone, someone])
    assert caught.value.field == "refugee_ids"
    with refused(app, "R3", Refusal.INPUT) as caught:
        app.handle(IMDI, c.CreateDistributionList("0301", (someone,), TODAY))
    assert caught.value.field == "respond_by"
    with refused(app, "R3", Refusal.INPUT) as caught:
        app.handle(IMDI, c.CreateDistributionList("0301", (), TODAY + timedelta(days=1)))
    assert caught.value.field == "refugee_ids"


def test_a_list_goes_to_a_registered_municipality(given):
    someone = person(given)
    with not_found(given):
        distribution_list(given, "9999", [someone])
    with refused(given, "roles", Refusal.INPUT) as caught:
        distribution_list(given, "99", [someone])
    assert caught.value.field == "municipality"


def test_only_imdi_creates_lists(given):
    someone = person(given)
    for ctx in (OSLO, RECEPTION):
        with refused(given, "R3", Refusal.FORBIDDEN):
            given.handle(ctx, c.CreateDistributionList("0301", (someone,), TODAY + timedelta(days=3)))


def test_withdrawing_a_list_frees_its_persons(given):
    app = given
    someone = person(app)
    list_id = distribution_list(app, "0301", [someone])
    before = app.position()
    app.handle(IMDI, c.WithdrawDistributionList(list_id, "Wrong municipality"))
    assert types_since(app, before) == ["DistributionListWithdrawn", "ProposalWithdrawn"]
    assert events_since(app, before)[0].reason == "Wrong municipality"
    assert app.refugee(someone).open_list_id is None
    distribution_list(app, "4601", [someone])  # free again
    with refused(app, "R3", Refusal.STATE):
        app.handle(IMDI, c.WithdrawDistributionList(list_id, "again"))


def test_a_withdrawal_needs_a_reason_and_imdi(given):
    list_id = distribution_list(given, "0301", [person(given)])
    with refused(given, "R3", Refusal.INPUT) as caught:
        given.handle(IMDI, c.WithdrawDistributionList(list_id, "  "))
    assert caught.value.field == "reason"
    with refused(given, "R3", Refusal.FORBIDDEN):
        given.handle(OSLO, c.WithdrawDistributionList(list_id, "Not for us"))
    with not_found(given):
        given.handle(IMDI, c.WithdrawDistributionList(uuid4(), "Unknown"))


def test_an_approved_list_cannot_be_withdrawn(given_places):
    list_id = selected(given_places, OSLO, [person(given_places)])
    with refused(given_places, "R3", Refusal.STATE):
        given_places.handle(IMDI, c.WithdrawDistributionList(list_id, "Too late"))


# R4 -------------------------------------------------------------------------------------------


def test_approval_selects_the_accepted_takes_their_places_and_frees_the_declined(given_places):
    app = given_places
    family = [person(app, family_id="f"), person(app, family_id="f")]
    single = person(app)
    list_id = distribution_list(app, "0301", [*family, single])
    before = app.position()
    result = app.handle(
        OSLO, c.ApproveDistributionList(list_id, tuple(family), (Decline(single, "No suitable housing"),))
    )
    assert types_since(app, before) == [
        "DistributionListApproved",
        "PlacesTakenBySelection",
        "RefugeeSelected",
        "RefugeeSelected",
        "RefugeeDeclined",
        "LetterIssued",
    ]
    approved, taken, *_, declined, letter = events_since(app, before)
    assert (approved.accepted, approved.declined, approved.approved_on) == (
        family,
        [{"refugee_id": single, "reason": "No suitable housing"}],
        TODAY,
    )
    assert (taken.year, taken.list_id, taken.refugee_ids, taken.unaccompanied_minors) == (
        2025,
        list_id,
        family,
        0,
    )
    assert declined.reason == "No suitable housing"
    assert (letter.kind, letter.channel, letter.person_ids) == ("selection", "digital", family)
    assert result.extra["selected"] == [str(r) for r in family]
    assert app.refugee(family[0]).selected_by == "0301"
    assert app.refugee(family[0]).place == ("0301", 2025)
    assert app.refugee(single).selected_by is None
    assert app.distribution_list(list_id).status.value == "approved"
    assert app.quota_year("0301", 2025).used == (2, 0)
    distribution_list(app, "4601", [single])  # a declined person may go on another list


def test_a_list_declined_whole_takes_no_places_and_needs_no_quota(given):
    app = given
    someone = person(app)
    list_id = distribution_list(app, "0301", [someone])
    before = app.position()
    app.handle(OSLO, c.ApproveDistributionList(list_id, (), (Decline(someone, "No housing"),)))
    assert types_since(app, before) == ["DistributionListApproved", "RefugeeDeclined"]
    assert app.quota_year("0301", 2025) is None


def test_accepted_minors_take_places_for_unaccompanied_minors(given_places):
    app = given_places
    minor, adult = person(app, minor=True), person(app)
    selected(app, OSLO, [minor, adult])
    taken = events_named(app, "PlacesTakenBySelection")[0]
    assert taken.unaccompanied_minors == 1
    assert app.quota_year("0301", 2025).used == (2, 1)


def test_an_approval_names_every_person_exactly_once(given_places):
    app = given_places
    a, b = person(app), person(app)
    list_id = distribution_list(app, "0301", [a, b])
    with refused(app, "R4", Refusal.INPUT):
        app.handle(OSLO, c.ApproveDistributionList(list_id, (a,)))
    with refused(app, "R4", Refusal.INPUT):
        app.handle(OSLO, c.ApproveDistributionList(list_id, (a, b), (Decline(a, "twice"),)))
    with refused(app, "R4", Refusal.INPUT):
        app.handle(OSLO, c.ApproveDistributionList(list_id, (a, b, uuid4())))
    with refused(app, "R4", Refusal.INPUT) as caught:
        app.handle(OSLO, c.ApproveDistributionList(list_id, (a,), (Decline(b, "  "),)))
    assert caught.value.field == "declined"


def test_a_family_is_accepted_or_declined_whole(given_places):
    app = given_places
    family = [person(app, family_id="g"), person(app, family_id="g")]
    list_id = distribution_list(app, "0301", family)
    with refused(app, "R4", Refusal.INPUT):
        app.handle(OSLO, c.ApproveDistributionList(list_id, (family[0],), (Decline(family[1], "Only one"),)))


def test_only_the_lists_own_municipality_approves_while_open(given_places):
    app = given_places
    someone = person(app)
    list_id = distribution_list(app, "0301", [someone])
    with not_found(app):
        app.handle(BERGEN, c.ApproveDistributionList(list_id, (someone,)))
    with refused(app, "R4", Refusal.FORBIDDEN):
        app.handle(IMDI, c.ApproveDistributionList(list_id, (someone,)))
    app.handle(OSLO, c.ApproveDistributionList(list_id, (someone,)))
    with refused(app, "R4", Refusal.STATE):
        app.handle(OSLO, c.ApproveDistributionList(list_id, (someone,)))


def test_a_withdrawn_list_cannot_be_approved(given_places):
    someone = person(given_places)
    list_id = distribution_list(given_places, "0301", [someone])
    given_places.handle(IMDI, c.WithdrawDistributionList(list_id, "Changed plans"))
    with refused(given_places, "R4", Refusal.STATE):
        given_places.handle(OSLO, c.ApproveDistributionList(list_id, (someone,)))


# R4: the accepted persons must fit the vacant places of the list's year -----------------------


def test_approval_is_refused_when_the_accepted_exceed_the_vacant_places(given):
    app = given
    decided_quota(app, persons=1, minors=0)
    first, second = person(app), person(app)
    list_id = distribution_list(app, "0301", [first, second])
    with refused(app, "R4", Refusal.STATE) as caught:
        app.handle(OSLO, c.ApproveDistributionList(list_id, (first, second)))
    message = caught.value.message
    assert "0301 decided 1 place for 2025, 0 are used and 1 vacant; 2 asked" in message
    assert "Revise the quota decision (R2)" in message
    assert app.distribution_list(list_id).status.value == "open"
    assert app.refugee(first).selected_by is None


def test_approval_counts_the_places_already_used(given):
    app = given
    decided_quota(app, persons=3, minors=0)
    selected(app, OSLO, [person(app), person(app)])
    a, b = person(app), person(app)
    list_id = distribution_list(app, "0301", [a, b])
    with refused(app, "R4", Refusal.STATE) as caught:
        app.handle(OSLO, c.ApproveDistributionList(list_id, (a, b)))
    assert "decided 3 places for 2025, 2 are used and 1 vacant; 2 asked" in caught.value.message
    app.handle(OSLO, c.ApproveDistributionList(list_id, (a,), (Decline(b, "One place left"),)))
    assert app.quota_year("0301", 2025).vacant() == (0, 0)


def test_approval_is_refused_when_the_accepted_minors_exceed_the_vacant_minors_places(given):
    app = given
    decided_quota(app, persons=5, minors=0)
    minor = person(app, minor=True)
    list_id = distribution_list(app, "0301", [minor])
    with refused(app, "R4", Refusal.STATE) as caught:
        app.handle(OSLO, c.ApproveDistributionList(list_id, (minor,)))
    assert "decided 0 places for unaccompanied minors for 2025, 0 are used and 0 vacant; 1 asked" in (
        caught.value.message
    )


def test_approval_is_refused_without_a_quota_decision_for_the_lists_year(given):
    app = given
    app.handle(IMDI, c.RequestSettlement("0301", 2025, 10, 0))  # a request is no decision
    someone = person(app)
    list_id = distribution_list(app, "0301", [someone])
    with refused(app, "R4", Refusal.STATE) as caught:
        app.handle(OSLO, c.ApproveDistributionList(list_id, (someone,)))
    assert "0301 has recorded no quota decision for 2025" in caught.value.message


def test_approval_takes_places_of_the_lists_year_not_the_current_one(given):
    app = given
    decided_quota(app, persons=5, minors=0, year=2025)
    someone = person(app)
    list_id = distribution_list(app, "0301", [someone], year=2026)
    with refused(app, "R4", Refusal.STATE) as caught:
        app.handle(OSLO, c.ApproveDistributionList(list_id, (someone,)))
    assert "no quota decision for 2026" in caught.value.message
    decided_quota(app, persons=1, minors=0, year=2026)
    app.handle(OSLO, c.ApproveDistributionList(list_id, (someone,)))
    assert app.quota_year("0301", 2026).used == (1, 0)
    assert app.quota_year("0301", 2025).used == (0, 0)
    assert app.refugee(someone).place == ("0301", 2026)


def test_the_municipality_may_revise_its_decision_and_approve_again(given):
    app = given
    decided_quota(app, persons=1, minors=0, ctx=OSLO)
    family = [person(app, family_id="h"), person(app, family_id="h")]
    list_id = distribution_list(app, "0301", family)
    with refused(app, "R4", Refusal.STATE):
        app.handle(OSLO, c.ApproveDistributionList(list_id, tuple(family)))
    app.handle(OSLO, c.DecideQuota("0301", 2025, 2, 0, TODAY))
    app.handle(OSLO, c.ApproveDistributionList(list_id, tuple(family)))
    year = app.quota_year("0301", 2025)
    assert (year.decided, year.used, year.vacant()) == ((2, 0), (2, 0), (0, 0))
    assert [e.refugee_ids for e in events_named(app, "PlacesTakenBySelection")] == [family]
