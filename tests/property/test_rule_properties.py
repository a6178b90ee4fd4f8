"""Hypothesis: the rules' arithmetic and partitions hold for any input, not just the examples."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st

from settlement_domain import rules
from settlement_domain.errors import RuleViolation
from settlement_domain.model import DistributionList
from settlement_domain.values import Decline
from tests.given import TODAY


@given(
    year=st.integers(1990, 2035),
    persons=st.integers(-5, 500),
    minors=st.integers(-5, 500),
)
def test_quota_bounds_accept_exactly_the_valid_counts(year, persons, minors):
    valid = 2000 <= year <= TODAY.year + 2 and persons >= 0 and 0 <= minors <= persons
    try:
        rules.check_place_counts("R1", year, persons, minors, TODAY)
        accepted = True
    except RuleViolation as error:
        assert error.rule == "R1"
        accepted = False
    assert accepted == valid


@st.composite
def lists_and_answers(draw):
    """A list of families and singles, and an answer that may name persons wrongly or split families."""
    sizes = draw(st.lists(st.integers(1, 4), min_size=1, max_size=5))
    families: dict[str, list] = {}
    persons: list = []
    for i, size in enumerate(sizes):
        members = [uuid4() for _ in range(size)]
        persons += members
        if size > 1 or draw(st.booleans()):
            families[f"family-{i}"] = members
    verdicts = draw(
        st.lists(
            st.sampled_from(["accept", "decline", "omit", "both"]),
            min_size=len(persons),
            max_size=len(persons),
        )
    )
    accepted = [p for p, v in zip(persons, verdicts, strict=True) if v in ("accept", "both")]
    declined = [
        Decline(p, "reason") for p, v in zip(persons, verdicts, strict=True) if v in ("decline", "both")
    ]
    stranger = draw(st.booleans())
    if stranger:
        accepted.append(uuid4())
    return persons, families, accepted, declined, stranger


@given(lists_and_answers())
def test_an_approval_names_every_person_once_and_never_splits_a_family(case):
    persons, families, accepted, declined, stranger = case
    dlist = DistributionList.propose({}, "0301", persons, families, TODAY + timedelta(days=7), None, TODAY)
    named = accepted + [d.refugee_id for d in declined]
    exactly_once = sorted(map(str, named)) == sorted(map(str, persons)) and not stranger
    whole = all(len({m in set(accepted) for m in members}) == 1 for members in families.values())
    try:
        dlist.check_approval(accepted, declined)
        accepted_ok = True
    except RuleViolation as error:
        assert error.rule == "R4"
        accepted_ok = False
    assert accepted_ok == (exactly_once and whole)


@given(
    places=st.integers(-2, 10),
    min_age=st.integers(10, 19),
    max_age=st.integers(10, 19),
    week_offset=st.integers(-10, 60),
)
def test_minor_capacity_accepts_exactly_15_to_17_and_weeks_not_past(places, min_age, max_age, week_offset):
    day = TODAY + timedelta(weeks=week_offset)
    iso = day.isocalendar()
    week = f"{iso.year}-W{iso.week:02d}"
    valid = places >= 1 and 15 <= min_age <= max_age <= 17 and week_offset >= 0
    try:
        rules.check_minor_capacity(places, week, min_age, max_age, TODAY)
        accepted = True
    except RuleViolation as error:
        assert error.rule == "R11"
        if places >= 1 and min_age < 15:  # places are checked first
            assert "Bufetat" in error.message
        accepted = False
    assert accepted == valid


@given(birth=st.dates(date(1900, 1, 1), TODAY), day=st.dates(date(1950, 1, 1), date(2030, 12, 31)))
def test_age_on_counts_whole_years(birth, day):
    age = rules.age_on(birth, day)
    try:
        birthday = birth.replace(year=birth.year + age)
    except ValueError:  # 29 February in a common year: the birthday falls on 1 March
        birthday = date(birth.year + age, 3, 1)
    if day >= birth:
        assert birthday <= day
        try:
            next_birthday = birth.replace(year=birth.year + age + 1)
        except ValueError:
            next_birthday = date(birth.year + age + 1, 3, 1)
        assert day < next_birthday
