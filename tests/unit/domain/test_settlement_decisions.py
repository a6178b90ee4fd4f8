"""R5: IMDi decides that a selected person is settled in the municipality. The decision keeps the
place the selection took (default year: the list's year, no vacancy check); naming another year moves
the place there, checked against that year's vacant places unless IMDi gives an override reason."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from settlement_domain import commands as c
from settlement_domain.errors import Refusal, RuleViolation
from tests.given import (
    BERGEN,
    IMDI,
    OSLO,
    TODAY,
    decided,
    decided_quota,
    distribution_list,
    events_since,
    not_found,
    person,
    refused,
    selected,
    types_since,
)


@pytest.fixture
def oslo_selected(given):
    """Oslo decided one place for 2025 and selected one person into it; 2025 has no vacant place left."""
    decided_quota(given, persons=1, minors=0, year=2025)
    someone = person(given)
    selected(given, OSLO, [someone])
    return someone


def test_a_decision_keeps_the_place_the_selection_took_and_issues_two_letters(given, oslo_selected):
    app = given
    before = app.position()
    result = app.handle(IMDI, c.DecideSettlement(oslo_selected, "0301"))
    assert types_since(app, before) == ["SettlementDecided", "LetterIssued", "LetterIssued"]
    decision, *letters = events_since(app, before)
    assert (decision.municipality, decision.year, decision.decided_on, decision.override_reason) == (
        "0301",
        2025,
        TODAY,
        None,
    )
    assert {(e.kind, e.channel, e.year) for e in letters} == {
        ("decision_municipality", "digital", 2025),
        ("decision_person", "post", 2025),
    }
    assert result.extra["letter_ids"] == [str(e.originator_id) for e in letters]
    refugee = app.refugee(oslo_selected)
    assert (refugee.decided_for, refugee.decision_year, refugee.place) == ("0301", 2025, ("0301", 2025))
    assert app.quota_year("0301", 2025).used == (1, 0)  # the same place, not a second one


def test_a_decision_naming_the_lists_year_keeps_the_place_too(given, oslo_selected):
    before = given.position()
    given.handle(IMDI, c.DecideSettlement(oslo_selected, "0301", year=2025))
    assert "SettlementPlaceTaken" not in types_since(given, before)
    assert given.quota_year("0301", 2025).used == (1, 0)


def test_the_default_year_is_the_lists_year(given):
    app = given
    decided_quota(app, persons=1, minors=0, year=2026)
    someone = person(app)
    selected(app, OSLO, [someone], year=2026)
    app.handle(IMDI, c.DecideSettlement(someone, "0301"))
    assert app.refugee(someone).decision_year == 2026
    assert app.quota_year("0301", 2026).used == (1, 0)


def test_naming_another_year_moves_the_place_there(given, oslo_selected):
    app = given
    decided_quota(app, persons=3, minors=0, year=2026)
    before = app.position()
    app.handle(IMDI, c.DecideSettlement(oslo_selected, "0301", year=2026))
    assert types_since(app, before) == [
        "SettlementDecided",
        "SettlementPlaceTaken",
        "SettlementPlaceReleased",
        "LetterIssued",
        "LetterIssued",
    ]
    _, taken, released, *letters = events_since(app, before)
    assert (taken.year, taken.refugee_id, taken.override_reason) == (2026, oslo_selected, None)
    assert (released.year, released.refugee_id, released.to_year) == (2025, oslo_selected, 2026)
    assert {letter.year for letter in letters} == {2026}
    assert app.quota_year("0301", 2025).used == (0, 0)
    assert app.quota_year("0301", 2026).used == (1, 0)
    assert app.refugee(oslo_selected).place == ("0301", 2026)


def test_moving_a_minors_place_moves_a_minors_place(given):
    app = given
    decided_quota(app, persons=1, minors=1, year=2025)
    decided_quota(app, persons=1, minors=1, year=2026)
    minor = person(app, minor=True)
    selected(app, OSLO, [minor])
    decided(app, minor, year=2026)
    assert (app.quota_year("0301", 2025).used, app.quota_year("0301", 2026).used) == ((0, 0), (1, 1))


def test_moving_a_place_is_refused_past_the_vacant_places_of_the_new_year(given, oslo_selected):
    app = given
    decided_quota(app, persons=2, minors=0, year=2026)
    other = person(app)
    selected(app, OSLO, [other], year=2026)
    decided(app, other)  # keeps its 2026 place: 1 of 2 used
    third = person(app)
    selected(app, OSLO, [third], year=2026)  # 2 of 2 used
    with refused(app, "R5", Refusal.STATE) as caught:
        app.handle(IMDI, c.DecideSettlement(oslo_selected, "0301", year=2026))
    assert caught.value.field == "override_reason"
    assert "0301 decided 2 places for 2026, 2 are used and 0 vacant; 1 asked" in caught.value.message
    assert app.refugee(oslo_selected).decided_for is None


def test_moving_a_place_to_a_year_without_a_quota_decision_is_refused(given, oslo_selected):
    with refused(given, "R5", Refusal.STATE) as caught:
        given.handle(IMDI, c.DecideSettlement(oslo_selected, "0301", year=2026))
    assert caught.value.field == "override_reason"
    assert "0301 has recorded no quota decision for 2026" in caught.value.message
    assert given.quota_year("0301", 2026) is None


def test_moving_a_minors_place_needs_a_vacant_minors_place(given):
    app = given
    decided_quota(app, persons=1, minors=1, year=2025)
    decided_quota(app, persons=5, minors=0, year=2026)
    minor = person(app, minor=True)
    selected(app, OSLO, [minor])
    with refused(app, "R5", Refusal.STATE) as caught:
        app.handle(IMDI, c.DecideSettlement(minor, "0301", year=2026))
    assert "places for unaccompanied minors for 2026" in caught.value.message


def test_with_an_override_reason_imdi_moves_a_place_past_the_quota_counted_over_quota(given, oslo_selected):
    app = given
    decided_quota(app, persons=0, minors=0, year=2026)
    before = app.position()
    app.handle(IMDI, c.DecideSettlement(oslo_selected, "0301", year=2026, override_reason="Family nearby"))
    decision, taken = events_since(app, before)[:2]
    assert decision.override_reason == taken.override_reason == "Family nearby"
    year = app.quota_year("0301", 2026)
    assert (year.used, year.over_quota_persons, year.over_quota_minors, year.vacant()) == (
        (1, 0),
        1,
        0,
        (-1, 0),
    )


def test_an_override_into_a_year_without_a_decision_is_counted_over_quota(given, oslo_selected):
    given.handle(IMDI, c.DecideSettlement(oslo_selected, "0301", year=2026, override_reason="Urgent"))
    year = given.quota_year("0301", 2026)
    assert (year.decided, year.used, year.over_quota_persons, year.vacant()) == (None, (1, 0), 1, None)


def test_an_override_where_a_place_is_vacant_is_not_over_quota(given, oslo_selected):
    decided_quota(given, persons=1, minors=0, year=2026)
    given.handle(IMDI, c.DecideSettlement(oslo_selected, "0301", year=2026, override_reason="Just in case"))
    year = given.quota_year("0301", 2026)
    assert (year.used, year.over_quota_persons, year.vacant()) == ((1, 0), 0, (0, 0))


def test_a_minor_over_quota_is_counted_among_over_quota_minors(given):
    app = given
    decided_quota(app, persons=1, minors=1, year=2025)
    decided_quota(app, persons=1, minors=0, year=2026)
    minor = person(app, minor=True)
    selected(app, OSLO, [minor])
    decided(app, minor, year=2026, override_reason="Sibling lives there")
    year = app.quota_year("0301", 2026)
    # A person's place was vacant, a minor's was not: only the minor's place is over the quota.
    assert (year.used, year.over_quota_persons, year.over_quota_minors, year.vacant()) == (
        (1, 1),
        0,
        1,
        (0, -1),
    )


def test_over_quota_minors_do_not_let_a_revision_go_below_the_places_used_within_the_quota(given):
    app = given
    decided_quota(app, persons=1, minors=0, year=2026)
    minor = person(app, minor=True)
    decided_quota(app, persons=1, minors=1, year=2025)
    selected(app, OSLO, [minor])
    decided(app, minor, year=2026, override_reason="Sibling lives there")
    with refused(app, "R2"):  # the person's place is within the quota: 0 persons would make vacant -1
        app.handle(IMDI, c.DecideQuota("0301", 2026, 0, 0, TODAY - timedelta(days=1)))


def test_a_blank_override_reason_is_no_override(given, oslo_selected):
    with refused(given, "R5", Refusal.STATE):
        given.handle(IMDI, c.DecideSettlement(oslo_selected, "0301", year=2026, override_reason="   "))


def test_a_decision_needs_the_person_selected_by_that_municipality(given_places):
    app = given_places
    someone = person(app)
    with refused(app, "R5", Refusal.STATE) as caught:
        app.handle(IMDI, c.DecideSettlement(someone, "0301", 2025))
    assert caught.value.field == "municipality"
    distribution_list(app, "0301", [someone])
    with refused(app, "R5", Refusal.STATE):  # proposed is not selected
        app.handle(IMDI, c.DecideSettlement(someone, "0301", 2025))


def test_a_decision_for_another_municipality_than_the_selecting_one_is_refused(given_places):
    app = given_places
    someone = person(app)
    selected(app, BERGEN, [someone])
    with refused(app, "R5", Refusal.STATE):
        app.handle(IMDI, c.DecideSettlement(someone, "0301", 2025))
    with refused(app, "R5", Refusal.STATE):  # not even with an override
        app.handle(IMDI, c.DecideSettlement(someone, "0301", 2025, override_reason="Please"))


def test_a_person_is_decided_only_once(given, oslo_selected):
    decided(given, oslo_selected)
    with refused(given, "R5", Refusal.STATE):
        given.handle(IMDI, c.DecideSettlement(oslo_selected, "0301"))
    with refused(given, "R5", Refusal.STATE):
        given.handle(IMDI, c.DecideSettlement(oslo_selected, "0301", year=2026, override_reason="again"))


@pytest.mark.parametrize("year", [1999, TODAY.year + 3])
def test_a_decisions_year_lies_between_2000_and_two_years_ahead(given, oslo_selected, year):
    with refused(given, "R5", Refusal.INPUT) as caught:
        given.handle(IMDI, c.DecideSettlement(oslo_selected, "0301", year=year))
    assert caught.value.field == "year"


def test_a_decision_names_a_municipality_by_four_digits_and_a_registered_person(given, oslo_selected):
    with refused(given, "roles", Refusal.INPUT) as caught:
        given.handle(IMDI, c.DecideSettlement(oslo_selected, "Oslo"))
    assert caught.value.field == "municipality"
    with not_found(given):
        given.handle(IMDI, c.DecideSettlement(uuid4(), "0301"))


def test_only_imdi_makes_settlement_decisions(given, oslo_selected):
    with refused(given, "R5", Refusal.FORBIDDEN) as caught:
        given.handle(OSLO, c.DecideSettlement(oslo_selected, "0301", 2025))
    assert caught.value.message == "Only IMDi may make settlement decisions."


def test_a_quota_year_releases_only_a_place_it_holds(given):
    from settlement_domain.model import QuotaYear

    year = QuotaYear(meta={}, municipality="0301", year=2025)
    with pytest.raises(RuleViolation) as refused_release:
        year.release_place({}, uuid4(), unaccompanied_minor=False, to_year=2026)
    assert refused_release.value.rule == "R5" and year.places_taken == 0
