"""Random command sequences, valid and refused: the views always equal a rebuild and a fold of our own."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, timedelta
from urllib.parse import urlsplit

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from projections import places
from projections.rebuild import rebuild
from projections.store import open_read_store
from settlement_domain.application import SettlementApp
from settlement_domain.errors import DomainError
from settlement_domain.persistence import store_environment
from tests.conftest import TODAY
from tests.projections.conftest import IMDI, OSLO, catch_up, register, snapshot

MUNICIPALITIES = ("0301", "4601")


def independent_places(app: SettlementApp) -> dict[tuple[str, int], dict[str, object]]:
    """R10 folded here from the raw events, sharing no code with the places projection."""
    requested: dict[tuple[str, int], tuple[int, int]] = {}
    decided: dict[tuple[str, int], tuple[int, int]] = {}
    minor: dict[str, bool] = {}
    agreed: dict[str, tuple[str, int]] = {}
    settled: dict[str, tuple[str, int]] = {}
    for notification in app.recorder.select_notifications(1, 1_000_000):
        e = app.mapper.to_domain_event(notification)
        kind = type(e).__name__
        if kind == "SettlementRequested":
            requested[(e.municipality, e.year)] = (e.persons, e.unaccompanied_minors)
        elif kind == "QuotaDecided":
            decided[(e.municipality, e.year)] = (e.persons, e.unaccompanied_minors)
        elif kind == "RefugeeRegistered":
            minor[str(e.originator_id)] = e.unaccompanied_minor
        elif kind in ("RefugeeSelected", "SettlementDecided"):
            agreed[str(e.originator_id)] = (e.municipality, e.year)
        elif kind in ("SettlementDateRegistered", "SettlementDateCorrected"):
            settled[str(e.originator_id)] = (e.municipality, e.settlement_date.year)
    counts: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    touched = set(requested) | set(decided) | set(agreed.values()) | set(settled.values())
    for person, where in settled.items():
        counts[where]["settled"] += 1
        counts[where]["settled_minors"] += minor[person]
    for person, where in agreed.items():
        if person not in settled:
            counts[where]["agreed"] += 1
            counts[where]["agreed_minors"] += minor[person]
    result = {}
    for key in touched:
        c = counts[key]
        out = {}
        for label, index, s, a in (("persons", 0, "settled", "agreed"),
                                   ("unaccompanied_minors", 1, "settled_minors", "agreed_minors")):
            req = requested[key][index] if key in requested else None
            dec = decided[key][index] if key in decided else None
            used = c[s] + c[a]
            out[label] = {"requested": req, "decided": dec, "settled": c[s], "agreed": c[a], "used": used,
                          "vacant": None if dec is None else dec - used}
        result[key] = out
    return result


class Settlement(RuleBasedStateMachine):
    """Commands through the application service; the model only remembers ids, the store decides."""

    def __init__(self, make_url) -> None:
        super().__init__()
        self.url, self.cleanup = make_url()
        self.app = SettlementApp(store_environment(self.url), clock=lambda: TODAY)
        self.engine = open_read_store(self.url)
        self.persons: list[str] = []
        self.deviations: list[tuple[str, str]] = []
        self.refused = 0

    def attempt(self, command, *args, **kwargs):
        try:
            return command(*args, **kwargs)
        except DomainError:
            self.refused += 1
            return None

    @initialize()
    def municipalities(self) -> None:
        for number in MUNICIPALITIES:
            self.app.register_municipality(IMDI, number, f"Kommune {number}", "Fylke")

    @rule(number=st.sampled_from(MUNICIPALITIES), year=st.sampled_from((2024, 2025)),
          persons=st.integers(0, 4), minors=st.integers(0, 2), revise=st.booleans())
    def request(self, number, year, persons, minors, revise) -> None:
        self.attempt(self.app.request_settlement, IMDI, number, year, persons, minors,
                     reason="revised" if revise else None)

    @rule(year=st.sampled_from((2024, 2025)), persons=st.integers(0, 4), minors=st.integers(0, 2))
    def decide_quota(self, year, persons, minors) -> None:
        self.attempt(self.app.decide_quota, OSLO, "0301", year, persons, minors, date(2024, 1, 10))

    @rule(minor=st.booleans(), private=st.booleans())
    def register(self, minor, private) -> None:
        self.persons.append(register(self.app, "Random Person", minor=minor, private=private))

    @rule(data=st.data())
    def propose_and_answer(self, data) -> None:
        if not self.persons:
            return
        chosen = data.draw(st.lists(st.sampled_from(self.persons), min_size=1, max_size=3, unique=True))
        created = self.attempt(self.app.create_distribution_list, IMDI, "0301", chosen, TODAY + timedelta(days=7))
        if created is None:
            return
        accepted = data.draw(st.lists(st.sampled_from(chosen), unique=True))
        declined = {p: "no room" for p in chosen if p not in accepted}
        if data.draw(st.booleans()):
            self.attempt(self.app.approve_distribution_list, OSLO, created.id, accepted, declined)
        else:
            self.attempt(self.app.withdraw_distribution_list, IMDI, created.id, "changed plans")

    @rule(data=st.data(), override=st.booleans(), year=st.sampled_from((2024, 2025)))
    def decide_settlement(self, data, override, year) -> None:
        if self.persons:
            person = data.draw(st.sampled_from(self.persons))
            self.attempt(self.app.decide_settlement, IMDI, person, "0301", year,
                         override_reason="urgent" if override else None)

    @rule(data=st.data(), days_ago=st.integers(0, 400))
    def settlement_date(self, data, days_ago) -> None:
        if self.persons:
            person = data.draw(st.sampled_from(self.persons))
            day = TODAY - timedelta(days=days_ago)
            self.attempt(self.app.register_settlement_date, OSLO, person, day)
            self.attempt(self.app.correct_settlement_date, IMDI, person, day - timedelta(days=200), "typo")

    @rule(data=st.data())
    def deviation(self, data) -> None:
        if self.persons:
            person = data.draw(st.sampled_from(self.persons))
            opened = self.attempt(self.app.open_deviation, IMDI, person, "kind", "text")
            if opened is not None and data.draw(st.booleans()):
                self.attempt(self.app.resolve_deviation, IMDI, person, opened.extra["deviation_id"], "ok")

    @invariant()
    def views_equal_a_rebuild_and_an_independent_fold(self) -> None:
        catch_up(self.app, self.engine)
        expected = independent_places(self.app)
        for (number, year), figures in expected.items():
            view = places.places_for_year(self.engine, number, year)
            assert {k: view[k] for k in ("persons", "unaccompanied_minors")} == figures, (number, year)
        assert sum(len(places.places_by_year(self.engine, n)) for n in MUNICIPALITIES) == len(expected)
        live = snapshot(self.engine)
        assert len(live["audit_trail"]["events"]) == self.app.position()
        report = rebuild(self.app, self.engine, grace_seconds=0)
        assert report.equal, [(p.name, [c.table for c in p.differences]) for p in report.projections]
        assert snapshot(self.engine) == live

    def teardown(self) -> None:
        self.engine.dispose()
        self.app.close()
        self.cleanup()


@pytest.mark.slow
def test_random_command_sequences_keep_every_view_equal_to_a_rebuild_and_a_fold(database_url, tmp_path):
    def make_url():
        if database_url.startswith("sqlite"):
            path = tmp_path / f"{uuid.uuid4().hex}.db"
            return f"sqlite:///{path}", lambda: None
        server = database_url.split("?")[0]
        schema = f"h_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')

        def drop() -> None:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')

        assert urlsplit(server).scheme.startswith("postgres")
        return f"{server}?schema={schema}", drop

    run_state_machine_as_test(
        lambda: Settlement(make_url),
        settings=settings(max_examples=6, stateful_step_count=12, deadline=None,
                          suppress_health_check=list(HealthCheck)),
    )
