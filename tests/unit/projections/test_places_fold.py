"""R10 as the places projection folds it: one place per person, in the year of its decision or selection."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from projections import places
from settlement_domain import commands as c
from settlement_domain.bulk import bulk_run
from settlement_domain.errors import RuleViolation
from settlement_domain.values import Decline
from tests.given import IMDI, OSLO, TODAY, distribution_list, municipalities, person, quota, selected
from tests.unit.projections.conftest import fold, row_of


def figures(row: dict[str, Any] | None, kind: str = "persons") -> dict[str, int | None]:
    """One quota row's R10 figures for persons (or minors): the counts, and used and vacant from them."""
    assert row is not None
    decided = row[f"decided_{kind}"]
    used = row[f"settled_{kind}"] + row[f"agreed_{kind}"]
    return {
        "requested": row[f"requested_{kind}"], "decided": decided, "settled": row[f"settled_{kind}"],
        "agreed": row[f"agreed_{kind}"], "used": used, "vacant": None if decided is None else decided - used,
        "over_quota": row[f"over_quota_{kind}"],
    }  # fmt: skip


def quotas(app) -> Any:
    rows = fold(places.PROJECTION, app)
    return lambda number, year: row_of(rows, "quotas", number, year)


def test_requested_decided_settled_agreed_used_and_vacant(app):
    municipalities(app)
    app.handle(IMDI, c.RequestSettlement("0301", 2025, 10, 2))
    app.handle(IMDI, c.RequestSettlement("0301", 2025, 12, 3, reason="more arrivals"))
    app.handle(OSLO, c.DecideQuota("0301", 2025, 8, 1, date(2025, 3, 1)))
    mother = person(app, family_id="fam-1", private=True)
    child = person(app, family_id="fam-1", birth_date=date(2015, 2, 2), private=True)
    minor = person(app, minor=True)
    declined = person(app, private=True)
    list_id = distribution_list(app, "0301", [mother, child, minor, declined])
    app.handle(
        OSLO, c.ApproveDistributionList(list_id, (mother, child, minor), (Decline(declined, "no housing"),))
    )
    app.handle(IMDI, c.DecideSettlement(mother, "0301", 2025))
    for someone in (mother, child):
        app.handle(OSLO, c.RegisterSettlementDate(someone, TODAY))
    found = quotas(app)
    # The latest request (12, 3); mother and child settled; the minor selected but not settled.
    assert figures(found("0301", 2025)) == {
        "requested": 12,
        "decided": 8,
        "settled": 2,
        "agreed": 1,
        "used": 3,
        "vacant": 5,
        "over_quota": 0,
    }
    assert figures(found("0301", 2025), "minors") == {
        "requested": 3,
        "decided": 1,
        "settled": 0,
        "agreed": 1,
        "used": 1,
        "vacant": 0,
        "over_quota": 0,
    }


def test_settled_counts_in_the_year_of_the_place_whatever_year_the_date_falls_in(app):
    # R10: settled = persons whose place is in (M, Y) with a settlement date, whatever its calendar year.
    municipalities(app)
    quota(app, "0301", persons=5, minors=0, year=2026)
    someone = person(app, private=True)
    selected(app, OSLO, [someone], year=2026)
    app.handle(OSLO, c.RegisterSettlementDate(someone, TODAY))  # a date in 2025, a place of 2026
    found = quotas(app)
    assert figures(found("0301", 2026))["settled"] == 1
    assert found("0301", 2025) is None
    app.handle(IMDI, c.CorrectSettlementDate(someone, date(2024, 12, 30), "wrong year"))
    found = quotas(app)
    assert (figures(found("0301", 2026))["settled"], found("0301", 2024)) == (1, None)


def test_a_decision_naming_another_year_moves_the_persons_place_there(app):
    municipalities(app)
    quota(app, "0301", persons=3, minors=1, year=2025)
    quota(app, "0301", persons=2, minors=1, year=2026)
    minor = person(app, minor=True)
    selected(app, OSLO, [minor])
    before = quotas(app)
    assert (figures(before("0301", 2025))["agreed"], figures(before("0301", 2025), "minors")["agreed"]) == (
        1,
        1,
    )
    app.handle(IMDI, c.DecideSettlement(minor, "0301", 2026))
    after = quotas(app)
    assert figures(after("0301", 2025))["used"] == 0 and figures(after("0301", 2025), "minors")["used"] == 0
    assert (figures(after("0301", 2026))["agreed"], figures(after("0301", 2026), "minors")["agreed"]) == (
        1,
        1,
    )
    assert figures(after("0301", 2026))["over_quota"] == 0  # a vacant place: no override needed


def test_only_an_override_takes_a_place_over_quota_and_makes_vacant_negative(app):
    municipalities(app)
    quota(app, "0301", persons=2, minors=0, year=2025)
    quota(app, "0301", persons=1, minors=0, year=2026)
    first, second = person(app), person(app)
    selected(app, OSLO, [first, second])
    app.handle(IMDI, c.DecideSettlement(first, "0301", 2026, override_reason="urgent"))  # vacant: not over
    with pytest.raises(RuleViolation, match="override reason"):
        app.handle(IMDI, c.DecideSettlement(second, "0301", 2026))
    app.handle(IMDI, c.DecideSettlement(second, "0301", 2026, override_reason="urgent"))
    found = quotas(app)
    assert figures(found("0301", 2026)) == {
        "requested": 3,
        "decided": 1,
        "settled": 0,
        "agreed": 2,
        "used": 2,
        "vacant": -1,
        "over_quota": 1,
    }
    assert figures(found("0301", 2025))["vacant"] == 2
    # The same count as the domain's own (QuotaYear._place_taken).
    domain = app.quota_year("0301", 2026)
    assert (domain.over_quota_persons, domain.places_taken) == (1, 2)


def test_a_minor_without_a_vacant_minor_place_is_over_quota_among_minors_only(app):
    municipalities(app)
    quota(app, "0301", persons=2, minors=1, year=2025)
    quota(app, "0301", persons=5, minors=0, year=2026)
    minor = person(app, minor=True)
    selected(app, OSLO, [minor])
    app.handle(IMDI, c.DecideSettlement(minor, "0301", 2026, override_reason="no other place"))
    row = quotas(app)("0301", 2026)
    # A person's place was vacant, a minor's was not: only the minor's place is over the quota.
    assert figures(row)["over_quota"] == 0 and figures(row)["vacant"] == 4
    assert figures(row, "minors") == {
        "requested": 0,
        "decided": 0,
        "settled": 0,
        "agreed": 1,
        "used": 1,
        "vacant": -1,
        "over_quota": 1,
    }
    domain = app.quota_year("0301", 2026)
    assert (domain.over_quota_persons, domain.over_quota_minors) == (0, 1)


def test_a_decision_in_a_year_without_any_quota_decision_is_over_quota(app):
    municipalities(app)
    quota(app, "0301", persons=1, minors=0, year=2025)
    someone = person(app, private=True)
    selected(app, OSLO, [someone])
    app.handle(IMDI, c.DecideSettlement(someone, "0301", 2024, override_reason="late arrival"))
    row = quotas(app)("0301", 2024)
    assert figures(row) == {
        "requested": None,
        "decided": None,
        "settled": 0,
        "agreed": 1,
        "used": 1,
        "vacant": None,
        "over_quota": 1,
    }
    app.handle(OSLO, c.RegisterSettlementDate(someone, TODAY))
    row = quotas(app)("0301", 2024)
    assert (figures(row)["settled"], figures(row)["agreed"], figures(row)["over_quota"]) == (1, 0, 1)


def test_a_bulk_run_stores_events_in_command_order_so_the_read_model_counts_as_the_domain(app):
    # One bulk run: a person is selected for 2025, 2026 gets a quota decision, and the decision moving
    # the person to 2026 gives an override reason it does not need. Stored aggregate by aggregate, the
    # decision would come before 2026's quota decision in the log and look over the quota.
    municipalities(app)
    quota(app, "0301", persons=2, minors=0, year=2025)
    someone = person(app)
    list_id = distribution_list(app, "0301", [someone])
    with bulk_run(app) as run:
        run.handle(OSLO, c.ApproveDistributionList(list_id, (someone,)))
        run.handle(IMDI, c.RequestSettlement("0301", 2026, 7, 0))
        run.handle(IMDI, c.DecideQuota("0301", 2026, 5, 0, TODAY))
        run.handle(IMDI, c.DecideSettlement(someone, "0301", 2026, override_reason="just in case"))
    domain = app.quota_year("0301", 2026)
    assert (domain.places_taken, domain.over_quota_persons) == (1, 0)
    assert figures(quotas(app)("0301", 2026)) == {
        "requested": 7, "decided": 5, "settled": 0, "agreed": 1, "used": 1, "vacant": 4, "over_quota": 0,
    }  # fmt: skip
