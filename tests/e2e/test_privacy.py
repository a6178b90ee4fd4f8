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


# Every read of personal data recorded (R14, item 4) ---------------------------------------------


def _reads_of(api: Api, person: str, kind: str) -> list[dict]:
    """The audit trail's records of ``kind`` naming ``person``, found by the audit search by person."""
    head = api.app.state.settlement.position()
    found = api.ok(
        api.get(
            "/audit/events", IMDI, params={"person": person, "type": kind, "min_position": head, "limit": 500}
        )
    )
    return found["items"]


def test_every_read_route_that_shows_names_leaves_one_record_found_by_person(api: Api) -> None:
    two_municipalities(api)
    with_places(api, OSLO)
    settled = register_refugee(api, "Listed Settled")
    waiting = register_refugee(api, "Listed Waiting")
    unselected = register_refugee(api, "Listed Unselected")
    oslo_list = propose(api, OSLO, [settled, waiting])
    api.ok(
        api.post(
            f"/distribution-lists/{oslo_list}/approval",
            {"accepted": [settled, waiting], "declined": []},
            MUNICIPALITY,
            OSLO,
        )
    )
    other_list = propose(api, OSLO, [unselected])
    api.ok(api.post(f"/refugees/{settled}/settlement-date", {"date": TODAY.isoformat()}, MUNICIPALITY, OSLO))
    listed = "PersonalDataListed"

    routes = [
        ("/refugees", MUNICIPALITY, OSLO, {}, [waiting]),
        ("/distribution-lists", IMDI, None, {}, [settled, waiting, unselected]),
        (f"/distribution-lists/{oslo_list}", MUNICIPALITY, OSLO, {}, [settled, waiting]),
        ("/reports/settled-persons", MUNICIPALITY, OSLO, {}, [settled]),
        ("/reports/settled-persons", AUDITOR, None, {"municipality": OSLO, "format": "csv"}, [settled]),
    ]
    for path, role, municipality, params, shown in routes:
        before = {p: len(_reads_of(api, p, listed)) for p in (settled, waiting, unselected)}
        response = api.get(path, role, municipality, params=params)
        assert response.status_code == 200, response.text
        after = {p: len(_reads_of(api, p, listed)) for p in (settled, waiting, unselected)}
        assert {p for p in after if after[p] == before[p] + 1} == set(shown), path
        assert all(after[p] - before[p] <= 1 for p in after), path  # one record per request
        (latest, *_) = _reads_of(api, shown[0], listed)
        route = "/distribution-lists/{id}" if path.count("/") > 1 and "lists" in path else path
        assert latest["summary"].startswith(f"Personal data listed: GET {route}, "), latest["summary"]
        assert latest["actor"]["role"] == role.value

    # A list whose persons are shown without names (not selected yet) is no read of personal data.
    quiet = {p: len(_reads_of(api, p, listed)) for p in (unselected,)}
    assert "full_name" not in str(
        api.ok(api.get(f"/distribution-lists/{other_list}", MUNICIPALITY, OSLO))
    ).replace("'full_name': None", "")
    assert len(_reads_of(api, unselected, listed)) == quiet[unselected]
    # The folder keeps its own record.
    api.ok(api.get(f"/refugees/{settled}", IMDI))
    assert len(_reads_of(api, settled, "PersonFolderViewed")) == 1


# Person search (R21) -----------------------------------------------------------------------------


def test_person_search_over_http_by_role_recorded_as_a_read(api: Api) -> None:
    two_municipalities(api)
    with_places(api, OSLO)
    body = {
        "full_name": "Søren Ærlig Åsheim",
        "birth_date": "1988-08-08",
        "unaccompanied_minor": False,
        "residence": {"kind": "private"},
        "postal_address": {"street": "Storgata 1", "postal_code": "0150", "city": "Oslo"},
        "category": "resettlement",
        "duf_number": "201912345678",
    }
    found = api.ok(api.post("/refugees", body, RECEPTION))["id"]
    elsewhere = register_refugee(api, "Søren Annen")
    problem(api.post("/refugees", {**body, "duf_number": "2019-1234"}, RECEPTION), 422, "R21")
    oslo_list = propose(api, OSLO, [found])
    api.ok(
        api.post(
            f"/distribution-lists/{oslo_list}/approval",
            {"accepted": [found], "declined": []},
            MUNICIPALITY,
            OSLO,
        )
    )

    def search(role, municipality=None, **params):
        return api.ok(api.get("/refugees/search", role, municipality, params=params))["items"]

    assert {p["refugee_id"] for p in search(IMDI, name="soren")} == {found, elsewhere}
    assert [p["refugee_id"] for p in search(IMDI, name="AERL ASH")] == [found]
    assert [p["full_name"] for p in search(IMDI, duf="201912345678")] == ["Søren Ærlig Åsheim"]
    assert [p["refugee_id"] for p in search(IMDI, birth_date="1988-08-08", name="sø")] == [found]
    assert [p["refugee_id"] for p in search(MUNICIPALITY, OSLO, name="soren")] == [found]
    assert search(MUNICIPALITY, "4601", name="soren") == []
    problem(api.get("/refugees/search", IMDI, params={"name": "s"}), 422, "R21")
    problem(api.get("/refugees/search", IMDI, params={"duf": "12"}), 422, "R21")
    problem(api.get("/refugees/search", RECEPTION, params={"name": "soren"}), 403)
    # Each search that showed persons is a read of their personal data (R14).
    assert len(_reads_of(api, found, "PersonalDataListed")) == 5
    assert len(_reads_of(api, elsewhere, "PersonalDataListed")) == 1
