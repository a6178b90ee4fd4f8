"""R14: a municipality's places and a person's case replayed from the log to a past moment, by recorded
time (equal to the places read model folded up to that moment) and by business time."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from projections.engine.rows import MemoryRows
from projections.engine.runner import Dispatch
from projections.places import PROJECTION as PLACES
from settlement_domain import commands as c
from settlement_domain.errors import RuleViolation
from settlement_domain.replay import (
    PLACES_COLUMNS,
    case_as_of,
    case_as_of_business,
    case_facts,
    municipalities_as_of,
    national_as_of,
    places_as_of,
    replay_places,
)
from settlement_domain.values import ImportSource
from tests.given import (
    IMDI,
    OSLO,
    RECEPTION,
    TODAY,
    decided,
    decided_quota,
    events_since,
    municipalities,
    person,
    selected,
)


def view_at(app: Any, moment: datetime | None, municipality: str = "0301") -> list[dict[str, Any]]:
    """The places read model as it stood at ``moment``: the events recorded by then, folded."""
    rows = MemoryRows(PLACES)
    events = [
        (p, e) for p, e in enumerate(events_since(app, 0), 1) if moment is None or e.timestamp <= moment
    ]
    Dispatch([(PLACES, rows)], keys=None).fold(events)
    found = [dict(r) for r in rows.all_rows("quotas") if r["municipality"] == municipality]
    return sorted(found, key=lambda r: -r["year"])


def now() -> datetime:
    return datetime.now(UTC)


def noon(day: Any) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


@pytest.fixture
def story(app):
    """A case of Oslo's told step by step; the moment after each step, by name."""
    moments: dict[str, datetime] = {}
    municipalities(app)
    moments["registered"] = now()
    app.handle(IMDI, c.RequestSettlement("0301", 2025, 4, 1))
    moments["request"] = now()
    decided_quota(app, "0301", persons=3, minors=1, year=2025)
    decided_quota(app, "0301", persons=1, minors=0, year=2026)
    moments["decision"] = now()
    adult, minor, third = person(app), person(app, minor=True), person(app)
    selected(app, OSLO, [adult, minor, third])
    moments["selection"] = now()
    decided(app, adult)  # keeps the place of 2025
    moments["decided_keeping"] = now()
    decided(app, minor, year=2026, override_reason="Family in Oslo")  # moves it, a minor over quota
    moments["decided_moving"] = now()
    decided(app, third, year=2027, override_reason="Urgent")  # nothing decided for 2027: over quota
    moments["override"] = now()
    app.handle(RECEPTION, c.RegisterSettlementDate(adult, TODAY))
    moments["settled"] = now()
    app.handle(IMDI, c.CorrectSettlementDate(adult, TODAY - timedelta(days=10), "Moved in earlier"))
    moments["corrected"] = now()
    source = ImportSource("statistikk.csv", "0" * 64, 2)
    for kind, persons in (("request", 30), ("decision", 28), ("settled", 27)):
        app.handle(IMDI, c.RecordHistoricalFigure("0301", 2019, kind, persons, source))
    moments["historical"] = now()
    return app, moments, {"adult": adult, "minor": minor, "third": third}


def test_places_by_recorded_time_equal_the_read_model_at_every_step(story):
    app, moments, _ = story
    for step, moment in moments.items():
        replayed = places_as_of(app, "0301", moment)
        assert replayed == view_at(app, moment), step
        assert all(list(row) == list(PLACES_COLUMNS) for row in replayed)
    assert places_as_of(app, "0301", None) == view_at(app, None)


def test_places_by_recorded_time_show_each_step(story):
    app, moments, _ = story

    def year(step: str, y: int) -> dict[str, Any] | None:
        return next((r for r in places_as_of(app, "0301", moments[step]) if r["year"] == y), None)

    assert places_as_of(app, "0301", moments["registered"]) == []
    assert year("request", 2025)["requested_persons"] == 4
    assert year("request", 2025)["decided_persons"] is None
    assert year("decision", 2025)["decided_persons"] == 3
    assert (year("selection", 2025)["agreed_persons"], year("selection", 2025)["agreed_minors"]) == (3, 1)
    assert year("decided_keeping", 2025)["agreed_persons"] == 3
    moved = year("decided_moving", 2026)
    assert (moved["agreed_persons"], moved["agreed_minors"], moved["over_quota_minors"]) == (1, 1, 1)
    assert moved["over_quota_persons"] == 0  # a person's place was vacant in 2026, a minor's was not
    assert year("decided_moving", 2025)["agreed_persons"] == 2
    assert (year("override", 2027)["over_quota_persons"], year("override", 2027)["decided_persons"]) == (
        1,
        None,
    )
    assert year("decided_keeping", 2027) is None
    assert (year("settled", 2025)["settled_persons"], year("settled", 2025)["agreed_persons"]) == (1, 0)
    assert year("corrected", 2025)["settled_persons"] == 1
    historical = year("historical", 2019)
    assert (historical["historical_request"], historical["historical_decision"]) == (True, True)
    assert (
        historical["requested_persons"],
        historical["decided_persons"],
        historical["historical_settled"],
    ) == (
        30,
        28,
        27,
    )
    assert year("corrected", 2019) is None


def test_a_replay_reads_only_its_own_streams(story):
    app, _, people = story
    replay = replay_places(app, "0301", None, years=[2025])
    # The quota year of 2025 and the persons who held a place in it (the minor's moved out; still read).
    assert replay.cost.streams == 1 + len(people)
    assert [r["year"] for r in replay.rows] == [2025]
    assert replay_places(app, "4601", None).rows == []
    assert replay_places(app, "4601", None, years=[2025]).cost.events == 0


def test_places_by_business_time_count_facts_from_their_own_dates(story):
    app, moments, people = story
    # Recorded now, but the facts are dated on the test clock's days (TODAY and before).
    assert places_as_of(app, "0301", noon(TODAY - timedelta(days=40))) == []  # before every dated fact
    before_selection = {
        r["year"]: r for r in places_as_of(app, "0301", noon(TODAY - timedelta(days=1)), by="business")
    }
    assert before_selection[2025]["decided_persons"] == 3  # decided yesterday (decided_quota)
    # The request has no date, but it was recorded before the decision of that stream: it counts too.
    assert before_selection[2025]["requested_persons"] == 4
    assert before_selection[2025]["agreed_persons"] == 0
    today = {r["year"]: r for r in places_as_of(app, "0301", noon(TODAY), by="business")}
    assert (
        today[2025]["settled_persons"],
        today[2026]["agreed_minors"],
        today[2027]["over_quota_persons"],
    ) == (
        1,
        1,
        1,
    )
    # The adult's date was corrected to 10 days before TODAY: as of 5 days before, that date counts,
    # but the selection (TODAY) does not, so the adult holds no place yet (and nobody else does).
    early = {r["year"]: r for r in places_as_of(app, "0301", noon(TODAY - timedelta(days=5)), by="business")}
    assert sum(r["settled_persons"] + r["agreed_persons"] for r in early.values()) == 0
    # By recorded time, the same moment knows nothing: everything was recorded later.
    assert places_as_of(app, "0301", noon(TODAY)) == []
    assert places_as_of(app, "0301", None, by="business") == places_as_of(app, "0301", None)
    assert moments and people


def test_a_settlement_date_in_the_past_settles_the_person_from_that_date(app):
    municipalities(app)
    decided_quota(app, "0301", persons=2, minors=0, year=2025)
    someone = person(app)
    selected(app, OSLO, [someone])
    app.handle(RECEPTION, c.RegisterSettlementDate(someone, TODAY))
    app.handle(IMDI, c.CorrectSettlementDate(someone, TODAY - timedelta(days=3), "Moved in earlier"))
    recorded = now()

    def settled(moment: datetime, by: str) -> int:
        return sum(r["settled_persons"] for r in places_as_of(app, "0301", moment, by=by))

    # Selected TODAY, settled 3 days before (as corrected): settled as of TODAY by business time.
    assert settled(noon(TODAY), "business") == 1
    assert settled(recorded, "recorded") == 1
    assert settled(noon(TODAY), "recorded") == 0
    case = case_as_of_business(app, someone, noon(TODAY - timedelta(days=1)))
    assert (case.selected_by, case.settlement_date) == (None, TODAY - timedelta(days=3))


def test_a_case_by_business_time_leaves_out_facts_dated_after_the_moment(story):
    app, _, people = story
    adult = people["adult"]
    # Registered (no date of its own) by the earliest dated fact after it: the corrected settlement date.
    assert case_as_of(app, adult, noon(TODAY - timedelta(days=20)), by="business") is None
    before = case_as_of(app, adult, noon(TODAY - timedelta(days=7)), by="business")
    assert before is not None
    assert (before.selected_by, before.decided_for, before.settlement_date) == (
        None,
        None,
        TODAY - timedelta(days=10),
    )
    today = case_facts(case_as_of(app, adult, noon(TODAY), by="business"))
    assert (today["selected_by"], today["decided_for"], today["place"]) == (
        "0301",
        "0301",
        {"municipality": "0301", "year": 2025},
    )
    assert today["settlement_date"] == TODAY - timedelta(days=10)
    assert today["version"] == app.refugee(adult).version
    assert "full_name" not in today and "birth_date" not in today and "postal_address" not in today
    assert case_as_of(app, adult, None, by="business").version == app.refugee(adult).version
    assert case_as_of(app, adult, noon(TODAY)) is None  # by recorded time: not registered yet
    assert case_as_of_business(app, people["minor"], datetime(2001, 1, 1, tzinfo=UTC)) is None


def test_national_replay_lists_every_municipality_with_places_in_the_year(story):
    app, moments, _ = story
    assert [m["number"] for m in municipalities_as_of(app, None)] == ["0301", "4601"]
    assert municipalities_as_of(app, moments["registered"] - timedelta(days=1)) == []
    rows = national_as_of(app, 2025, moments["settled"])
    assert rows == [r for r in view_at(app, moments["settled"]) if r["year"] == 2025]
    assert national_as_of(app, 2025, moments["registered"]) == []


def test_bad_input_is_refused(app):
    with pytest.raises(RuleViolation):
        places_as_of(app, "301", None)
    with pytest.raises(ValueError, match="by is one of"):
        places_as_of(app, "0301", None, by="wall-clock")  # type: ignore[arg-type]
    naive = datetime.now()  # read as UTC, never a TypeError
    assert places_as_of(app, "0301", naive) == []
