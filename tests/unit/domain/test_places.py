"""R10 on the QuotaYear aggregate: the latest request and decision stand; every person takes exactly
one place (selection, then decision); ``used`` counts them, ``vacant`` is decided minus used (None
while nothing is decided), and only IMDi's overrides make it negative, counted over quota."""

from __future__ import annotations

from settlement_domain import commands as c
from tests.given import (
    IMDI,
    OSLO,
    TODAY,
    decided,
    decided_quota,
    distribution_list,
    person,
    refused,
    selected,
)


def test_vacant_is_unknown_while_nothing_is_decided(given):
    given.handle(IMDI, c.RequestSettlement("0301", 2025, 10, 1))
    year = given.quota_year("0301", 2025)
    assert (year.requested, year.decided, year.used, year.vacant()) == ((10, 1), None, (0, 0), None)


def test_vacant_is_decided_minus_used_for_persons_and_minors(given):
    app = given
    decided_quota(app, persons=5, minors=2)
    selected(app, OSLO, [person(app), person(app, minor=True)])
    year = app.quota_year("0301", 2025)
    assert (year.decided, year.used, year.vacant()) == ((5, 2), (2, 1), (3, 1))
    assert (year.places_taken, year.minor_places_taken) == (2, 1)


def test_proposing_takes_no_place_and_declining_frees_none(given):
    app = given
    decided_quota(app, persons=5, minors=0)
    someone = person(app)
    list_id = distribution_list(app, "0301", [someone])
    assert app.quota_year("0301", 2025).used == (0, 0)
    app.handle(OSLO, c.ApproveDistributionList(list_id, (), (c.Decline(someone, "No"),)))
    assert app.quota_year("0301", 2025).used == (0, 0)


def test_a_person_takes_one_place_from_selection_through_decision(given):
    app = given
    decided_quota(app, persons=5, minors=0)
    someone = person(app)
    selected(app, OSLO, [someone])
    decided(app, someone)
    assert app.quota_year("0301", 2025).used == (1, 0)
    assert app.refugee(someone).place == ("0301", 2025)


def test_a_moved_place_is_used_in_the_new_year_only(given):
    app = given
    decided_quota(app, persons=5, minors=1, year=2025)
    decided_quota(app, persons=5, minors=1, year=2026)
    minor = person(app, minor=True)
    selected(app, OSLO, [minor])
    decided(app, minor, year=2026)
    old, new = app.quota_year("0301", 2025), app.quota_year("0301", 2026)
    assert (old.used, old.vacant(), new.used, new.vacant()) == ((0, 0), (5, 1), (1, 1), (4, 0))


def test_the_latest_request_and_decision_stand_and_only_overrides_go_negative(given):
    app = given
    app.handle(IMDI, c.RequestSettlement("0301", 2025, 10, 1))
    app.handle(IMDI, c.RequestSettlement("0301", 2025, 3, 1, reason="Lower need"))
    app.handle(OSLO, c.DecideQuota("0301", 2025, 2, 0, TODAY))
    app.handle(OSLO, c.DecideQuota("0301", 2025, 1, 0, TODAY))
    decided_quota(app, persons=1, minors=0, year=2026)
    first, second = person(app), person(app)
    selected(app, OSLO, [first])
    selected(app, OSLO, [second], year=2026)
    with refused(app, "R5"):
        app.handle(IMDI, c.DecideSettlement(second, "0301", 2025))
    app.handle(IMDI, c.DecideSettlement(second, "0301", 2025, override_reason="Keep family nearby"))
    year = app.quota_year("0301", 2025)
    assert (year.requested, year.decided, year.used, year.vacant()) == ((3, 1), (1, 0), (2, 0), (-1, 0))
    assert (year.request_revisions, year.decision_revisions) == (1, 1)
    assert (year.over_quota_persons, year.over_quota_minors) == (1, 0)
    assert app.quota_year("0301", 2026).used == (0, 0)


def test_without_overrides_vacant_stays_at_zero_when_full(given):
    app = given
    decided_quota(app, persons=1, minors=0)
    decided_quota(app, persons=1, minors=0, year=2026)
    first, second = person(app), person(app)
    selected(app, OSLO, [first])
    selected(app, OSLO, [second], year=2026)
    third = person(app)
    list_id = distribution_list(app, "0301", [third])
    with refused(app, "R4"):
        app.handle(OSLO, c.ApproveDistributionList(list_id, (third,)))
    with refused(app, "R5"):
        app.handle(IMDI, c.DecideSettlement(second, "0301", 2025))
    with refused(app, "R2"):
        app.handle(OSLO, c.DecideQuota("0301", 2025, 0, 0, TODAY))
    decided(app, first)
    assert app.quota_year("0301", 2025).vacant() == (0, 0)
    assert app.quota_year("0301", 2026).vacant() == (0, 0)
