"""Retries and races over HTTP: idempotent writes, 20 simultaneous approvals of one list, correlation ids."""

from __future__ import annotations

import asyncio

import httpx
from litestar import Litestar

from settlement_domain.application import SettlementApp
from tests.e2e.conftest import IMDI, MUNICIPALITY, OSLO, RECEPTION, Api, auth, problem
from tests.e2e.story import propose, register_refugee, two_municipalities, with_places

NEW_CASE = {"subject": "Grant for 2025", "text": "When is it paid?"}


def log_length(api: Api) -> int:
    settlement: SettlementApp = api.app.state.settlement
    return settlement.position()


def test_a_repeated_idempotency_key_gives_the_first_answer_and_appends_nothing(api: Api) -> None:
    two_municipalities(api)
    key = {"Idempotency-Key": "case-2025-001"}
    first = api.post("/support-cases", NEW_CASE, MUNICIPALITY, OSLO, headers=key)
    assert first.status_code == 201
    before = log_length(api)
    again = api.post("/support-cases", NEW_CASE, MUNICIPALITY, OSLO, headers=key)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.json()["version"] == first.json()["version"]
    assert log_length(api) == before
    body = problem(
        api.post("/support-cases", {**NEW_CASE, "text": "Another"}, MUNICIPALITY, OSLO, headers=key), 422
    )
    assert body["errors"][0]["field"] == "Idempotency-Key"
    assert log_length(api) == before
    # Without a key, the same body is a new case.
    assert api.post("/support-cases", NEW_CASE, MUNICIPALITY, OSLO).json()["id"] != first.json()["id"]
    problem(
        api.post("/support-cases", NEW_CASE, MUNICIPALITY, OSLO, headers={"Idempotency-Key": "bad key!"}), 422
    )


def test_writes_answer_with_position_and_the_callers_correlation_id(api: Api) -> None:
    two_municipalities(api)
    response = api.post(
        "/support-cases", NEW_CASE, MUNICIPALITY, OSLO, headers={"X-Correlation-ID": "req-42"}
    )
    assert response.status_code == 201
    assert response.headers["X-Correlation-ID"] == "req-42"
    assert int(response.headers["X-Event-Position"]) == response.json()["position"] == log_length(api)
    generated = api.post(
        "/support-cases", NEW_CASE, MUNICIPALITY, OSLO, headers={"X-Correlation-ID": "bad id\t"}
    )
    assert generated.headers["X-Correlation-ID"] not in ("", "bad id\t")
    refused = api.post("/support-cases", NEW_CASE, IMDI, headers={"X-Correlation-ID": "req-43"})
    assert refused.headers["X-Correlation-ID"] == "req-43"
    found = api.ok(api.get("/audit/events", IMDI, params={"correlation_id": "req-42"}))["items"]
    assert [(e["type"], e["aggregate_id"]) for e in found] == [("SupportCaseFiled", response.json()["id"])]


def test_twenty_simultaneous_approvals_of_one_list_give_one_success(api: Api, http_app: Litestar) -> None:
    two_municipalities(api)
    with_places(api, OSLO)
    refugee_id = register_refugee(api, role=RECEPTION)
    list_id = propose(api, OSLO, [refugee_id])
    body = {"accepted": [refugee_id], "declined": []}

    async def race() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=http_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(
                *(
                    client.post(
                        f"/api/v1/distribution-lists/{list_id}/approval",
                        json=body,
                        headers=auth(MUNICIPALITY, OSLO, sub=f"kari-{i}"),
                    )
                    for i in range(20)
                )
            )

    responses = asyncio.run(race())
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19, statuses
    for response in responses:
        if response.status_code == 409:
            problem(response, 409)
    settlement: SettlementApp = api.app.state.settlement
    approvals = [
        n
        for n in settlement.recorder.select_notifications(1, 10_000)
        if n.topic.endswith("DistributionListApproved")
    ]
    assert len(approvals) == 1
