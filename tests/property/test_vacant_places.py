"""R10 as a property: without override reasons, no sequence of commands makes ``vacant`` negative.

Hypothesis drives the write side in memory with random requests, quota decisions and revisions,
registrations (families, unaccompanied minors), lists naming years, approvals, withdrawals, settlement
decisions naming the list's year or another one, and settlement dates. Any command may be refused;
after every step, for every municipality and year, ``vacant()`` is at least zero (persons and minors)
and ``used`` is the number of persons (and minors) whose one place is in that municipality and year.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from settlement_domain import commands as c
from settlement_domain.errors import NotFound, RuleViolation
from settlement_domain.values import Decline
from tests.given import BERGEN, IMDI, OSLO, RECEPTION, TODAY, in_memory_app, municipalities, registration

CTX = {"0301": OSLO, "4601": BERGEN}
MUNICIPALITIES = st.sampled_from(sorted(CTX))
YEARS = (2025, 2026, 2027)
SOME_YEAR = st.sampled_from([None, *YEARS])  # None: the command's default year
VERDICTS = st.lists(st.booleans(), min_size=8, max_size=8)
# For each accepted person: decided at once, for the list's year (None) or a year named, or "later".
DECISIONS = st.lists(st.sampled_from(["later", None, None, *YEARS]), min_size=8, max_size=8)


class VacantPlacesMachine(RuleBasedStateMachine):
    persons = Bundle("persons")

    def __init__(self):
        super().__init__()
        self.app = in_memory_app()
        municipalities(self.app)
        self.people: dict[UUID, bool] = {}  # id -> unaccompanied minor
        self.families: dict[str, list[UUID]] = {}
        self.open_lists: list[UUID] = []

    def teardown(self):
        self.app.close()

    def attempt(self, name: str, ctx, command) -> object | None:
        """Runs a command that may be refused (refusals are part of the game); None when refused."""
        assert getattr(command, "override_reason", None) is None, "the property holds without overrides"
        try:
            result = self.app.handle(ctx, command)
        except (RuleViolation, NotFound) as error:
            event(f"{name}: {getattr(error, 'rule', 'not found')}")
            return None
        event(f"{name}: ok")
        return result

    def family_of(self, person_id: UUID) -> str | None:
        return next((f for f, members in self.families.items() if person_id in members), None)

    def waiting(self) -> list[UUID]:
        """Persons selected and not yet decided."""
        cases = {p: self.app.refugee(p) for p in self.people}
        return sorted((p for p, case in cases.items() if case.selected_by and not case.decided_for), key=str)

    # Given ----------------------------------------------------------------------------------

    @initialize(
        target=persons,
        people=st.lists(
            st.tuples(st.sampled_from([None, None, "A", "B"]), st.booleans()), min_size=2, max_size=6
        ),
        decisions=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 2)), min_size=6, max_size=6),
    )
    def start(self, people, decisions):
        """Some persons, and a quota decision for each municipality and year."""
        quota_years = [(m, y) for m in CTX for y in YEARS]
        for (municipality, year), (persons, minors) in zip(quota_years, decisions, strict=True):
            self.attempt(
                "decide quota", IMDI, c.DecideQuota(municipality, year, persons, min(minors, persons), TODAY)
            )
        return multiple(*(self.register(family, minor) for family, minor in people))

    # Commands -------------------------------------------------------------------------------

    @rule(target=persons, family=st.sampled_from([None, "A", "B", "C"]), minor=st.booleans())
    def register(self, family, minor):
        person_id = UUID(
            self.app.handle(RECEPTION, registration(family_id=family, minor=minor, private=True)).id
        )
        self.people[person_id] = minor
        if family:
            self.families.setdefault(family, []).append(person_id)
        return person_id

    @rule(
        municipality=MUNICIPALITIES,
        year=st.sampled_from(YEARS),
        persons=st.integers(0, 5),
        minors=st.integers(0, 2),
        reason=st.booleans(),
    )
    def request(self, municipality, year, persons, minors, reason):
        command = c.RequestSettlement(municipality, year, persons, minors, "Revised" if reason else None)
        self.attempt("request", IMDI, command)

    @rule(
        municipality=MUNICIPALITIES,
        year=st.sampled_from(YEARS),
        persons=st.integers(0, 5),
        minors=st.integers(0, 2),
        by_imdi=st.booleans(),
    )
    def decide_quota(self, municipality, year, persons, minors, by_imdi):
        """Decisions and revisions, up and down (R2 refuses below the places used)."""
        ctx = IMDI if by_imdi else CTX[municipality]
        self.attempt("decide quota", ctx, c.DecideQuota(municipality, year, persons, minors, TODAY))

    @rule(
        municipality=MUNICIPALITIES,
        year=SOME_YEAR,
        chosen=st.lists(persons, min_size=1, max_size=4, unique=True),
        verdicts=VERDICTS,
        decisions=DECISIONS,
        answer_now=st.booleans(),
    )
    def propose(self, municipality, year, chosen, verdicts, decisions, answer_now):
        """IMDi proposes persons (families completed, so that most lists are made); the municipality
        often answers at once."""
        families = {f for f, members in self.families.items() if set(members) & set(chosen)}
        chosen = list(dict.fromkeys([*chosen, *(m for f in sorted(families) for m in self.families[f])]))
        command = c.CreateDistributionList(municipality, tuple(chosen), TODAY + timedelta(days=7), year)
        result = self.attempt("propose", IMDI, command)
        if result is not None:
            self.open_lists.append(UUID(result.id))
            if answer_now:
                self.answer(UUID(result.id), verdicts, decisions)

    def answer(self, list_id: UUID, verdicts: list[bool], decisions: list) -> None:
        """The municipality accepts or declines everyone on the list, one verdict per family; IMDi
        then decides for some of the accepted at once."""
        dlist = self.app.distribution_list(list_id)
        verdict: dict[object, bool] = {}
        for person_id, yes in zip(
            dlist.refugee_ids, [*verdicts, *[True] * len(dlist.refugee_ids)], strict=False
        ):
            verdict.setdefault(self.family_of(person_id) or person_id, yes)
        accepted = tuple(p for p in dlist.refugee_ids if verdict[self.family_of(p) or p])
        declined = tuple(Decline(p, "Not now") for p in dlist.refugee_ids if p not in accepted)
        if self.attempt(
            "approve", CTX[dlist.municipality], c.ApproveDistributionList(list_id, accepted, declined)
        ):
            self.open_lists.remove(list_id)
            for person_id, year in zip(accepted, decisions, strict=False):
                if year != "later":
                    name = "decide settlement" if year is None else "decide settlement naming a year"
                    self.attempt(name, IMDI, c.DecideSettlement(person_id, dlist.municipality, year))

    @precondition(lambda self: self.open_lists)
    @rule(data=st.data(), verdicts=VERDICTS, decisions=DECISIONS)
    def approve(self, data, verdicts, decisions):
        self.answer(data.draw(st.sampled_from(self.open_lists)), verdicts, decisions)

    @precondition(lambda self: self.open_lists)
    @rule(data=st.data())
    def withdraw(self, data):
        list_id = data.draw(st.sampled_from(self.open_lists))
        if self.attempt("withdraw", IMDI, c.WithdrawDistributionList(list_id, "Changed plans")):
            self.open_lists.remove(list_id)

    @precondition(lambda self: self.waiting())
    @rule(data=st.data(), year=SOME_YEAR)
    def decide_settlement(self, data, year):
        """IMDi decides for a selected person, keeping the place or naming another year; no override."""
        person_id = data.draw(st.sampled_from(self.waiting()))
        municipality = self.app.refugee(person_id).selected_by
        self.attempt(
            f"decide settlement{'' if year is None else ' naming a year'}",
            IMDI,
            c.DecideSettlement(person_id, municipality, year),
        )

    @rule(person_id=persons, municipality=MUNICIPALITIES, year=SOME_YEAR)
    def decide_anyone(self, person_id, municipality, year):
        """Decisions for anyone, for either municipality: mostly refused (R5)."""
        self.attempt("decide anyone", IMDI, c.DecideSettlement(person_id, municipality, year))

    @rule(person_id=persons)
    def settlement_date(self, person_id):
        municipality = self.app.refugee(person_id).selected_by
        if municipality:
            self.attempt("settlement date", CTX[municipality], c.RegisterSettlementDate(person_id, TODAY))

    # Then -----------------------------------------------------------------------------------

    @invariant()
    def vacant_is_never_negative_and_used_counts_the_places(self):
        holders: dict[tuple[str, int], list[bool]] = {}
        for person_id, minor in self.people.items():
            place = self.app.refugee(person_id).place
            if place is not None:
                holders.setdefault(place, []).append(minor)
        for municipality in CTX:
            for year in YEARS:
                quota = self.app.quota_year(municipality, year)
                here = holders.get((municipality, year), [])
                if quota is None:
                    assert here == [], (municipality, year)
                    continue
                assert quota.used == (len(here), sum(here)), (municipality, year)
                assert (quota.over_quota_persons, quota.over_quota_minors) == (0, 0)
                vacant = quota.vacant()
                if vacant is None:
                    assert quota.used == (0, 0), "places taken without a quota decision, without override"
                else:
                    assert vacant[0] >= 0 and vacant[1] >= 0, (municipality, year, quota.decided, quota.used)


VacantPlacesMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_without_overrides_vacant_is_never_negative = VacantPlacesMachine.TestCase
