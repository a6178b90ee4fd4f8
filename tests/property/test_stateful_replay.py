"""Hypothesis stateful test: random command sequences, valid and refused, against an independent model.

Each step predicts from the model whether the command is accepted or which rule refuses it, runs it
through the application service, and checks the prediction. After every step, every aggregate
replayed from the store (by a second application instance, no cache) equals the model.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest
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
    run_state_machine_as_test,
)

from settlement_domain import commands as c
from settlement_domain.application import SettlementApp
from settlement_domain.errors import NotFound, RuleViolation
from settlement_domain.persistence import store_environment
from settlement_domain.values import Decline
from tests.given import BERGEN, IMDI, OSLO, RECEPTION, TODAY, registration

CTX = {"0301": OSLO, "4601": BERGEN}
MUNICIPALITIES = st.sampled_from(["0301", "4601"])
YEARS = st.sampled_from([2025, 2026])
EMPTY_QUOTA = {"requested": None, "decided": None, "taken": 0, "minors_taken": 0, "over": 0, "over_minors": 0}


def outcome(action) -> str:
    """'ok', the refusing rule's code, or 'not-found'."""
    try:
        action()
    except RuleViolation as error:
        return error.rule
    except NotFound:
        return "not-found"
    return "ok"


class SettlementMachine(RuleBasedStateMachine):
    """Drives the write side; the model below is written independently of the domain code.

    The model of places (R2, R4, R5, R10): a quota per (municipality, year) with the latest decision,
    the places taken (persons, minors) and those taken over quota by an override. A selection takes
    places in its list's year only where vacant (R4); a decision keeps the person's place, or moves it
    to the year it names, where it must be vacant unless overridden (R5); a revision cannot go below
    the places taken within the quota (R2).
    """

    database_url: str = ""

    persons = Bundle("persons")
    lists = Bundle("lists")
    chosen_ones = Bundle("selected")  # persons the run tried to select: most steps on them get further

    def __init__(self):
        super().__init__()
        self.app = SettlementApp(store_environment(self.database_url), clock=lambda: TODAY)
        self.reader = SettlementApp(store_environment(self.database_url), clock=lambda: TODAY)
        self.app.handle(IMDI, c.RegisterMunicipality("0301", "Oslo", "Oslo"))
        self.app.handle(IMDI, c.RegisterMunicipality("4601", "Bergen", "Vestland"))
        self.people: dict[uuid.UUID, dict] = {}
        self.dlists: dict[uuid.UUID, dict] = {}
        self.quotas: dict[tuple[str, int], dict] = {
            (m, y): dict(EMPTY_QUOTA) for m in CTX for y in (2025, 2026)
        }

    @initialize(decisions=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 1)), min_size=4, max_size=4))
    def municipalities_decide(self, decisions):
        """Both municipalities decide places for both years, so that selections and decisions get through."""
        for (municipality, year), (persons, minors) in zip(self.quotas, decisions, strict=True):
            self.decide_quota(municipality, year, persons, min(minors, persons))

    def teardown(self):
        self.app.close()
        self.reader.close()

    @initialize(
        target=persons,
        people=st.lists(
            st.tuples(st.sampled_from([None, None, "A", "B"]), st.booleans(), st.booleans()),
            min_size=3,
            max_size=8,
        ),
    )
    def some_people(self, people):
        """Persons from the start, so that every run has someone to propose, decide and settle."""
        return multiple(*(self.register(*p) for p in people))

    # The model's places ---------------------------------------------------------------------

    def fits(self, quota: dict, persons: int, minors: int) -> bool:
        if quota["decided"] is None:
            return False
        decided_persons, decided_minors = quota["decided"]
        return (
            quota["taken"] + persons <= decided_persons and quota["minors_taken"] + minors <= decided_minors
        )

    # Commands -------------------------------------------------------------------------------

    @rule(
        target=persons, family=st.sampled_from([None, "A", "B"]), minor=st.booleans(), private=st.booleans()
    )
    def register(self, family, minor, private):
        result = self.app.handle(
            RECEPTION, registration(name="Model Person", family_id=family, minor=minor, private=private)
        )
        person_id = uuid.UUID(result.id)
        self.people[person_id] = {
            "family": family,
            "minor": minor,
            "private": private,
            "open_list": None,
            "proposed_to": None,
            "selected_by": None,
            "decided_for": None,
            "date": None,
            "deviations": {},
            "flag": False,
            "place": None,
        }
        return person_id

    @rule(
        target=chosen_ones,
        municipality=MUNICIPALITIES,
        year=st.sampled_from([None, 2025, 2026]),
        chosen=st.lists(persons, min_size=1, max_size=4, unique=True),
        accept=st.lists(st.booleans(), min_size=12, max_size=12),
    )
    def propose_and_approve(self, municipality, year, chosen, accept):
        """The common path in one step, families completed, so that random runs reach decisions and dates."""
        families = {self.people[p]["family"] for p in chosen} - {None}
        chosen = list(
            dict.fromkeys([*chosen, *(q for q, r in self.people.items() if r["family"] in families)])
        )
        list_id = self.create_list(municipality, year, chosen)
        # One verdict per family (its first member's), so that most approvals go through.
        verdict: dict[object, bool] = {}
        for person_id, yes in zip(chosen, accept, strict=False):
            verdict.setdefault(self.people[person_id]["family"] or person_id, yes)
        self.approve(list_id, [verdict.get(self.people[p]["family"] or p, True) for p in chosen])
        return multiple(*chosen)

    @rule(
        municipality=MUNICIPALITIES,
        year=YEARS,
        persons=st.integers(0, 4),
        minors=st.integers(0, 2),
        reason=st.booleans(),
    )
    def request(self, municipality, year, persons, minors, reason):
        quota = self.quotas[municipality, year]
        expected = "R1" if minors > persons or (quota["requested"] is not None and not reason) else "ok"
        got = outcome(
            lambda: self.app.handle(
                IMDI,
                c.RequestSettlement(
                    municipality, year, persons, minors, reason="revised" if reason else None
                ),
            )
        )
        assert got == expected
        if got == "ok":
            quota["requested"] = (persons, minors)

    @rule(municipality=MUNICIPALITIES, year=YEARS, persons=st.integers(0, 4), minors=st.integers(0, 2))
    def decide_quota(self, municipality, year, persons, minors):
        quota = self.quotas[municipality, year]
        below_used = (
            persons < quota["taken"] - quota["over"] or minors < quota["minors_taken"] - quota["over_minors"]
        )
        expected = "R2" if minors > persons or below_used else "ok"
        got = outcome(
            lambda: self.app.handle(
                CTX[municipality], c.DecideQuota(municipality, year, persons, minors, TODAY)
            )
        )
        assert got == expected
        if got == "ok":
            quota["decided"] = (persons, minors)

    @rule(
        target=lists,
        municipality=MUNICIPALITIES,
        year=st.sampled_from([None, 2025, 2026]),
        chosen=st.lists(persons, min_size=1, max_size=4, unique=True),
    )
    def create_list(self, municipality, year, chosen):
        def free(p):
            return not (p["open_list"] or p["selected_by"] or p["decided_for"] or p["date"])

        families = {self.people[p]["family"] for p in chosen} - {None}
        whole = all({q for q, r in self.people.items() if r["family"] == f} <= set(chosen) for f in families)
        expected = "ok" if all(free(self.people[p]) for p in chosen) and whole else "R3"
        result = {}
        respond_by = TODAY.replace(day=TODAY.day + 1)

        def create():
            result["list"] = self.app.handle(
                IMDI, c.CreateDistributionList(municipality, tuple(chosen), respond_by, year)
            )

        assert outcome(create) == expected
        if expected != "ok":
            return uuid.uuid4()  # an id the store does not know: later steps must get 404 for it
        list_id = uuid.UUID(result["list"].id)
        self.dlists[list_id] = {
            "municipality": municipality,
            "persons": list(chosen),
            "status": "open",
            "year": respond_by.year if year is None else year,
        }
        for p in chosen:
            self.people[p].update(open_list=list_id, proposed_to=municipality)
        return list_id

    @rule(list_id=lists, accept=st.lists(st.booleans(), min_size=12, max_size=12))
    def approve(self, list_id, accept):
        dlist = self.dlists.get(list_id)
        if dlist is None:
            assert (
                outcome(lambda: self.app.handle(OSLO, c.ApproveDistributionList(list_id, ()))) == "not-found"
            )
            return
        chosen = dlist["persons"]
        accepted = [p for p, a in zip(chosen, accept, strict=False) if a]
        declined = [Decline(p, "Not now") for p in chosen if p not in accepted]
        families = {self.people[p]["family"] for p in chosen} - {None}
        split = any(
            len({p in accepted for p in chosen if self.people[p]["family"] == f}) > 1 for f in families
        )
        municipality, year = dlist["municipality"], dlist["year"]
        quota = self.quotas[municipality, year]
        minors = sum(self.people[p]["minor"] for p in accepted)
        no_room = bool(accepted) and not self.fits(quota, len(accepted), minors)
        expected = "R4" if dlist["status"] != "open" or split or no_room else "ok"
        got = outcome(
            lambda: self.app.handle(
                CTX[municipality], c.ApproveDistributionList(list_id, tuple(accepted), tuple(declined))
            )
        )
        assert got == expected
        event(f"approve: {got}{' (no vacant places)' if no_room and not split else ''}")
        if got == "ok":
            dlist["status"] = "approved"
            quota["taken"] += len(accepted)
            quota["minors_taken"] += minors
            for p in chosen:
                self.people[p].update(open_list=None, proposed_to=None)
                if p in accepted:
                    self.people[p].update(selected_by=municipality, place=(municipality, year))

    @rule(list_id=lists)
    def withdraw(self, list_id):
        dlist = self.dlists.get(list_id)
        expected = "not-found" if dlist is None else ("ok" if dlist["status"] == "open" else "R3")
        assert (
            outcome(lambda: self.app.handle(IMDI, c.WithdrawDistributionList(list_id, "Changed plans")))
            == expected
        )
        if expected == "ok":
            dlist["status"] = "withdrawn"
            for p in dlist["persons"]:
                if self.people[p]["open_list"] == list_id:
                    self.people[p].update(open_list=None, proposed_to=None)

    @rule(
        person_id=st.one_of(chosen_ones, persons),
        municipality=st.sampled_from([None, None, "0301", "4601"]),
        year=st.sampled_from([None, 2025, 2026]),
        override=st.booleans(),
    )
    def decide_settlement(self, person_id, municipality, year, override):
        """``municipality`` None: the one that selected the person (the usual case), else Oslo."""
        p = self.people[person_id]
        municipality = municipality or p["selected_by"] or "0301"
        moves_to = None
        if p["selected_by"] != municipality or p["decided_for"]:
            expected = "R5"
        else:
            target = (municipality, p["place"][1] if year is None else year)
            if target == p["place"]:
                expected = "ok"  # the decision keeps the place the selection took
            else:
                moves_to = target
                fits = self.fits(self.quotas[target], 1, int(p["minor"]))
                expected = "ok" if fits or override else "R5"
        got = outcome(
            lambda: self.app.handle(
                IMDI,
                c.DecideSettlement(
                    person_id, municipality, year, override_reason="Override" if override else None
                ),
            )
        )
        assert got == expected
        event(
            f"decide_settlement: {got}{', place moved' if moves_to else ''}{', override' if override else ''}"
        )
        if got != "ok":
            return
        p["decided_for"] = municipality
        if moves_to is not None:
            new, old = self.quotas[moves_to], self.quotas[p["place"]]
            # Only an override gets past a shortfall; each kind of place is over the quota only where
            # that kind was short (a minor may find a person's place vacant and no minor's place).
            if new["decided"] is None:
                new["over"] += 1
                new["over_minors"] += int(p["minor"])
            else:
                decided_persons, decided_minors = new["decided"]
                new["over"] += int(new["taken"] + 1 > decided_persons)
                new["over_minors"] += int(p["minor"] and new["minors_taken"] + 1 > decided_minors)
            new["taken"] += 1
            new["minors_taken"] += int(p["minor"])
            old["taken"] -= 1
            old["minors_taken"] -= int(p["minor"])
            p["place"] = moves_to

    @precondition(lambda self: any(p["selected_by"] and not p["decided_for"] for p in self.people.values()))
    @rule(data=st.data(), year=st.sampled_from([None, None, 2025, 2026]), override=st.booleans())
    def decide_a_selected_person(self, data, year, override):
        """Most decisions are for a person selected and not yet decided: the path that moves places."""
        waiting = sorted(
            (q for q, p in self.people.items() if p["selected_by"] and not p["decided_for"]), key=str
        )
        self.decide_settlement(data.draw(st.sampled_from(waiting)), None, year, override)

    @rule(person_id=st.one_of(chosen_ones, persons), by=st.sampled_from(["0301", "4601", "reception"]))
    def register_date(self, person_id, by):
        p = self.people[person_id]
        home = p["decided_for"] or p["selected_by"]
        if by == "reception":
            ctx = RECEPTION
            if p["private"] or home is None:
                expected = "R8"
            else:
                expected = "R7f" if p["date"] else "ok"
        else:
            ctx = CTX[by]
            if by not in (p["proposed_to"], p["selected_by"], p["decided_for"]):
                expected = "not-found"
            elif by not in (p["selected_by"], p["decided_for"]):
                expected = "R7a"
            elif not p["private"]:
                expected = "R7b"
            elif any(p["deviations"].values()):
                expected = "R7c"
            elif p["flag"]:
                expected = "R7d"
            elif p["date"]:
                expected = "R7f"
            else:
                expected = "ok"
        assert outcome(lambda: self.app.handle(ctx, c.RegisterSettlementDate(person_id, TODAY))) == expected
        if expected == "ok":
            p["date"] = TODAY

    @rule(person_id=st.one_of(chosen_ones, persons), flag=st.booleans())
    def open_deviation(self, person_id, flag):
        result = self.app.handle(
            IMDI,
            c.OpenDeviation(
                person_id, "kind", "Something to check", registered_private_by_known_deviation=flag
            ),
        )
        self.people[person_id]["deviations"][result.extra["deviation_id"]] = True
        self.people[person_id]["flag"] |= flag

    @rule(person_id=persons)
    def resolve_deviations(self, person_id):
        deviations = self.people[person_id]["deviations"]
        for deviation_id, is_open in list(deviations.items()):
            expected = "ok" if is_open else "R12"
            assert (
                outcome(
                    lambda d=deviation_id: self.app.handle(IMDI, c.ResolveDeviation(person_id, d, "Done"))
                )
                == expected
            )
            deviations[deviation_id] = False

    # The replayed store equals the model ------------------------------------------------------

    @invariant()
    def replay_equals_model(self):
        for person_id, p in self.people.items():
            refugee = self.reader.refugee(person_id)
            assert (
                refugee.open_list_id,
                refugee.selected_by,
                refugee.decided_for,
                refugee.settlement_date,
            ) == (p["open_list"], p["selected_by"], p["decided_for"], p["date"])
            assert refugee.place == p["place"]
            assert refugee.deviations == p["deviations"]
            assert refugee.registered_private_by_known_deviation == p["flag"]
        for list_id, dlist in self.dlists.items():
            stored = self.reader.distribution_list(list_id)
            assert (stored.status.value, stored.year) == (dlist["status"], dlist["year"])
        for (municipality, year), quota in self.quotas.items():
            stored = self.reader.quota_year(municipality, year)
            if stored is None:
                assert quota == EMPTY_QUOTA
                continue
            assert (stored.requested, stored.decided, stored.used) == (
                quota["requested"],
                quota["decided"],
                (quota["taken"], quota["minors_taken"]),
            )
            assert (stored.over_quota_persons, stored.over_quota_minors) == (
                quota["over"],
                quota["over_minors"],
            )


def _sqlite_url() -> str:
    return f"sqlite:///{Path(tempfile.mkdtemp(prefix='settlement-stateful-')) / 'store.db'}"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_random_command_sequences_replay_to_the_model(backend, request):
    if backend == "postgres":
        server = request.getfixturevalue("postgres_url").split("?")[0]

        def fresh_url() -> str:
            schema = f"h_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            schemas.append(schema)
            return f"{server}?schema={schema}"
    else:
        fresh_url = _sqlite_url
    schemas: list[str] = []

    class Machine(SettlementMachine):
        def __init__(self):
            self.database_url = fresh_url()
            super().__init__()

    try:
        run_state_machine_as_test(
            Machine,
            settings=settings(
                max_examples=100 if backend == "sqlite" else 20,
                stateful_step_count=50,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        if schemas:
            with psycopg.connect(server, autocommit=True) as conn:
                for schema in schemas:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
