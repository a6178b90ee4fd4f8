"""The numbered rules of docs/domain.md (R1..R21) as named checks shared by the aggregates and the service.

Each check raises :class:`RuleViolation` carrying its rule code; checks that need the state of one
aggregate live on that aggregate as ``check_*`` methods, and the ones here are the stateless ones.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from settlement_domain.context import MUNICIPALITY_NUMBER
from settlement_domain.errors import Refusal, RuleViolation

DEFAULT_SETTLEMENT_CUTOFF = date(2016, 1, 1)  # R7e, configurable
FIRST_YEAR = 2000  # R1
MINOR_MIN_AGE, MINOR_MAX_AGE = 15, 17  # R11: minors over 15 are settled through IMDi
ISO_WEEK = re.compile(r"^([0-9]{4})-W([0-9]{2})\Z")
FOUR_DIGITS = re.compile(r"^[0-9]{4}\Z")
NINE_DIGITS = re.compile(r"^[0-9]{9}\Z")  # an organisation number (organisasjonsnummer), R9
EARLIEST_YEAR = 1900  # no date of this service (a birth date, an instant asked about) lies before it
LAST_YEAR = 9998  # dates past this overflow date arithmetic
# Control characters other than tab and line breaks: never meant, and they break CSV and XLSX files.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def refuse_input(
    rule: str, message: str, field: str | None = None, params: Mapping[str, Any] | None = None
) -> RuleViolation:
    return RuleViolation(rule, message, refusal=Refusal.INPUT, field=field, params=params)


DUF_NUMBER = re.compile(r"^[0-9]{12}\Z")  # ASCII digits only


def check_duf_number(value: str, field: str = "duf_number") -> None:
    """R21: a DUF number (UDI's id of a person) is 12 digits."""
    if not isinstance(value, str) or not DUF_NUMBER.match(value):
        raise refuse_input("R21", "A DUF number is 12 digits.", field)


def check_municipality_number(number: str, field: str = "number") -> None:
    if not isinstance(number, str) or not MUNICIPALITY_NUMBER.match(number):
        raise refuse_input("roles", "A municipality number has 4 digits, like 0301.", field)


def check_organisation_number(value: str | None, field: str = "organisation_number") -> str | None:
    """R9: a municipality's organisation number, its digital address for letters: 9 ASCII digits."""
    if value is None:
        return None
    number = value.strip() if isinstance(value, str) else ""
    if not NINE_DIGITS.match(number):
        raise refuse_input("R9", "An organisation number has 9 digits, like 974760673.", field)
    return number


def check_text(rule: str, value: str | None, field: str, *, max_length: int = 10_000) -> str:
    """A required free-text field: not blank, not huge. Returns it stripped."""
    text = (value or "").strip()
    if not text:
        raise refuse_input(rule, "%(field)s must not be empty.", field, {"field": field})
    if CONTROL_CHARACTERS.search(text):
        raise refuse_input(rule, "%(field)s contains a control character.", field, {"field": field})
    if len(text) > max_length:
        raise refuse_input(
            rule,
            "%(field)s is longer than %(limit)s characters.",
            field,
            {"field": field, "limit": max_length},
        )
    return text


def check_year(rule: str, year: int, today: date, field: str = "year") -> None:
    """R1's year bounds, shared by R2, R3 and R5: 2000 up to two years ahead."""
    if not FIRST_YEAR <= year <= today.year + 2:
        raise refuse_input(
            rule,
            "The year must be between %(first)s and %(last)s.",
            field,
            {"first": FIRST_YEAR, "last": today.year + 2},
        )


def check_place_counts(rule: str, year: int, persons: int, minors: int, today: date) -> None:
    """R1/R2 bounds: persons >= 0, 0 <= minors <= persons, year in 2000..current+2."""
    check_year(rule, year, today)
    if persons < 0:
        raise refuse_input(rule, "The number of persons cannot be negative.", "persons")
    if minors < 0:
        raise refuse_input(
            rule, "The number of unaccompanied minors cannot be negative.", "unaccompanied_minors"
        )
    if minors > persons:
        raise refuse_input(
            rule,
            "Unaccompanied minors are counted among the persons, so they cannot outnumber them.",
            "unaccompanied_minors",
        )


def parse_iso_week(value: str) -> tuple[date, date]:
    """The Monday and Sunday of an ISO week written ``2025-W14`` (R11)."""
    match = ISO_WEEK.match(value or "")
    if not match:
        raise refuse_input("R11", "The expected week is written like 2025-W14.", "expected_week")
    year = int(match[1])
    try:
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise ValueError(year)
        monday = date.fromisocalendar(year, int(match[2]), 1)
    except ValueError:
        raise refuse_input(
            "R11", "%(week)s is not a week of a possible year.", "expected_week", {"week": value}
        ) from None
    return monday, monday + timedelta(days=6)


def check_minor_capacity(places: int, expected_week: str, min_age: int, max_age: int, today: date) -> None:
    """R11: at least one place, a week not in the past, an age group within 15..17."""
    if places < 1:
        raise refuse_input("R11", "A capacity report offers at least one place.", "places")
    if min_age < MINOR_MIN_AGE:
        raise refuse_input(
            "R11",
            "Unaccompanied minors under 15 are settled through Bufetat, not IMDi; "
            "report that capacity to Bufetat.",
            "min_age",
        )
    if max_age > MINOR_MAX_AGE:
        raise refuse_input("R11", "Unaccompanied minors are at most 17 years old.", "max_age")
    if min_age > max_age:
        raise refuse_input("R11", "The lowest age cannot be above the highest.", "min_age")
    _, sunday = parse_iso_week(expected_week)
    if sunday < today:
        raise refuse_input("R11", "The expected week is in the past.", "expected_week")


def check_settlement_date(settlement_date: date, today: date, cutoff: date) -> None:
    """R7e: a settlement date is not before the cut-off and not in the future."""
    if settlement_date < cutoff:
        raise refuse_input(
            "R7e", "The date is before the settlement cut-off %(cutoff)s.", "date", {"cutoff": cutoff}
        )
    if settlement_date > today:
        raise refuse_input("R7e", "The date is in the future.", "date")


def age_on(birth_date: date, day: date) -> int:
    years = day.year - birth_date.year
    return years - ((day.month, day.day) < (birth_date.month, birth_date.day))
