"""R1 (IMDi's request for places) and R2 (the municipality's quota decision), accepted and refused."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from settlement_domain import commands as c
from settlement_domain.errors import Refusal
from settlement_domain.model import QuotaYear
from tests.given import (
    BERGEN,
    IMDI,
    OSLO,
    RECEPTION,
    TODAY,
    decided,
    decided_quota,
    events_named,
    events_since,
    not_found,
    person,
    refused,
    selected,
    types_since,
)

# R1 -------------------------------------------------------------------------------------------


def test_imdi_requests_places_and_a_request_letter_goes_out(given):
    app = given
    before = app.position()
    result = app.handle(IMDI, c.RequestSettlement("0301", 2025, 120, 10))
    assert types_since(app, before) == ["QuotaYearOpened", "SettlementRequested", "LetterIssued"]
    requested, letter = events_since(app, before)[1:]
    assert (requested.municipality, requested.year, requested.persons, requested.unaccompanied_minors) == (
        "0301",
        2025,
        120,
        10,
    )
    assert requested.meta == {
        "sub": "ingrid",
        "role": "imdi",
        "municipality": None,
        "correlation_id": IMDI.correlation_id,
    }
    assert (letter.kind, letter.channel, letter.municipality) == ("request", "digital", "0301")
    assert result.extra["letter_id"] == str(letter.originator_id)
    assert app.quota_year("0301", 2025).requested == (120, 10)


def test_a_revised_request_is_kept_with_its_reason(given):
    app = given
    app.handle(IMDI, c.RequestSettlement("0301", 2025, 120, 10))
    before = app.position()
    app.handle(IMDI, c.RequestSettlement("0301", 2025, 150, 12, reason="Higher national need"))
    revised = events_since(app, before)[0]
    assert (revised.persons, revised.revision, revised.reason) == (150, 1, "Higher national need")
    assert app.quota_year("0301", 2025).requested == (150, 12)


@pytest.mark.parametrize("reason", [None, "", "   "], ids=["none", "empty", "blank"])
def test_a_revision_without_reason_is_refused(given, reason):
    given.handle(IMDI, c.RequestSettlement("0301", 2025, 120, 10))
    with refused(given, "R1", Refusal.STATE) as caught:
        given.handle(IMDI, c.RequestSettlement("0301", 2025, 150, 12, reason=reason))
    assert caught.value.field == "reason"


def test_requests_for_other_years_and_municipalities_are_first_requests(given):
    given.handle(IMDI, c.RequestSettlement("0301", 2025, 120, 10))
    given.handle(IMDI, c.RequestSettlement("0301", 2026, 100, 10))
    given.handle(IMDI, c.RequestSettlement("4601", 2025, 80, 4))
    assert given.quota_year("0301", 2026).requested == (100, 10)
    assert given.quota_year("4601", 2025).requested == (80, 4)


def test_only_imdi_sends_requests(given):
    with refused(given, "R1", Refusal.FORBIDDEN):
        given.handle(OSLO, c.RequestSettlement("0301", 2025, 120, 10))


@pytest.mark.parametrize(
    ("year", "persons", "minors", "field"),
    [
        (2025, -1, 0, "persons"),
        (2025, 5, 6, "unaccompanied_minors"),
        (2025, 5, -1, "unaccompanied_minors"),
        (1999, 5, 0, "year"),
        (TODAY.year + 3, 5, 0, "year"),
    ],
)
def test_request_bounds(given, year, persons, minors, field):
    with refused(given, "R1", Refusal.INPUT) as caught:
        given.handle(IMDI, c.RequestSettlement("0301", year, persons, minors))
    assert caught.value.field == field


@pytest.mark.parametrize("year", [2000, TODAY.year + 2])
def test_request_years_from_2000_to_two_years_ahead_are_accepted(given, year):
    given.handle(IMDI, c.RequestSettlement("0301", year, 0, 0))
    assert given.quota_year("0301", year).requested == (0, 0)


def test_a_request_needs_a_registered_municipality(given):
    with not_found(given):
        given.handle(IMDI, c.RequestSettlement("9999", 2025, 10, 0))


def test_a_request_names_a_municipality_by_four_digits(given):
    with refused(given, "roles", Refusal.INPUT):
        given.handle(IMDI, c.RequestSettlement("301", 2025, 10, 0))


# R2 -------------------------------------------------------------------------------------------


def test_the_municipality_decides_its_quota_and_revisions_are_kept(given):
    app = given
    before = app.position()
    app.handle(OSLO, c.DecideQuota("0301", 2025, 100, 8, TODAY - timedelta(days=3)))
    app.handle(OSLO, c.DecideQuota("0301", 2025, 90, 8, TODAY))
    first, second = events_named(app, "QuotaDecided", before)
    assert (first.persons, first.revision, first.recorded_by_imdi) == (100, 0, False)
    assert (second.persons, second.revision, second.decided_on) == (90, 1, TODAY)
    assert app.quota_year("0301", 2025).decided == (90, 8)


def test_a_decision_needs_no_request_first(given):
    given.handle(OSLO, c.DecideQuota("0301", 2025, 5, 0, TODAY))
    year = given.quota_year("0301", 2025)
    assert (year.requested, year.decided) == (None, (5, 0))


def test_imdi_may_record_a_decision_on_the_municipalitys_behalf(given):
    before = given.position()
    given.handle(IMDI, c.DecideQuota("0301", 2025, 100, 8, TODAY))
    assert events_since(given, before)[-1].recorded_by_imdi is True


def test_a_municipality_cannot_decide_for_another(given):
    with refused(given, "R2", Refusal.FORBIDDEN):
        given.handle(BERGEN, c.DecideQuota("0301", 2025, 100, 8, TODAY))


def test_reception_cannot_decide_quotas(given):
    with refused(given, "R2", Refusal.FORBIDDEN):
        given.handle(RECEPTION, c.DecideQuota("0301", 2025, 100, 8, TODAY))


def test_a_decision_for_an_unknown_municipality_is_not_found(given):
    with not_found(given):
        given.handle(IMDI, c.DecideQuota("9999", 2025, 100, 8, TODAY))


@pytest.mark.parametrize(
    ("year", "persons", "minors", "decided_on", "field"),
    [
        (2025, 5, 6, TODAY, "unaccompanied_minors"),
        (2025, -1, 0, TODAY, "persons"),
        (1999, 5, 1, TODAY, "year"),
        (TODAY.year + 3, 5, 1, TODAY, "year"),
        (2025, 5, 1, TODAY + timedelta(days=1), "decided_on"),
        (2025, 5, 1, date(1, 1, 1), "decided_on"),
        (2025, 5, 1, date(1999, 12, 31), "decided_on"),
    ],
    ids=["minors-over-persons", "negative", "1999", "three-years-ahead", "tomorrow", "year-1", "before-2000"],
)
def test_quota_decision_bounds_and_date(given, year, persons, minors, decided_on, field):
    with refused(given, "R2", Refusal.INPUT) as caught:
        given.handle(OSLO, c.DecideQuota("0301", year, persons, minors, decided_on))
    assert caught.value.field == field


# R2: a revision cannot go below the places already used within the quota --------------------


def test_a_revision_cannot_go_below_the_persons_already_selected(given):
    app = given
    decided_quota(app, persons=3, minors=0)
    selected(app, OSLO, [person(app), person(app)])
    with refused(app, "R2", Refusal.STATE) as caught:
        app.handle(OSLO, c.DecideQuota("0301", 2025, 1, 0, TODAY))
    assert caught.value.field == "persons"
    assert "already uses 2 places in 2025" in caught.value.message
    assert "cannot be fewer than 2 persons" in caught.value.message
    app.handle(OSLO, c.DecideQuota("0301", 2025, 2, 0, TODAY))  # down to exactly the places used
    assert app.quota_year("0301", 2025).vacant() == (0, 0)


def test_a_revision_cannot_go_below_the_minors_already_selected(given):
    app = given
    decided_quota(app, persons=3, minors=1)
    selected(app, OSLO, [person(app, minor=True)])
    with refused(app, "R2", Refusal.STATE) as caught:
        app.handle(OSLO, c.DecideQuota("0301", 2025, 3, 0, TODAY))
    assert caught.value.field == "unaccompanied_minors"
    assert "already uses 1 place for unaccompanied minors" in caught.value.message


def test_a_revision_cannot_go_below_the_persons_already_decided(given):
    app = given
    decided_quota(app, persons=2, minors=0)
    someone = person(app)
    selected(app, OSLO, [someone])
    decided(app, someone)
    with refused(app, "R2", Refusal.STATE) as caught:
        app.handle(IMDI, c.DecideQuota("0301", 2025, 0, 0, TODAY))
    assert caught.value.field == "persons"


def test_places_released_to_another_year_may_be_revised_away(given):
    app = given
    decided_quota(app, persons=1, minors=0, year=2025)
    decided_quota(app, persons=1, minors=0, year=2026)
    someone = person(app)
    selected(app, OSLO, [someone])
    decided(app, someone, year=2026)  # the place moves from 2025 to 2026
    app.handle(OSLO, c.DecideQuota("0301", 2025, 0, 0, TODAY))
    assert app.quota_year("0301", 2025).vacant() == (0, 0)
    with refused(app, "R2", Refusal.STATE):
        app.handle(OSLO, c.DecideQuota("0301", 2026, 0, 0, TODAY))


def test_places_over_quota_do_not_bind_a_revision(given):
    """Places IMDi gave past the quota (R5 override) are over quota: the decision need not cover them."""
    app = given
    decided_quota(app, persons=1, minors=0, year=2025)
    decided_quota(app, persons=1, minors=0, year=2026)
    within, over = person(app), person(app)
    selected(app, OSLO, [within])
    selected(app, OSLO, [over], year=2026)
    decided(app, over, year=2025, override_reason="Keep the family together")
    year = app.quota_year("0301", 2025)
    assert (year.used, year.over_quota_persons) == ((2, 0), 1)
    app.handle(OSLO, c.DecideQuota("0301", 2025, 1, 0, TODAY))  # covers the one within the quota
    with refused(app, "R2", Refusal.STATE) as caught:
        app.handle(OSLO, c.DecideQuota("0301", 2025, 0, 0, TODAY))
    assert "cannot be fewer than 1 persons" in caught.value.message


def test_a_quota_year_id_is_the_same_for_the_same_municipality_and_year(given):
    given.handle(IMDI, c.RequestSettlement("0301", 2025, 1, 0))
    given.handle(OSLO, c.DecideQuota("0301", 2025, 1, 0, TODAY))
    assert len(events_named(given, "QuotaYearOpened")) == 1
    assert given.quota_year("0301", 2025).id == QuotaYear.create_id("0301", 2025)
