"""Random command sequences, valid and refused: the read models always equal a rebuild and a fold of our own."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, timedelta
from urllib.parse import urlsplit
from uuid import UUID

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from projections.catalog import select_projections
from projections.engine.rebuild import rebuild
from projections.engine.store import open_read_store
from projections.places import places
from settlement_domain import commands as c
from settlement_domain.application import SettlementApp
from settlement_domain.errors import DomainError
from settlement_domain.persistence import store_environment
from settlement_domain.values import Decline
from tests.given import IMDI, OSLO, TODAY
from tests.integration.projections.conftest import catch_up, register, snapshot

MUNICIPALITIES = ("0301", "4601")
YEARS = (2024, 2025, 2026)


def independent_places(app: SettlementApp) -> list[dict[str, object]]:
    """R10 folded here from the raw events, sharing no code with the places projection; over quota
    as the domain's quota years count it."""
    requested: dict[tuple[str, int], tuple[int, int]] = {}
    decided: dict[tuple[str, int], tuple[int, int]] = {}
    minor: dict[str, bool] = {}
    place: dict[str, tuple[str, int]] = {}
    settled: set[str] = set()
    touched: set[tuple[str, int]] = set()
    for notification in app.recorder.select_notifications(1, 1_000_000):
        e = app.mapper.to_domain_event(notification)
        kind = type(e).__name__
        if kind == "SettlementRequested":
            requested[(e.municipality, e.year)] = (e.persons, e.unaccompanied_minors)
            touched.add((e.municipality, e.year))
        elif kind == "QuotaDecided":
            decided[(e.municipality, e.year)] = (e.persons, e.unaccompanied_minors)
            touched.add((e.municipality, e.year))
        elif kind == "RefugeeRegistered":
            minor[str(e.originator_id)] = e.unaccompanied_minor
        elif kind in ("RefugeeSelected", "SettlementDecided"):
            # The decision's place, or before one the selection's (the list's year).
            place[str(e.originator_id)] = (e.municipality, e.year)
            touched.add((e.municipality, e.year))
        elif kind in ("SettlementDateRegistered", "SettlementDateCorrected"):
            settled.add(str(e.originator_id))  # whatever calendar year the date falls in
    counts: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for person, where in place.items():
        kind = "settled" if person in settled else "agreed"
        counts[where][f"{kind}_persons"] += 1
        counts[where][f"{kind}_minors"] += minor[person]
    rows = []
    for municipality, year in touched:
        quota_year = app.quota_year(municipality, year)
        count = counts[(municipality, year)]
        row = {"municipality": municipality, "year": year}
        for index, kind in enumerate(("persons", "minors")):
            row[f"requested_{kind}"] = (
                requested[(municipality, year)][index] if (municipality, year) in requested else None
            )
            row[f"decided_{kind}"] = (
                decided[(municipality, year)][index] if (municipality, year) in decided else None
            )
            for figure in ("settled", "agreed"):
                row[f"{figure}_{kind}"] = count[f"{figure}_{kind}"]
        row["over_quota_persons"] = quota_year.over_quota_persons if quota_year else 0
        row["over_quota_minors"] = quota_year.over_quota_minors if quota_year else 0
        # No import in these histories: no figure from IMDi's statistics (R15).
        row["historical_request"] = row["historical_decision"] = False
        row["historical_settled"] = None
        # The domain's own count of places used agrees with the fold's.
        used = (
            count["settled_persons"] + count["agreed_persons"],
            count["settled_minors"] + count["agreed_minors"],
        )
        assert (quota_year.used if quota_year else (0, 0)) == used, (municipality, year)
        rows.append(row)
    return sorted(rows, key=lambda r: (-r["year"], r["municipality"]))


class Settlement(RuleBasedStateMachine):
    """Commands through the application service; the model only remembers ids, the store decides."""

    def __init__(self, make_url) -> None:
        super().__init__()
        self.url, self.cleanup = make_url()
        self.app = SettlementApp(store_environment(self.url), clock=lambda: TODAY)
        self.engine = open_read_store(self.url)
        self.persons: list[UUID] = []
        self.refused = 0

    def attempt(self, ctx, command):
        try:
            return self.app.handle(ctx, command)
        except DomainError:
            self.refused += 1
            return None

    @initialize()
    def municipalities(self) -> None:
        for number in MUNICIPALITIES:
            self.app.handle(IMDI, c.RegisterMunicipality(number, f"Kommune {number}", "Fylke"))

    @rule(
        number=st.sampled_from(MUNICIPALITIES),
        year=st.sampled_from(YEARS),
        persons=st.integers(0, 4),
        minors=st.integers(0, 2),
        revise=st.booleans(),
    )
    def request(self, number, year, persons, minors, revise) -> None:
        self.attempt(
            IMDI, c.RequestSettlement(number, year, persons, minors, reason="revised" if revise else None)
        )

    @rule(year=st.sampled_from(YEARS), persons=st.integers(0, 4), minors=st.integers(0, 2))
    def decide_quota(self, year, persons, minors) -> None:
        self.attempt(OSLO, c.DecideQuota("0301", year, persons, minors, date(2024, 1, 10)))

    @rule(minor=st.booleans(), private=st.booleans())
    def register(self, minor, private) -> None:
        self.persons.append(UUID(register(self.app, "Random Person", minor=minor, private=private)))

    @rule(data=st.data(), year=st.sampled_from((None, *YEARS)))
    def propose_and_answer(self, data, year) -> None:
        if not self.persons:
            return
        chosen = data.draw(st.lists(st.sampled_from(self.persons), min_size=1, max_size=3, unique=True))
        created = self.attempt(
            IMDI, c.CreateDistributionList("0301", tuple(chosen), TODAY + timedelta(days=7), year)
        )
        if created is None:
            return
        list_id = UUID(created.id)
        accepted = data.draw(st.lists(st.sampled_from(chosen), unique=True))
        declined = tuple(Decline(p, "no room") for p in chosen if p not in accepted)
        if data.draw(st.booleans()):
            self.attempt(OSLO, c.ApproveDistributionList(list_id, tuple(accepted), declined))
        else:
            self.attempt(IMDI, c.WithdrawDistributionList(list_id, "changed plans"))

    @rule(data=st.data(), override=st.booleans(), year=st.sampled_from((None, *YEARS)))
    def decide_settlement(self, data, override, year) -> None:
        if self.persons:
            person = data.draw(st.sampled_from(self.persons))
            self.attempt(IMDI, c.DecideSettlement(person, "0301", year, "urgent" if override else None))

    @rule(data=st.data(), days_ago=st.integers(0, 400))
    def settlement_date(self, data, days_ago) -> None:
        if self.persons:
            person = data.draw(st.sampled_from(self.persons))
            day = TODAY - timedelta(days=days_ago)
            self.attempt(OSLO, c.RegisterSettlementDate(person, day))
            self.attempt(IMDI, c.CorrectSettlementDate(person, day - timedelta(days=200), "typo"))

    @rule(data=st.data())
    def deviation(self, data) -> None:
        if self.persons:
            person = data.draw(st.sampled_from(self.persons))
            opened = self.attempt(IMDI, c.OpenDeviation(person, "kind", "text"))
            if opened is not None and data.draw(st.booleans()):
                self.attempt(IMDI, c.ResolveDeviation(person, opened.extra["deviation_id"], "ok"))

    @invariant()
    def read_models_equal_a_rebuild_and_an_independent_fold(self) -> None:
        catch_up(self.app, self.engine)
        found = places(self.engine)
        assert found == independent_places(self.app)
        for row in found:
            # R10: only an override makes vacant negative.
            if row["decided_persons"] is not None:
                used = row["settled_persons"] + row["agreed_persons"]
                assert used - row["over_quota_persons"] <= row["decided_persons"], row
        live = snapshot(self.engine)
        assert len(live["audit_trail"]["events"]) == self.app.position()
        report = rebuild(self.app, self.engine, select_projections(None), grace_seconds=0)
        assert report.equal, [(p.name, [t.table for t in p.differences]) for p in report.projections]
        assert snapshot(self.engine) == live

    def teardown(self) -> None:
        self.engine.dispose()
        self.app.close()
        self.cleanup()


@pytest.mark.slow
def test_random_command_sequences_keep_every_read_model_equal_to_a_rebuild_and_a_fold(database_url, tmp_path):
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
        settings=settings(
            max_examples=6, stateful_step_count=12, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )
