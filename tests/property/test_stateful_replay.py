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
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from settlement_domain.application import SettlementApp
from settlement_domain.errors import NotFound, RuleViolation
from settlement_domain.persistence import store_environment
from tests.builders import ADDRESS, BERGEN, IMDI, OSLO, PRIVATE, RECEPTION, RECEPTION_CENTRE
from tests.conftest import TODAY

CTX = {"0301": OSLO, "4601": BERGEN}
MUNICIPALITIES = st.sampled_from(["0301", "4601"])


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
    """Drives the write side; the model below is written independently of the domain code."""

    database_url: str = ""

    persons = Bundle("persons")
    lists = Bundle("lists")
    chosen_ones = Bundle("selected")  # persons the run tried to select: most steps on them get further

    def __init__(self):
        super().__init__()
        self.app = SettlementApp(store_environment(self.database_url), clock=lambda: TODAY)
        self.reader = SettlementApp(store_environment(self.database_url), clock=lambda: TODAY)
        self.app.register_municipality(IMDI, "0301", "Oslo", "Oslo")
        self.app.register_municipality(IMDI, "4601", "Bergen", "Vestland")
        self.people: dict[uuid.UUID, dict] = {}
        self.dlists: dict[uuid.UUID, dict] = {}
        self.quotas: dict[str, dict] = {m: {"requested": None, "decided": None, "taken": 0, "minors_taken": 0}
                                        for m in CTX}

    @initialize(persons=st.integers(0, 3), minors=st.integers(0, 1))
    def oslo_decides(self, persons, minors):
        self.decide_quota("0301", persons, min(minors, persons))

    def teardown(self):
        self.app.close()
        self.reader.close()

    @initialize(target=persons, people=st.lists(
        st.tuples(st.sampled_from([None, None, "A", "B"]), st.booleans(), st.booleans()), min_size=3, max_size=8))
    def some_people(self, people):
        """Persons from the start, so that every run has someone to propose, decide and settle."""
        return multiple(*(self.register(*p) for p in people))

    # Commands -------------------------------------------------------------------------------

    @rule(target=persons, family=st.sampled_from([None, "A", "B"]), minor=st.booleans(), private=st.booleans())
    def register(self, family, minor, private):
        birth = TODAY.replace(year=TODAY.year - (16 if minor else 30))
        result = self.app.register_refugee(
            RECEPTION, full_name="Model Person", birth_date=birth, family_id=family,
            unaccompanied_minor=minor, residence=PRIVATE if private else RECEPTION_CENTRE,
            postal_address=ADDRESS, category="asylum",
        )
        person_id = uuid.UUID(result.id)
        self.people[person_id] = {
            "family": family, "minor": minor, "private": private, "open_list": None, "proposed_to": None,
            "selected_by": None, "decided_for": None, "date": None, "deviations": {}, "flag": False,
        }
        return person_id

    @rule(target=chosen_ones, municipality=MUNICIPALITIES,
          chosen=st.lists(persons, min_size=1, max_size=4, unique=True),
          accept=st.lists(st.booleans(), min_size=12, max_size=12))
    def propose_and_approve(self, municipality, chosen, accept):
        """The common path in one step, families completed, so that random runs reach decisions and dates."""
        families = {self.people[p]["family"] for p in chosen} - {None}
        chosen = list(dict.fromkeys(
            [*chosen, *(q for q, r in self.people.items() if r["family"] in families)]))
        list_id = self.create_list(municipality, chosen)
        # One verdict per family (its first member's), so that most approvals go through.
        verdict: dict[object, bool] = {}
        for person_id, yes in zip(chosen, accept, strict=False):
            verdict.setdefault(self.people[person_id]["family"] or person_id, yes)
        self.approve(list_id, [verdict.get(self.people[p]["family"] or p, True) for p in chosen])
        return multiple(*chosen)

    @rule(municipality=MUNICIPALITIES, persons=st.integers(0, 4), minors=st.integers(0, 2), reason=st.booleans())
    def request(self, municipality, persons, minors, reason):
        quota = self.quotas[municipality]
        expected = "R1" if minors > persons or (quota["requested"] is not None and not reason) else "ok"
        got = outcome(lambda: self.app.request_settlement(
            IMDI, municipality, 2025, persons, minors, reason="revised" if reason else None))
        assert got == expected
        if got == "ok":
            quota["requested"] = (persons, minors)

    @rule(municipality=MUNICIPALITIES, persons=st.integers(0, 4), minors=st.integers(0, 2))
    def decide_quota(self, municipality, persons, minors):
        expected = "R2" if minors > persons else "ok"
        got = outcome(lambda: self.app.decide_quota(CTX[municipality], municipality, 2025, persons, minors, TODAY))
        assert got == expected
        if got == "ok":
            self.quotas[municipality]["decided"] = (persons, minors)

    @rule(target=lists, municipality=MUNICIPALITIES, chosen=st.lists(persons, min_size=1, max_size=4, unique=True))
    def create_list(self, municipality, chosen):
        def free(p):
            return not (p["open_list"] or p["selected_by"] or p["decided_for"] or p["date"])

        families = {self.people[p]["family"] for p in chosen} - {None}
        whole = all(
            {q for q, r in self.people.items() if r["family"] == f} <= set(chosen) for f in families
        )
        expected = "ok" if all(free(self.people[p]) for p in chosen) and whole else "R3"
        result = {}

        def create():
            result["list"] = self.app.create_distribution_list(
                IMDI, municipality, chosen, TODAY.replace(day=TODAY.day + 1))

        assert outcome(create) == expected
        if expected != "ok":
            return uuid.uuid4()  # an id the store does not know: later steps must get 404 for it
        list_id = uuid.UUID(result["list"].id)
        self.dlists[list_id] = {"municipality": municipality, "persons": list(chosen), "status": "open"}
        for p in chosen:
            self.people[p].update(open_list=list_id, proposed_to=municipality)
        return list_id

    @rule(list_id=lists, accept=st.lists(st.booleans(), min_size=12, max_size=12))
    def approve(self, list_id, accept):
        dlist = self.dlists.get(list_id)
        if dlist is None:
            assert outcome(lambda: self.app.approve_distribution_list(OSLO, list_id, [], {})) == "not-found"
            return
        chosen = dlist["persons"]
        accepted = [p for p, a in zip(chosen, accept, strict=False) if a]
        declined = {p: "Not now" for p in chosen if p not in accepted}
        families = {self.people[p]["family"] for p in chosen} - {None}
        split = any(len({p in accepted for p in chosen if self.people[p]["family"] == f}) > 1 for f in families)
        expected = "R4" if dlist["status"] != "open" or split else "ok"
        municipality = dlist["municipality"]
        got = outcome(lambda: self.app.approve_distribution_list(CTX[municipality], list_id, accepted, declined))
        assert got == expected
        if got == "ok":
            dlist["status"] = "approved"
            for p in chosen:
                self.people[p].update(open_list=None, proposed_to=None)
                if p in accepted:
                    self.people[p]["selected_by"] = municipality

    @rule(list_id=lists)
    def withdraw(self, list_id):
        dlist = self.dlists.get(list_id)
        expected = "not-found" if dlist is None else ("ok" if dlist["status"] == "open" else "R3")
        assert outcome(lambda: self.app.withdraw_distribution_list(IMDI, list_id, "Changed plans")) == expected
        if expected == "ok":
            dlist["status"] = "withdrawn"
            for p in dlist["persons"]:
                if self.people[p]["open_list"] == list_id:
                    self.people[p].update(open_list=None, proposed_to=None)

    @rule(person_id=st.one_of(chosen_ones, persons), municipality=MUNICIPALITIES, override=st.booleans())
    def decide_settlement(self, person_id, municipality, override):
        p, quota = self.people[person_id], self.quotas[municipality]
        if p["selected_by"] != municipality or p["decided_for"]:
            expected = "R5"
        elif override:
            expected = "ok"
        elif quota["decided"] is None or quota["taken"] + 1 > quota["decided"][0] or (p["minor"] and quota["minors_taken"] + 1 > quota["decided"][1]):
            expected = "R5"
        else:
            expected = "ok"
        got = outcome(lambda: self.app.decide_settlement(
            IMDI, person_id, municipality, 2025, override_reason="Override" if override else None))
        assert got == expected
        if got == "ok":
            p["decided_for"] = municipality
            quota["taken"] += 1
            quota["minors_taken"] += int(p["minor"])

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
        assert outcome(lambda: self.app.register_settlement_date(ctx, person_id, TODAY)) == expected
        if expected == "ok":
            p["date"] = TODAY

    @rule(person_id=st.one_of(chosen_ones, persons), flag=st.booleans())
    def open_deviation(self, person_id, flag):
        result = self.app.open_deviation(IMDI, person_id, "kind", "Something to check",
                                         registered_private_by_known_deviation=flag)
        self.people[person_id]["deviations"][result.extra["deviation_id"]] = True
        self.people[person_id]["flag"] |= flag

    @rule(person_id=persons)
    def resolve_deviations(self, person_id):
        deviations = self.people[person_id]["deviations"]
        for deviation_id, is_open in list(deviations.items()):
            expected = "ok" if is_open else "R12"
            assert outcome(lambda d=deviation_id: self.app.resolve_deviation(IMDI, person_id, d, "Done")) == expected
            deviations[deviation_id] = False

    # The replayed store equals the model ------------------------------------------------------

    @invariant()
    def replay_equals_model(self):
        for person_id, p in self.people.items():
            refugee = self.reader.refugee(person_id)
            assert (refugee.open_list_id, refugee.selected_by, refugee.decided_for, refugee.settlement_date) == (
                p["open_list"], p["selected_by"], p["decided_for"], p["date"])
            assert refugee.deviations == p["deviations"]
            assert refugee.registered_private_by_known_deviation == p["flag"]
        for list_id, dlist in self.dlists.items():
            assert self.reader.distribution_list(list_id).status.value == dlist["status"]
        for municipality, quota in self.quotas.items():
            year = self.reader.quota_year(municipality, 2025)
            if year is None:
                assert quota == {"requested": None, "decided": None, "taken": 0, "minors_taken": 0}
                continue
            assert (year.requested, year.decided, year.places_taken, year.minor_places_taken) == (
                quota["requested"], quota["decided"], quota["taken"], quota["minors_taken"])


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
            settings=settings(max_examples=100 if backend == "sqlite" else 20, stateful_step_count=50,
                              deadline=None, suppress_health_check=[HealthCheck.too_slow]),
        )
    finally:
        if schemas:
            with psycopg.connect(server, autocommit=True) as conn:
                for schema in schemas:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
