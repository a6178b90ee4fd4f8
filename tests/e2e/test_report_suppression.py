"""R13 in the national report: a "<5" cannot be worked out from the cells shown next to it."""

from __future__ import annotations

import csv
import io
from typing import Any

from tests.e2e.conftest import AUDITOR, BERGEN, IMDI, MUNICIPALITY, OSLO, Api
from tests.e2e.story import approve, propose, register_municipality, register_refugee, request_and_decide
from tests.given import TODAY

ASKOY, KINN = "4627", "4602"
HIDDEN = ("<5", ":")


def settle(api: Api, municipality: str, count: int) -> None:
    persons = [register_refugee(api) for _ in range(count)]
    approve(api, municipality, propose(api, municipality, persons), persons)
    for person in persons:
        api.ok(
            api.post(
                f"/refugees/{person}/settlement-date", {"date": TODAY.isoformat()}, MUNICIPALITY, municipality
            )
        )


def sums(report: dict[str, Any]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Every total the report shows, with the cells it is the sum of."""
    counties = {row["county"]: row for row in report["counties"]}
    members: dict[str, list[dict[str, Any]]] = {}
    for row in report["municipalities"]:
        members.setdefault(row["county"], []).append(row)
    return [
        *((counties[c], m) for c, m in members.items()),
        (report["total"], report["counties"]),
        (report["total"], report["municipalities"]),
    ]


def assert_nothing_hidden_can_be_subtracted_back(report: dict[str, Any]) -> None:
    for whole, parts in sums(report):
        for figure in ("settled", "vacant"):
            hidden = [cell for cell in (whole, *parts) if cell[figure] in HIDDEN]
            assert len(hidden) != 1, (figure, whole, parts)
    for row in [*report["municipalities"], *report["counties"], report["total"]]:
        if row["settled"] in HIDDEN:
            assert row["vacant"] in (*HIDDEN, None), row  # vacant = decided - settled - agreed


def test_a_small_settled_count_cannot_be_worked_out_from_vacant_places_or_totals(api: Api) -> None:
    register_municipality(api, OSLO, "Oslo", "Oslo")
    register_municipality(api, BERGEN, "Bergen", "Vestland")
    register_municipality(api, ASKOY, "Askøy", "Vestland")
    register_municipality(api, KINN, "Kinn", "Vestland")
    request_and_decide(api, OSLO, persons=10, minors=0)
    request_and_decide(api, BERGEN, persons=5, minors=0)
    request_and_decide(api, ASKOY, persons=8, minors=0)
    settle(api, OSLO, 3)
    settle(api, BERGEN, 2)
    settle(api, ASKOY, 6)

    truth = api.ok(api.get("/reports/national", AUDITOR, params={"year": 2025}))
    by_number = {row["municipality"]: row for row in truth["municipalities"]}
    assert (by_number[OSLO]["decided"], by_number[OSLO]["vacant"], by_number[OSLO]["settled"]) == (10, 7, 3)
    assert by_number[BERGEN]["settled"] == 2 and by_number[ASKOY]["settled"] == 6

    seen = api.ok(api.get("/reports/national", MUNICIPALITY, BERGEN, params={"year": 2025}))
    rows = {row["municipality"]: row for row in seen["municipalities"]}
    # The reviewer's example: decided 10 and vacant 7 shown next to "<5" gave away 3.
    assert rows[OSLO]["decided"] == 10 and rows[OSLO]["settled"] == "<5" and rows[OSLO]["vacant"] == ":"
    # Vestland: Bergen's 2 is hidden; without Askøy's 6 hidden too, 8 - 6 - 0 would give it away.
    assert rows[BERGEN]["settled"] == "<5" and rows[ASKOY]["settled"] == ":" and rows[KINN]["settled"] == 0
    # Oslo is a county of one: the nation's 11 minus Vestland's 8 would give Oslo's 3 away.
    counties = {c["county"]: c for c in seen["counties"]}
    assert counties["Oslo"]["settled"] == "<5" and counties["Vestland"]["settled"] == ":"
    assert seen["total"]["settled"] == 11
    assert_nothing_hidden_can_be_subtracted_back(seen)
    # Shown cells are the true ones: only hiding, never altering.
    for shown, true in zip(seen["municipalities"], truth["municipalities"], strict=True):
        assert all(
            shown[f] in HIDDEN or shown[f] == true[f] for f in ("requested", "decided", "settled", "vacant")
        )
    assert api.ok(api.get("/reports/national", IMDI, params={"year": 2025})) == truth

    # The files have the county and national totals as the JSON has them, hidden the same way.
    response = api.get(
        "/reports/national", MUNICIPALITY, BERGEN, params={"year": 2025}, headers={"Accept": "text/csv"}
    )
    lines = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert [line["Nivå"] for line in lines] == ["Kommune"] * 4 + ["Fylke"] * 2 + ["Landet"]
    assert {line["Fylke"]: line["Bosatt"] for line in lines if line["Nivå"] == "Fylke"} == {
        "Oslo": "<5",
        "Vestland": ":",
    }
    assert lines[-1]["Kommune"] == "Hele landet" and lines[-1]["Bosatt"] == "11"
    assert {line["Kommunenummer"]: line["Ledige plasser"] for line in lines if line["Nivå"] == "Kommune"}[
        OSLO
    ] == ":"
