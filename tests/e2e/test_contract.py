"""The OpenAPI document is honest: every problem, header, media type and real status code is in it.

(schemathesis checks the answers to generated input against it: tests/e2e/test_bad_input.py.)
"""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import IMDI, MUNICIPALITY, OSLO, Api
from tests.e2e.story import register_municipality
from tests.e2e.test_strict_edge import XLSX

PROBLEM = {"$ref": "#/components/schemas/Problem"}
WRITES = ("post", "put", "patch", "delete")


def document(api: Api) -> dict[str, Any]:
    response = api.client.get("/schema/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()]


def header_parameters(op: dict[str, Any]) -> set[str]:
    return {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}


def test_every_problem_an_operation_can_answer_is_listed_as_problem_json_and_no_400(api: Api) -> None:
    doc = document(api)
    assert set(doc["components"]["schemas"]["Problem"]["required"]) == {"type", "title", "status", "detail"}
    api_operations = [(p, m, op) for p, m, op in operations(doc) if p.startswith("/api/v1")]
    assert len(api_operations) >= 40
    for path, method, op in operations(doc):
        responses = op["responses"]
        assert "400" not in responses, (path, method)  # malformed input is a 422 here
        for status, response in responses.items():
            assert "X-Correlation-ID" in response.get("headers", {}), (path, method, status)
            if int(status) >= 400 and not (path == "/health" and status == "503"):
                assert response["content"] == {"application/problem+json": {"schema": PROBLEM}}, (
                    path,
                    status,
                )
    for path, method, op in api_operations:
        statuses = set(op["responses"])
        where = f"{method.upper()} {path}"
        assert {"401", "422"} <= statuses, where
        assert "WWW-Authenticate" in op["responses"]["401"]["headers"], where
        if method in WRITES:
            assert {"403", "404", "409"} <= statuses, where
        else:
            assert "503" in statuses, where  # a read waits for min_position, then answers 503
            assert "Retry-After" in op["responses"]["503"]["headers"], where
        if "{" in path:
            assert "404" in statuses, where
        if "requestBody" in op:
            assert {"413", "415"} <= statuses, where


def test_writes_document_the_idempotency_key_their_201_and_200_and_x_event_position(api: Api) -> None:
    doc = document(api)
    for path, method, op in operations(doc):
        assert "X-Correlation-ID" in header_parameters(op), (path, method)
        if method not in WRITES or path == "/api/v1/imports":
            continue
        where = f"{method.upper()} {path}"
        assert "Idempotency-Key" in header_parameters(op), where
        assert {"200", "201"} <= set(op["responses"]), where
        assert "X-Event-Position" in op["responses"]["201"]["headers"], where
    uploads = doc["paths"]["/api/v1/imports"]["post"]["responses"]
    assert {"200", "202", "503"} <= set(uploads)


def test_put_contact_documents_the_201_it_answers_and_the_200_of_a_repeat(api: Api) -> None:
    doc = document(api)
    documented = set(doc["paths"]["/api/v1/municipalities/{number}/contact"]["put"]["responses"])
    register_municipality(api, OSLO, "Oslo", "Oslo")
    contact = {
        "contact_person": "Kari Nordmann",
        "email": "bosetting@oslo.kommune.no",
        "phone": "+47 21 80 21 80",
        "postal_address": {"street": "Rådhusplassen 1", "postal_code": "0037", "city": "Oslo"},
    }
    key = {"Idempotency-Key": "contact-1"}
    first = api.put(f"/municipalities/{OSLO}/contact", contact, MUNICIPALITY, OSLO, headers=key)
    repeat = api.put(f"/municipalities/{OSLO}/contact", contact, MUNICIPALITY, OSLO, headers=key)
    assert (first.status_code, repeat.status_code) == (201, 200)
    assert {"200", "201"} <= documented


def test_reports_list_their_csv_and_xlsx_files_and_the_406(api: Api) -> None:
    doc = document(api)
    for report in ("national", "requests-and-decisions", "settled-persons"):
        responses = doc["paths"][f"/api/v1/reports/{report}"]["get"]["responses"]
        assert {"application/json", "text/csv", XLSX} <= set(responses["200"]["content"]), report
        assert "406" in responses
    refused = api.get("/reports/national", IMDI, headers={"Accept": "application/pdf"})
    assert refused.status_code == 406


def test_health_probes_are_documented(api: Api) -> None:
    doc = document(api)
    assert set(doc["paths"]["/health/ready"]["get"]["responses"]) == {"200", "503"}
    assert set(doc["paths"]["/health/live"]["get"]["responses"]) == {"200"}
    unhealthy = doc["paths"]["/health"]["get"]["responses"]["503"]["content"]["application/json"]
    assert unhealthy["schema"] == {"$ref": "#/components/schemas/Health"}
