"""R10: places per municipality and year, through the application service and the read store."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from projections.places import places
from settlement_domain import commands as c
from tests.given import IMDI, OSLO, TODAY
from tests.integration.projections.conftest import catch_up


def figures(row: dict[str, Any], kind: str = "persons") -> dict[str, int | None]:
    """One places row's R10 figures: the counts, and used and vacant worked out from them."""
    decided, settled, agreed = row[f"decided_{kind}"], row[f"settled_{kind}"], row[f"agreed_{kind}"]
    return {
        "requested": row[f"requested_{kind}"], "decided": decided, "settled": settled, "agreed": agreed,
        "used": settled + agreed, "vacant": None if decided is None else decided - settled - agreed,
    }  # fmt: skip


def test_places_count_requested_decided_settled_agreed_used_and_vacant(app, engine, history):
    catch_up(app, engine)
    (row,) = places(engine, municipality="0301", year=2025)
    assert row == {
        "municipality": "0301", "year": 2025,
        "requested_persons": 12, "requested_minors": 3, "decided_persons": 8, "decided_minors": 1,
        "settled_persons": 2, "settled_minors": 0, "agreed_persons": 1, "agreed_minors": 1,
        "over_quota_persons": 0, "over_quota_minors": 0,
        "historical_request": False, "historical_decision": False, "historical_settled": None,
    }  # fmt: skip
    # latest request (12, 3); mother and child settled; the minor decided but not settled
    assert figures(row) == {"requested": 12, "decided": 8, "settled": 2, "agreed": 1, "used": 3, "vacant": 5}
    assert figures(row, "minors") == {
        "requested": 3,
        "decided": 1,
        "settled": 0,
        "agreed": 1,
        "used": 1,
        "vacant": 0,
    }


def test_a_municipality_without_a_decision_shows_null_decided_and_vacant(app, engine, history):
    catch_up(app, engine)
    (row,) = places(engine, municipality="4601", year=2025)
    assert figures(row) == {
        "requested": 5,
        "decided": None,
        "settled": 0,
        "agreed": 0,
        "used": 0,
        "vacant": None,
    }
    assert places(engine, municipality="4601", year=2019) == []  # no record: no row


def test_a_corrected_settlement_date_in_another_year_leaves_the_person_in_the_year_of_the_place(
    app, engine, history
):
    app.handle(
        IMDI, c.CorrectSettlementDate(UUID(history.persons["child"]), date(2024, 12, 30), "wrong year")
    )
    catch_up(app, engine)
    # R10: settled counts in the municipality and year of the person's place, whatever calendar year
    # the settlement date falls in (before R10's rewording the child moved to 2024).
    assert [r["year"] for r in places(engine, municipality="0301")] == [2025]
    (row,) = places(engine, municipality="0301", year=2025)
    assert figures(row)["settled"] == 2


def test_rows_come_newest_year_first_then_by_municipality(app, engine, history):
    app.handle(IMDI, c.RequestSettlement("4601", 2026, 7, 1))
    app.handle(IMDI, c.RequestSettlement("0301", 2026, 3, 0))
    catch_up(app, engine)
    assert [(r["year"], r["municipality"]) for r in places(engine)] == [
        (2026, "0301"), (2026, "4601"), (2025, "0301"), (2025, "4601"),
    ]  # fmt: skip
    assert [r["municipality"] for r in places(engine, year=2026)] == ["0301", "4601"]
    assert [r["year"] for r in places(engine, municipality="4601")] == [2026, 2025]


def test_a_later_decision_revises_the_decided_number(app, engine, history):
    app.handle(OSLO, c.DecideQuota("0301", 2025, 20, 2, TODAY))
    catch_up(app, engine)
    (row,) = places(engine, municipality="0301", year=2025)
    assert figures(row)["vacant"] == 17
