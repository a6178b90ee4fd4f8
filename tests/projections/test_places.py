"""R10: places per municipality and year, through the application service."""

from __future__ import annotations

from datetime import date

from projections import places
from tests.conftest import TODAY
from tests.projections.conftest import IMDI, OSLO, catch_up


def test_places_count_requested_decided_settled_agreed_used_and_vacant(app, engine, history):
    catch_up(app, engine)
    assert places.places_for_year(engine, "0301", 2025) == {
        "municipality": "0301", "year": 2025,
        # latest request (12, 3); mother and child settled; the minor decided but not settled
        "persons": {"requested": 12, "decided": 8, "settled": 2, "agreed": 1, "used": 3, "vacant": 5},
        "unaccompanied_minors": {"requested": 3, "decided": 1, "settled": 0, "agreed": 1, "used": 1, "vacant": 0},
    }


def test_a_municipality_without_a_decision_shows_null_decided_and_vacant(app, engine, history):
    catch_up(app, engine)
    assert places.places_for_year(engine, "4601", 2025)["persons"] == {
        "requested": 5, "decided": None, "settled": 0, "agreed": 0, "used": 0, "vacant": None,
    }
    assert places.places_for_year(engine, "4601", 2019)["persons"]["requested"] is None


def test_a_corrected_settlement_date_moves_the_person_to_the_year_of_the_new_date(app, engine, history):
    app.correct_settlement_date(IMDI, history.persons["child"], date(2024, 12, 30), "wrong year")
    catch_up(app, engine)
    by_year = {p["year"]: p["persons"] for p in places.places_by_year(engine, "0301")}
    assert [p["year"] for p in places.places_by_year(engine, "0301")] == [2025, 2024]  # newest first
    assert by_year[2025]["settled"] == 1
    assert by_year[2024] == {"requested": None, "decided": None, "settled": 1, "agreed": 0, "used": 1,
                             "vacant": None}


def test_a_later_decision_revises_the_decided_number(app, engine, history):
    app.decide_quota(OSLO, "0301", 2025, 20, 2, TODAY)
    catch_up(app, engine)
    assert places.places_for_year(engine, "0301", 2025)["persons"]["vacant"] == 17
