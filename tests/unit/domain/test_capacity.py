"""R11: a municipality reports vacant capacity for unaccompanied minors aged 15-17 (under 15 goes to
Bufetat), and withdraws it or marks it filled while it is open."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from settlement_domain import commands as c
from settlement_domain.errors import Refusal
from tests.given import BERGEN, IMDI, OSLO, capacity_report, events_since, not_found, refused


def test_a_municipality_reports_capacity_for_minors_and_withdraws_it(given):
    before = given.position()
    report = UUID(given.handle(OSLO, capacity_report()).id)
    reported = events_since(given, before)[0]
    assert (type(reported).__name__, reported.municipality, reported.places, reported.expected_week) == (
        "MinorCapacityReported",
        "0301",
        2,
        "2025-W30",
    )
    assert (reported.min_age, reported.max_age, reported.round_the_clock_staffing) == (15, 17, True)
    given.handle(OSLO, c.WithdrawMinorCapacity(report, "Places went to others"))
    assert events_since(given, before)[-1].reason == "Places went to others"
    with refused(given, "R11", Refusal.STATE):
        given.handle(OSLO, c.MarkMinorCapacityFilled(report))
    with refused(given, "R11", Refusal.STATE):
        given.handle(OSLO, c.WithdrawMinorCapacity(report, "again"))


def test_a_municipality_marks_its_capacity_filled_once(given):
    report = UUID(given.handle(OSLO, capacity_report()).id)
    before = given.position()
    given.handle(OSLO, c.MarkMinorCapacityFilled(report))
    assert type(events_since(given, before)[0]).__name__ == "MinorCapacityFilled"
    with refused(given, "R11", Refusal.STATE):
        given.handle(OSLO, c.MarkMinorCapacityFilled(report))


def test_capacity_for_minors_under_15_goes_to_bufetat(given):
    with refused(given, "R11", Refusal.INPUT) as caught:
        given.handle(OSLO, capacity_report(min_age=13))
    assert "Bufetat" in caught.value.message
    assert caught.value.field == "min_age"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"places": 0}, "places"),
        ({"max_age": 18}, "max_age"),
        ({"min_age": 17, "max_age": 16}, "min_age"),
        ({"expected_week": "2025-W23"}, "expected_week"),
        ({"expected_week": "2025-14"}, "expected_week"),
        ({"expected_week": "2025-W54"}, "expected_week"),
        ({"expected_week": "9999-W52"}, "expected_week"),
        ({"expected_week": "２０２５-W30"}, "expected_week"),
    ],
)
def test_capacity_bounds(given, changes, field):
    with refused(given, "R11", Refusal.INPUT) as caught:
        given.handle(OSLO, capacity_report(**changes))
    assert caught.value.field == field


def test_the_current_week_is_not_in_the_past(given):
    given.handle(OSLO, capacity_report(expected_week="2025-W25"))


def test_a_withdrawal_needs_a_reason(given):
    report = UUID(given.handle(OSLO, capacity_report()).id)
    with refused(given, "R11", Refusal.INPUT) as caught:
        given.handle(OSLO, c.WithdrawMinorCapacity(report, " "))
    assert caught.value.field == "reason"


def test_only_the_municipality_itself_reports_and_changes_capacity(given):
    with refused(given, "R11", Refusal.FORBIDDEN):
        given.handle(BERGEN, capacity_report())
    with refused(given, "R11", Refusal.FORBIDDEN):
        given.handle(IMDI, capacity_report())
    report = UUID(given.handle(OSLO, capacity_report()).id)
    with not_found(given):
        given.handle(BERGEN, c.MarkMinorCapacityFilled(report))
    with not_found(given):
        given.handle(BERGEN, c.WithdrawMinorCapacity(report, "Not ours"))
    with refused(given, "R11", Refusal.FORBIDDEN):
        given.handle(IMDI, c.MarkMinorCapacityFilled(report))
    given.handle(OSLO, c.MarkMinorCapacityFilled(report))


def test_an_unknown_capacity_report_is_not_found(given):
    with not_found(given):
        given.handle(OSLO, c.MarkMinorCapacityFilled(uuid4()))
