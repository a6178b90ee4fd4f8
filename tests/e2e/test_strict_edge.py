"""The edge is strict and every bad input is a problem, never a 500 (issue: place figures people can trust).

Each case here answered 500 or was silently accepted before the edge was made strict.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from settlement_domain.context import Actor, CommandContext
from settlement_domain.model import QuotaYear
from tests.e2e.conftest import IMDI, MUNICIPALITY, OSLO, RECEPTION, Api, auth, problem
from tests.e2e.story import register_municipality, register_refugee, two_municipalities
from tests.given import TODAY

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WRITES = [
    ("/municipalities", {"number": "5001", "name": "Trondheim", "county": "Trøndelag"}),
    (f"/municipalities/{OSLO}/requests", {"year": 2025, "persons": 3, "unaccompanied_minors": 1}),
    (
        "/refugees",
        {
            "full_name": "A",
            "birth_date": "1990-01-01",
            "unaccompanied_minor": False,
            "residence": {"kind": "private"},
            "postal_address": {"street": "S 1", "postal_code": "0150", "city": "Oslo"},
            "category": "asylum",
        },
    ),
    ("/support-cases", {"subject": "s", "text": "t"}),
]


def raw_post(api: Api, path: str, content: bytes, content_type: str = "application/json"):
    headers = {**auth(IMDI), "Content-Type": content_type}
    return api.client.post("/api/v1" + path, content=content, headers=headers)


@pytest.mark.parametrize(("path", "body"), WRITES)
def test_invalid_utf8_in_a_json_body_is_invalid_input(api: Api, path: str, body: dict) -> None:
    two_municipalities(api)
    content = json.dumps(body).encode().replace(b'"', b'"\xff', 1)
    response = raw_post(api, path, content)
    assert problem(response, 422)["errors"] == [{"field": "body", "message": "not valid UTF-8"}]


@pytest.mark.parametrize(("path", "body"), WRITES)
def test_json_nested_a_thousand_deep_is_invalid_input(api: Api, path: str, body: dict) -> None:
    two_municipalities(api)
    content = (
        json.dumps({**body, "extra": "x"}).encode()[:-1] + b', "deep": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    )
    assert "nested" in problem(raw_post(api, path, content), 422)["errors"][0]["message"]


def test_a_body_that_is_not_json_is_refused_as_an_unsupported_media_type(api: Api) -> None:
    response = raw_post(api, "/municipalities", json.dumps(WRITES[0][1]).encode(), "text/plain")
    problem(response, 415)
    assert api.ok(api.get("/municipalities", IMDI)) == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"persons": "5"}, "persons"),
        ({"persons": True}, "persons"),
        ({"persons": 5.0}, "persons"),
        ({"year": "2025"}, "year"),
        ({"unaccompanied_minors": False}, "unaccompanied_minors"),
    ],
)
def test_counts_are_json_integers_only(api: Api, changes: dict, field: str) -> None:
    two_municipalities(api)
    body = {"year": 2025, "persons": 3, "unaccompanied_minors": 1, **changes}
    errors = problem(api.post(f"/municipalities/{OSLO}/requests", body, IMDI), 422)["errors"]
    assert any(field in e["field"] for e in errors), errors


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"birth_date": 631152000}, "birth_date"),
        ({"birth_date": "1990-1-1"}, "birth_date"),
        ({"birth_date": "1990-01-01T00:00:00"}, "birth_date"),
        ({"unaccompanied_minor": 0}, "unaccompanied_minor"),
        ({"unaccompanied_minor": "false"}, "unaccompanied_minor"),
        ({"full_name": "A\x07B"}, "full_name"),
        ({"full_name": "Line\nbreak"}, "full_name"),
    ],
)
def test_registrations_take_dates_as_iso_strings_flags_as_booleans_and_names_without_control_characters(
    api: Api, changes: dict, field: str
) -> None:
    errors = problem(api.post("/refugees", {**WRITES[2][1], **changes}, RECEPTION), 422)["errors"]
    assert any(field in e["field"] for e in errors), errors


def test_multiline_text_keeps_its_line_breaks_but_refuses_other_control_characters(api: Api) -> None:
    register_municipality(api, OSLO, "Oslo", "Oslo")
    api.ok(
        api.post(
            "/support-cases", {"subject": "Spørsmål", "text": "Linje 1\nLinje 2\tmed tab"}, MUNICIPALITY, OSLO
        )
    )
    problem(api.post("/support-cases", {"subject": "Spørsmål", "text": "bell \x07"}, MUNICIPALITY, OSLO), 422)
    body = {"year": 2025, "persons": 3, "unaccompanied_minors": 1, "reason": "escape \x1b[31m"}
    problem(api.post(f"/municipalities/{OSLO}/requests", body, IMDI), 422)


def test_a_control_character_stored_before_the_edge_refused_it_does_not_break_the_spreadsheet(
    api: Api,
) -> None:
    register_municipality(api, OSLO, "Oslo", "Oslo")
    settlement = api.app.state.settlement
    meta = CommandContext(Actor("legacy", IMDI), "legacy").meta()
    quota = QuotaYear(meta=meta, municipality=OSLO, year=2025)
    # Written as the old edge let it through: straight to the event, past today's checks.
    quota._settlement_requested(
        meta=meta,
        municipality=OSLO,
        year=2025,
        persons=3,
        unaccompanied_minors=0,
        reason="Bell\x07 and escape\x1b",
        revision=0,
        source=None,
    )
    api.position = settlement.save(quota)[-1].notification.id
    for role, municipality in ((IMDI, None), (MUNICIPALITY, OSLO)):
        response = api.get("/reports/requests-and-decisions", role, municipality, headers={"Accept": XLSX})
        assert response.status_code == 200, response.text
        sheet = load_workbook(io.BytesIO(response.content)).active
        cells = [str(c) for row in sheet.iter_rows(values_only=True) for c in row if c]
        assert "Bell\ufffd and escape\ufffd" in cells
        csv = api.get("/reports/requests-and-decisions", role, municipality, headers={"Accept": "text/csv"})
        assert csv.status_code == 200


def test_an_unknown_municipality_number_is_a_404_naming_the_number_and_a_malformed_one_a_422(
    api: Api,
) -> None:
    register_municipality(api, OSLO, "Oslo", "Oslo")
    decision = {
        "year": 2025,
        "persons": 3,
        "unaccompanied_minors": 1,
        "decided_on": (TODAY - timedelta(days=1)).isoformat(),
    }
    for response in (
        api.post("/municipalities/9999/quota-decisions", decision, IMDI),
        api.post(
            "/municipalities/9999/requests", {"year": 2025, "persons": 1, "unaccompanied_minors": 0}, IMDI
        ),
        api.get("/municipalities/9999", IMDI),
        api.get("/municipalities/9999/places", IMDI),
        api.post(
            "/distribution-lists",
            {
                "municipality": "9999",
                "refugee_ids": [register_refugee(api)],
                "respond_by": (TODAY + timedelta(days=3)).isoformat(),
            },
            IMDI,
        ),
    ):
        body = problem(response, 404)
        assert "9999" in body["detail"] and "-" not in body["detail"], body  # the number, not a UUID
    for response in (
        api.get("/municipalities/abc", IMDI),
        api.get("/municipalities/abc/places", IMDI),
        api.post("/municipalities/abc/quota-decisions", decision, IMDI),
    ):
        problem(response, 422)


def test_role_refusals_name_the_roles_in_words(api: Api) -> None:
    two_municipalities(api)
    body = {"year": 2025, "persons": 3, "unaccompanied_minors": 1}
    assert (
        problem(api.post(f"/municipalities/{OSLO}/requests", body, MUNICIPALITY, OSLO), 403, "R1")["detail"]
        == "Only IMDi may send settlement requests."
    )
    decision = {**body, "decided_on": (TODAY - timedelta(days=1)).isoformat()}
    assert (
        problem(api.post(f"/municipalities/{OSLO}/quota-decisions", decision, RECEPTION), 403, "R2")["detail"]
        == "Only IMDi or the municipality may record quota decisions."
    )
    assert problem(api.get("/audit/events", RECEPTION), 403)["detail"] == (
        "Only IMDi, the municipality or an auditor may read this."
    )
