"""Small leaks (issue 10, item 7): /health, the family's text, personal data in logs and problems."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from litestar.testing import TestClient

from api.http.app import create_app
from tests.e2e.conftest import AUDITOR, IMDI, MUNICIPALITY, OSLO, RECEPTION, Api, auth, problem, settings_for
from tests.e2e.story import propose, register_refugee, two_municipalities, with_places
from tests.given import TODAY

# A name that is also an event field's value (the family's free text): a leak of either shows.
SECRET_NAME = "Hemmelig Navnesen"
SECRET_BIRTH = "1977-03-14"


def test_health_without_a_token_says_only_whether_the_service_is_up(api: Api) -> None:
    bare = api.client.get("/health")
    assert bare.status_code == 200 and bare.json() == {"status": "ok"}
    assert api.client.get("/health", headers=auth(MUNICIPALITY, OSLO)).json() == {"status": "ok"}
    assert api.client.get("/health", headers=auth(RECEPTION)).json() == {"status": "ok"}
    for role in (IMDI, AUDITOR):
        detailed = api.client.get("/health", headers=auth(role)).json()
        assert detailed["status"] == "ok" and "log_position" in detailed and "projections" in detailed
    problem(api.client.get("/health", headers={"Authorization": "Bearer not-a-jwt"}), 401)


def test_the_sqlite_file_and_its_directory_are_for_the_owner_alone(tmp_path: Path) -> None:
    var = tmp_path / "var"
    app = create_app(settings_for(f"sqlite:///{var / 'settlement.db'}", tmp_path), clock=lambda: TODAY)
    with TestClient(app) as client:
        Api(client)  # the store is opened and written (its WAL made) by the start
        register_refugee(Api(client))
    assert var.stat().st_mode & 0o777 == 0o700
    for name in os.listdir(var):
        assert (var / name).stat().st_mode & 0o777 == 0o600, name


def _personal_data_leaks(texts: list[str]) -> list[str]:
    return [t for t in texts if SECRET_NAME.lower() in t.lower() or SECRET_BIRTH in t]


def test_no_personal_data_in_logs_or_problem_details(api: Api, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    two_municipalities(api)
    with_places(api, OSLO)
    body = {
        "full_name": SECRET_NAME,
        "birth_date": SECRET_BIRTH,
        "family_id": SECRET_NAME,
        "unaccompanied_minor": False,
        "residence": {"kind": "private"},
        "postal_address": {"street": SECRET_NAME, "postal_code": "0150", "city": "Oslo"},
        "category": "resettlement",
    }
    mother = api.ok(api.post("/refugees", body, RECEPTION))["id"]
    child = api.ok(api.post("/refugees", {**body, "birth_date": "2015-01-01"}, RECEPTION))["id"]
    problems = []
    # Bad input carrying the personal data back: each answer names the field, never the value.
    for bad in (
        {**body, "birth_date": SECRET_BIRTH + "x"},
        {**body, "full_name": SECRET_NAME + "\u0007"},
        {**body, "full_name": SECRET_NAME * 40},
        {**body, "category": SECRET_NAME},
        {**body, "residence": {"kind": SECRET_NAME}},
        {**body, SECRET_NAME: SECRET_BIRTH},
        {**body, "birth_date": "2099-01-01", "full_name": SECRET_NAME},
    ):
        response = api.post("/refugees", bad, RECEPTION)
        assert 400 <= response.status_code < 500, response.text
        problems.append(response.text)
    # A municipality splitting the family is refused under R4 without the family's text.
    list_id = propose(api, OSLO, [mother, child])
    split = api.post(
        f"/distribution-lists/{list_id}/approval",
        {"accepted": [mother], "declined": [{"refugee_id": child, "reason": "no room"}]},
        MUNICIPALITY,
        OSLO,
    )
    problems.append(problem(split, 422, "R4")["detail"])
    problems.append(split.text)
    # The list a municipality sees before selection: the family by its opaque reference only.
    listed = api.ok(api.get(f"/distribution-lists/{list_id}", MUNICIPALITY, OSLO))
    assert len({p["family_ref"] for p in listed["refugees"]}) == 1
    problems.append(str(listed))
    problems.append(api.get(f"/refugees/{mother}", MUNICIPALITY, OSLO).text)  # R6: not yet selected
    logged = [record.getMessage() for record in caplog.records]
    logged += [str(record.args) for record in caplog.records if record.args]
    assert _personal_data_leaks(problems) == []
    assert _personal_data_leaks(logged) == []
