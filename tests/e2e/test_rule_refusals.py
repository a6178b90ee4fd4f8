"""Every numbered rule, refused over HTTP: RFC 9457 problem details naming the rule, with the right status."""

from __future__ import annotations

from datetime import timedelta

from tests.e2e.conftest import AUDITOR, BERGEN, IMDI, MUNICIPALITY, OSLO, RECEPTION, Api, problem
from tests.e2e.story import (
    approve,
    decide,
    propose,
    register_refugee,
    request_and_decide,
    selected_person,
    two_municipalities,
)
from tests.given import TODAY

YESTERDAY = (TODAY - timedelta(days=1)).isoformat()


def test_requests_and_quota_decisions_are_refused_by_r1_and_r2(api: Api) -> None:
    two_municipalities(api)
    request = {"year": 2025, "persons": 3, "unaccompanied_minors": 1}
    body = problem(
        api.post(f"/municipalities/{OSLO}/requests", {**request, "unaccompanied_minors": 4}, IMDI), 422, "R1"
    )
    assert body["errors"] == [{"field": "unaccompanied_minors", "message": body["detail"]}]
    problem(api.post(f"/municipalities/{OSLO}/requests", {**request, "year": 2031}, IMDI), 422, "R1")
    problem(api.post(f"/municipalities/{OSLO}/requests", request, MUNICIPALITY, OSLO), 403, "R1")
    api.ok(api.post(f"/municipalities/{OSLO}/requests", request, IMDI))
    problem(
        api.post(f"/municipalities/{OSLO}/requests", request, IMDI), 409, "R1"
    )  # a revision needs a reason
    api.ok(api.post(f"/municipalities/{OSLO}/requests", {**request, "reason": "More families"}, IMDI))

    decision = {"year": 2025, "persons": 3, "unaccompanied_minors": 1, "decided_on": YESTERDAY}
    problem(api.post(f"/municipalities/{OSLO}/quota-decisions", decision, MUNICIPALITY, BERGEN), 403, "R2")
    problem(api.post(f"/municipalities/{OSLO}/quota-decisions", decision, RECEPTION), 403, "R2")
    future = {**decision, "decided_on": (TODAY + timedelta(days=1)).isoformat()}
    problem(api.post(f"/municipalities/{OSLO}/quota-decisions", future, MUNICIPALITY, OSLO), 422, "R2")
    problem(api.post(f"/municipalities/{OSLO}/quota-decisions", {**decision, "persons": -1}, IMDI), 422, "R2")
    problem(api.post("/municipalities/9999/quota-decisions", decision, IMDI), 404)


def test_lists_approvals_and_decisions_are_refused_by_r3_r4_and_r5(api: Api) -> None:
    two_municipalities(api)
    mother = register_refugee(api, "Mother", family_id="fam-1")
    child = register_refugee(api, "Child", family_id="fam-1")
    single = register_refugee(api, "Single")
    base = {"municipality": OSLO, "respond_by": (TODAY + timedelta(days=7)).isoformat()}
    problem(
        api.post(
            "/distribution-lists", {**base, "refugee_ids": [single], "respond_by": TODAY.isoformat()}, IMDI
        ),
        422,
        "R3",
    )
    problem(
        api.post("/distribution-lists", {**base, "refugee_ids": [mother]}, IMDI), 409, "R3"
    )  # family split
    problem(api.post("/distribution-lists", {**base, "refugee_ids": [single]}, MUNICIPALITY, OSLO), 403, "R3")
    problem(api.post("/distribution-lists", {**base, "refugee_ids": ["not-a-person"]}, IMDI), 422, "R3")
    family_list = propose(api, OSLO, [mother, child])
    problem(api.post("/distribution-lists", {**base, "refugee_ids": [mother, child]}, IMDI), 409, "R3")

    def approval(accepted: list[str], declined: list[str] = ()) -> dict:
        return {
            "accepted": accepted,
            "declined": [{"refugee_id": r, "reason": "No housing"} for r in declined],
        }

    url = f"/distribution-lists/{family_list}/approval"
    problem(api.post(url, approval([mother]), MUNICIPALITY, OSLO), 422, "R4")  # not everyone named
    problem(api.post(url, approval([mother], [child]), MUNICIPALITY, OSLO), 422, "R4")  # family split
    problem(api.post(url, approval([mother, child]), MUNICIPALITY, BERGEN), 404)  # not Bergen's list
    problem(api.post(url, approval([mother, child]), IMDI), 403, "R4")
    problem(api.post(f"/refugees/{mother}/settlement-decision", {"municipality": OSLO}, IMDI), 409, "R5")

    # R4: no quota decision for the list's year, then too few vacant places; the message gives the figures.
    problem(api.post(url, approval([mother, child]), MUNICIPALITY, OSLO), 409, "R4")
    request_and_decide(api, OSLO, persons=1, minors=0)
    refused = problem(api.post(url, approval([mother, child]), MUNICIPALITY, OSLO), 409, "R4")
    assert (
        "decided 1" in refused["detail"]
        and "1 vacant" in refused["detail"]
        and "2 asked" in refused["detail"]
    )
    decision = {
        "year": 2025,
        "persons": 2,
        "unaccompanied_minors": 0,
        "decided_on": (TODAY - timedelta(days=1)).isoformat(),
    }
    api.ok(api.post(f"/municipalities/{OSLO}/quota-decisions", decision, MUNICIPALITY, OSLO))  # revised (R2)
    approve(api, OSLO, family_list, [mother, child])
    problem(api.post(url, approval([mother, child]), MUNICIPALITY, OSLO), 409, "R4")  # no longer open
    problem(api.post(f"/distribution-lists/{family_list}/withdrawal", {"reason": "late"}, IMDI), 409, "R3")

    # R5: the decision keeps the selection's place; naming another year moves it, checked there.
    decide(api, mother, OSLO)
    body = problem(
        api.post(f"/refugees/{child}/settlement-decision", {"municipality": OSLO, "year": 2026}, IMDI),
        409,
        "R5",
    )
    assert body["type"].endswith("/rules/R5")
    decide(api, child, OSLO, year=2026, override_reason="Keep the family together")
    later = api.ok(api.get(f"/municipalities/{OSLO}/places", IMDI, params={"year": 2026}))["persons"]
    assert (later["used"], later["over_quota"], later["vacant"]) == (1, 1, None)
    problem(
        api.post(
            f"/refugees/{child}/settlement-decision", {"municipality": OSLO, "override_reason": "again"}, IMDI
        ),
        409,
        "R5",
    )


def test_settlement_dates_are_refused_by_each_part_of_r7_and_by_r8(api: Api) -> None:
    two_municipalities(api)
    at_centre = selected_person(api, OSLO, private=False)
    private = selected_person(api, OSLO)
    other = selected_person(api, BERGEN)
    day = {"date": YESTERDAY}

    def date_by(refugee_id: str, municipality: str, body: dict = day):
        return api.post(f"/refugees/{refugee_id}/settlement-date", body, MUNICIPALITY, municipality)

    problem(date_by(other, OSLO), 404)  # tenancy: Oslo never knew of Bergen's person
    unlisted = register_refugee(api)
    problem(date_by(unlisted, OSLO), 404)
    problem(date_by(at_centre, OSLO), 409, "R7b")
    deviation = api.ok(
        api.post(
            f"/refugees/{private}/deviations", {"kind": "address", "description": "Address unclear"}, IMDI
        )
    )["deviation_id"]
    problem(date_by(private, OSLO), 409, "R7c")
    api.ok(api.post(f"/refugees/{private}/deviations/{deviation}/resolution", {"note": "Checked"}, IMDI))
    problem(
        api.post(f"/refugees/{private}/deviations/{deviation}/resolution", {"note": "again"}, IMDI),
        409,
        "R12",
    )
    problem(api.post(f"/refugees/{private}/deviations/nope/resolution", {"note": "x"}, IMDI), 404)
    problem(
        api.post(f"/refugees/{private}/deviations", {"kind": "x", "description": "y"}, MUNICIPALITY, OSLO),
        403,
        "R12",
    )
    problem(date_by(private, OSLO, {"date": "2015-12-31"}), 422, "R7e")  # before the cut-off
    problem(date_by(private, OSLO, {"date": YESTERDAY}), 409, "R7e")  # before the person was selected
    problem(date_by(private, OSLO, {"date": (TODAY + timedelta(days=1)).isoformat()}), 422, "R7e")  # future
    api.ok(date_by(private, OSLO, {"date": TODAY.isoformat()}))
    problem(date_by(private, OSLO, {"date": TODAY.isoformat()}), 409, "R7f")
    problem(
        api.post(
            f"/refugees/{private}/settlement-date/correction",
            {"date": YESTERDAY, "reason": "typo"},
            MUNICIPALITY,
            OSLO,
        ),
        403,
        "R7f",
    )
    api.ok(
        api.post(
            f"/refugees/{private}/settlement-date/correction", {"date": YESTERDAY, "reason": "typo"}, IMDI
        )
    )

    flagged = selected_person(api, BERGEN)
    api.ok(
        api.post(
            f"/refugees/{flagged}/deviations",
            {
                "kind": "residence",
                "description": "Was at a centre",
                "registered_private_by_known_deviation": True,
            },
            IMDI,
        )
    )
    problem(date_by(flagged, BERGEN), 409, "R7c")

    problem(api.post(f"/refugees/{private}/settlement-date", day, RECEPTION), 409, "R8")
    api.ok(api.post(f"/refugees/{at_centre}/settlement-date", {"date": TODAY.isoformat()}, RECEPTION))
    problem(api.post(f"/refugees/{at_centre}/settlement-date", day, IMDI), 403, "R7")


def test_the_r7d_flag_stays_after_the_deviation_is_resolved(api: Api) -> None:
    two_municipalities(api)
    flagged = selected_person(api, OSLO)
    deviation = api.ok(
        api.post(
            f"/refugees/{flagged}/deviations",
            {
                "kind": "residence",
                "description": "Was at a centre",
                "registered_private_by_known_deviation": True,
            },
            IMDI,
        )
    )["deviation_id"]
    api.ok(api.post(f"/refugees/{flagged}/deviations/{deviation}/resolution", {"note": "Known"}, IMDI))
    problem(
        api.post(f"/refugees/{flagged}/settlement-date", {"date": YESTERDAY}, MUNICIPALITY, OSLO), 409, "R7d"
    )


def test_capacity_reports_and_support_cases_are_refused_by_r11_and_r16(api: Api) -> None:
    two_municipalities(api)
    report = {
        "places": 2,
        "expected_week": "2025-W30",
        "min_age": 15,
        "max_age": 17,
        "round_the_clock_staffing": True,
        "special_conditions": "",
    }
    url = f"/municipalities/{OSLO}/minor-capacity"
    body = problem(api.post(url, {**report, "min_age": 13}, MUNICIPALITY, OSLO), 422, "R11")
    assert "Bufetat" in body["detail"]
    problem(api.post(url, {**report, "places": 0}, MUNICIPALITY, OSLO), 422, "R11")
    problem(api.post(url, {**report, "expected_week": "2025-W01"}, MUNICIPALITY, OSLO), 422, "R11")
    problem(api.post(url, report, MUNICIPALITY, BERGEN), 403, "R11")
    problem(api.post(url, report, IMDI), 403, "R11")
    capacity = api.ok(api.post(url, report, MUNICIPALITY, OSLO))["id"]
    problem(api.post(f"/minor-capacity/{capacity}/withdrawal", {"reason": "x"}, MUNICIPALITY, BERGEN), 404)
    api.ok(
        api.post(f"/minor-capacity/{capacity}/withdrawal", {"reason": "Filled locally"}, MUNICIPALITY, OSLO)
    )
    problem(
        api.post(f"/minor-capacity/{capacity}/withdrawal", {"reason": "x"}, MUNICIPALITY, OSLO), 409, "R11"
    )

    problem(api.post("/support-cases", {"subject": "Help", "text": "?"}, IMDI), 403, "R16")
    problem(api.post("/support-cases", {"subject": " ", "text": "?"}, MUNICIPALITY, OSLO), 422, "R16")
    case = api.ok(api.post("/support-cases", {"subject": "Grant", "text": "When?"}, MUNICIPALITY, OSLO))["id"]
    problem(api.post(f"/support-cases/{case}/answer", {"text": "Soon", "close": True}, AUDITOR), 403, "R16")
    api.ok(api.post(f"/support-cases/{case}/answer", {"text": "In March", "close": True}, IMDI))
    problem(api.post(f"/support-cases/{case}/answer", {"text": "More", "close": False}, IMDI), 409, "R16")


def test_unknown_ids_are_404_and_bad_shapes_422_listing_fields(api: Api) -> None:
    two_municipalities(api)
    problem(
        api.post(
            "/refugees/5f0c8a53-8d29-4a0f-9b7e-2b0c3f9d1e11/mapping",
            {"education": "", "work_experience": "", "languages": [], "health_needs": "", "notes": ""},
            IMDI,
        ),
        404,
    )
    problem(api.post("/distribution-lists/nope/withdrawal", {"reason": "x"}, IMDI), 404)
    body = problem(
        api.post("/refugees", {"full_name": "X", "birth_date": "yesterday", "extra": 1}, IMDI), 422
    )
    fields = {e["field"] for e in body["errors"]}
    assert {"birth_date", "extra", "residence", "category"} <= fields
    body = problem(api.post("/municipalities", {"number": "0301", "name": "A\x00", "county": "B"}, IMDI), 422)
    assert [e["field"] for e in body["errors"]] == ["name"]
    problem(api.post("/municipalities", {"number": "abc", "name": "A", "county": "B"}, IMDI), 422, "roles")
    problem(
        api.request(
            "POST", "/municipalities", IMDI, content=b"[1,", headers={"Content-Type": "application/json"}
        ),
        422,
    )
