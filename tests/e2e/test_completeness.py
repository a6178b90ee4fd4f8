"""R19: until IMDi marks a year's data (or a municipality's) complete, places, reports and files say so."""

from __future__ import annotations

import csv
import io

from tests.e2e.conftest import BERGEN, IMDI, MUNICIPALITY, OSLO, RECEPTION, Api, problem
from tests.e2e.story import request_and_decide, two_municipalities

NOTICE = "Datagrunnlaget er ikke komplett"


def places(api: Api, number: str = OSLO, year: int = 2025) -> dict:
    return api.ok(api.get(f"/municipalities/{number}/places", IMDI, params={"year": year}))


def test_places_and_reports_carry_the_notice_until_imdi_marks_the_data_complete(api: Api) -> None:
    two_municipalities(api)
    request_and_decide(api, OSLO, persons=5, minors=1)
    assert (places(api)["complete"], places(api)["notice"]) == (False, NOTICE)
    national = api.ok(api.get("/reports/national", IMDI, params={"year": 2025}))
    assert (national["complete"], national["notice"]) == (False, NOTICE)
    (entry,) = api.ok(api.get("/reports/requests-and-decisions", MUNICIPALITY, OSLO))
    assert (entry["complete"], entry["notice"]) == (False, NOTICE)

    written = api.ok(api.post("/completeness", {"year": 2025}, IMDI))
    assert written["changed"] is True
    assert (places(api)["complete"], places(api)["notice"]) == (True, None)
    assert places(api, BERGEN)["complete"] is True  # the whole year
    national = api.ok(api.get("/reports/national", IMDI, params={"year": 2025}))
    assert (national["complete"], national["notice"], national["total"]["complete"]) == (True, None, True)

    # One municipality's own mark stands before the year's.
    api.ok(api.post("/completeness", {"year": 2025, "municipality": BERGEN, "complete": False}, IMDI))
    assert places(api, BERGEN)["notice"] == NOTICE and places(api)["complete"] is True
    national = api.ok(api.get("/reports/national", IMDI, params={"year": 2025}))
    assert national["complete"] is False and national["notice"] == NOTICE
    assert {r["municipality"]: r["complete"] for r in national["municipalities"]} == {
        OSLO: True,
        BERGEN: False,
    }
    assert api.ok(api.post("/completeness", {"year": 2025}, IMDI))["changed"] is False  # already so

    response = api.get("/reports/national", IMDI, params={"year": 2025}, headers={"Accept": "text/csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][-1] == "Datagrunnlag"
    assert {r[0]: r[-1] for r in rows[1:3]} == {OSLO: "komplett", BERGEN: "ikke komplett"}
    marks = api.ok(api.get("/completeness", RECEPTION))
    assert [(m["year"], m["municipality"], m["complete"]) for m in marks] == [
        (2025, None, True),
        (2025, BERGEN, False),
    ]


def test_only_imdi_marks_data_complete_and_bad_marks_are_refused(api: Api) -> None:
    two_municipalities(api)
    assert problem(api.post("/completeness", {"year": 2025}, MUNICIPALITY, OSLO), 403, "R19")["detail"] == (
        "Only IMDi may mark data as complete."
    )
    problem(api.post("/completeness", {"year": 1999}, IMDI), 422, "R19")
    problem(api.post("/completeness", {"year": "2025"}, IMDI), 422)
    problem(api.post("/completeness", {"year": 2025, "complete": "yes"}, IMDI), 422)
    assert (
        "9999"
        in problem(api.post("/completeness", {"year": 2025, "municipality": "9999"}, IMDI), 404)["detail"]
    )
    problem(api.post("/completeness", {"year": 2025, "municipality": "abc"}, IMDI), 422)
