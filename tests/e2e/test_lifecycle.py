"""The whole lifecycle of DOMAIN.md over HTTP for Oslo and Bergen, with the views checked after each step."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

from litestar.testing import TestClient
from openpyxl import load_workbook

from api.http.app import create_app
from projections.catalog import PROJECTIONS
from projections.engine.runner import Runner
from tests.e2e.conftest import (
    AUDITOR,
    BERGEN,
    IMDI,
    MUNICIPALITY,
    OSLO,
    RECEPTION,
    Api,
    auth,
    problem,
    settings_for,
)
from tests.e2e.story import (
    approve,
    decide,
    propose,
    register_municipality,
    register_refugee,
    selected_person,
    two_municipalities,
)
from tests.given import TODAY

CONTACT = {
    "contact_person": "Kari Nordmann",
    "email": "bosetting@oslo.kommune.no",
    "phone": "+47 21 80 21 80",
    "postal_address": {"street": "Rådhusplassen 1", "postal_code": "0037", "city": "Oslo"},
}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def places(api: Api, number: str, role=IMDI, municipality=None) -> dict:
    return api.ok(api.get(f"/municipalities/{number}/places", role, municipality, params={"year": 2025}))


def test_two_municipalities_go_through_the_whole_lifecycle(api: Api) -> None:
    # 1. Registry and contact information.
    register_municipality(api, OSLO, "Oslo", "Oslo")
    register_municipality(api, BERGEN, "Bergen", "Vestland")
    api.ok(api.put(f"/municipalities/{OSLO}/contact", CONTACT, MUNICIPALITY, OSLO))
    registry = api.ok(api.get("/municipalities", RECEPTION))
    assert [(m["number"], m["county"]) for m in registry] == [(OSLO, "Oslo"), (BERGEN, "Vestland")]
    oslo = api.ok(api.get(f"/municipalities/{OSLO}", MUNICIPALITY, BERGEN))
    assert oslo["contact"]["email"] == CONTACT["email"] and oslo["contact_updated_at"]

    # 2-3. Requests (with letters) and quota decisions; a revision is kept.
    for number, persons, minors in ((OSLO, 10, 2), (BERGEN, 6, 1)):
        written = api.ok(
            api.post(
                f"/municipalities/{number}/requests",
                {"year": 2025, "persons": persons, "unaccompanied_minors": minors},
                IMDI,
            )
        )
        assert written["letter_id"]
    assert places(api, OSLO)["persons"] == {
        "requested": 10,
        "decided": None,
        "settled": 0,
        "agreed": 0,
        "used": 0,
        "vacant": None,
        "over_quota": 0,
    }
    decided_on = (TODAY - timedelta(days=20)).isoformat()
    api.ok(
        api.post(
            f"/municipalities/{OSLO}/quota-decisions",
            {"year": 2025, "persons": 8, "unaccompanied_minors": 2, "decided_on": decided_on},
            MUNICIPALITY,
            OSLO,
        )
    )
    api.ok(
        api.post(
            f"/municipalities/{OSLO}/quota-decisions",
            {"year": 2025, "persons": 9, "unaccompanied_minors": 2, "decided_on": decided_on},
            MUNICIPALITY,
            OSLO,
        )
    )
    api.ok(
        api.post(
            f"/municipalities/{BERGEN}/quota-decisions",
            {"year": 2025, "persons": 5, "unaccompanied_minors": 1, "decided_on": decided_on},
            IMDI,
        )
    )
    assert places(api, OSLO, MUNICIPALITY, OSLO)["persons"]["vacant"] == 9
    report = api.ok(api.get("/reports/requests-and-decisions", MUNICIPALITY, OSLO))
    assert [(e["municipality"], e["decision"]["persons"], len(e["history"])) for e in report] == [
        (OSLO, 9, 3)
    ]

    # 4. Registration and mapping.
    mother = register_refugee(api, "Leila Ahmadi", private=False, family_id="ahmadi")
    son = register_refugee(api, "Omid Ahmadi", private=False, family_id="ahmadi")
    private = register_refugee(api, "Yonas Tesfaye")
    minor = register_refugee(api, "Samir Haddad", minor=True)
    declined = register_refugee(api, "Nadia Karimi")
    api.ok(
        api.post(
            f"/refugees/{mother}/mapping",
            {
                "education": "Teacher",
                "work_experience": "10 years",
                "languages": ["fa", "en"],
                "health_needs": "",
                "notes": "Wants to teach",
            },
            RECEPTION,
        )
    )

    # 5. Lists: Oslo gets the family and a private person; Bergen a minor and one it declines.
    oslo_list = propose(api, OSLO, [mother, son, private])
    bergen_list = propose(api, BERGEN, [minor, declined])
    seen = api.ok(api.get("/distribution-lists", MUNICIPALITY, OSLO, params={"status": "open"}))["items"]
    assert [dl["list_id"] for dl in seen] == [oslo_list]
    assert all(p["full_name"] is None for p in seen[0]["refugees"])  # summary only before selection
    assert api.ok(api.get(f"/distribution-lists/{oslo_list}", IMDI))["refugees"][0]["full_name"]
    problem(api.get(f"/refugees/{mother}", MUNICIPALITY, OSLO), 403, "R6")  # no folder before selection
    problem(api.get(f"/refugees/{mother}", MUNICIPALITY, BERGEN), 404)

    # 6. Approval selects persons and sends selection letters.
    approve(api, OSLO, oslo_list, [mother, son, private])
    approve(api, BERGEN, bergen_list, [minor], [declined])
    folder = api.ok(api.get(f"/refugees/{mother}", MUNICIPALITY, OSLO))
    assert folder["full_name"] == "Leila Ahmadi" and folder["mapping"]["education"] == "Teacher"
    assert folder["selected_by"] == OSLO
    assert places(api, OSLO)["persons"]["agreed"] == 3
    letters = api.ok(api.get("/letters", MUNICIPALITY, BERGEN))["items"]
    assert {letter["kind"] for letter in letters} == {"request", "selection"}
    assert all(letter["municipality"] == BERGEN for letter in letters)

    # 7. Settlement decisions, with letters to the municipality and the person.
    for person in (mother, son, private):
        assert len(decide(api, person, OSLO)["letter_ids"]) == 2
    decide(api, minor, BERGEN)
    awaiting = api.ok(api.get("/refugees", MUNICIPALITY, OSLO, params={"without_settlement_date": "true"}))
    assert {p["refugee_id"] for p in awaiting["items"]} == {mother, son, private}

    # 8. Settlement dates: from reception for the family, from the municipality for the private person.
    api.ok(api.post(f"/refugees/{mother}/settlement-date", {"date": TODAY.isoformat()}, RECEPTION))
    api.ok(api.post(f"/refugees/{son}/settlement-date", {"date": TODAY.isoformat()}, RECEPTION))
    api.ok(api.post(f"/refugees/{private}/settlement-date", {"date": TODAY.isoformat()}, MUNICIPALITY, OSLO))
    deviation = api.ok(
        api.post(f"/refugees/{minor}/deviations", {"kind": "address", "description": "Address missing"}, IMDI)
    )["deviation_id"]
    problem(
        api.post(f"/refugees/{minor}/settlement-date", {"date": TODAY.isoformat()}, MUNICIPALITY, BERGEN),
        409,
        "R7c",
    )
    api.ok(api.post(f"/refugees/{minor}/deviations/{deviation}/resolution", {"note": "Found"}, IMDI))
    api.ok(api.post(f"/refugees/{minor}/settlement-date", {"date": TODAY.isoformat()}, MUNICIPALITY, BERGEN))
    assert places(api, OSLO)["persons"] == {
        "requested": 10,
        "decided": 9,
        "settled": 3,
        "agreed": 0,
        "used": 3,
        "vacant": 6,
        "over_quota": 0,
    }
    assert places(api, BERGEN)["unaccompanied_minors"]["settled"] == 1
    assert api.ok(api.get("/refugees", MUNICIPALITY, OSLO))["items"] == []
    settled = api.ok(api.get("/reports/settled-persons", AUDITOR, params={"municipality": OSLO}))
    assert sorted(p["full_name"] for p in settled) == ["Leila Ahmadi", "Omid Ahmadi", "Yonas Tesfaye"]

    # 9. Capacity for minors; support cases.
    capacity = api.ok(
        api.post(
            f"/municipalities/{BERGEN}/minor-capacity",
            {
                "places": 2,
                "expected_week": "2025-W30",
                "min_age": 15,
                "max_age": 17,
                "round_the_clock_staffing": True,
                "special_conditions": "Near school",
            },
            MUNICIPALITY,
            BERGEN,
        )
    )["id"]
    reports = api.ok(api.get("/minor-capacity", IMDI, params={"open": "true"}))["items"]
    assert [(r["capacity_id"], r["municipality"], r["places"]) for r in reports] == [(capacity, BERGEN, 2)]
    assert api.ok(api.get("/minor-capacity", MUNICIPALITY, OSLO))["items"] == []
    case = api.ok(api.post("/support-cases", {"subject": "Grant", "text": "When?"}, MUNICIPALITY, OSLO))["id"]
    api.ok(api.post(f"/support-cases/{case}/answer", {"text": "In March", "close": True}, IMDI))
    assert api.ok(api.get(f"/support-cases/{case}", MUNICIPALITY, OSLO))["status"] == "closed"
    problem(api.get(f"/support-cases/{case}", MUNICIPALITY, BERGEN), 404)

    # 10. Reports, the audit trail and a person's history.
    national = api.ok(api.get("/reports/national", MUNICIPALITY, BERGEN, params={"year": 2025}))
    by_number = {row["municipality"]: row for row in national["municipalities"]}
    assert by_number[OSLO]["settled"] == "<5" and by_number[BERGEN]["settled"] == "<5"  # R13
    national = api.ok(api.get("/reports/national", AUDITOR, params={"year": 2025}))
    assert {row["municipality"]: row["settled"] for row in national["municipalities"]} == {OSLO: 3, BERGEN: 1}
    assert national["total"] == {
        "requested": 16, "decided": 14, "settled": 4, "vacant": 10, "historical_settled": None, "complete": False
    }  # fmt: skip
    trail = api.ok(api.get("/audit/events", AUDITOR, params={"person": private}))["items"]
    # The person's trail holds the reads of the person's data (R14) beside the changes.
    assert "PersonalDataListed" in {e["type"] for e in trail}
    types = [e["type"] for e in trail if e["type"] not in ("PersonalDataListed", "PersonFolderViewed")]
    assert types[0] == "SettlementDateRegistered"
    assert {"RefugeeRegistered", "RefugeeSelected", "SettlementDecided"} <= set(types)
    viewed = api.ok(api.get("/audit/events", IMDI, params={"type": "PersonFolderViewed"}))["items"]
    assert any(e["actor"]["municipality"] == OSLO and e["person_id"] == mother for e in viewed)
    own = api.ok(api.get("/audit/events", MUNICIPALITY, BERGEN, params={"limit": 500}))["items"]
    assert own and all(e["municipality"] in (BERGEN, None) for e in own)
    assert not any(e["person_id"] in (mother, son, private) for e in own)
    history = api.ok(api.get(f"/refugees/{private}/history", MUNICIPALITY, OSLO))
    assert history["state"]["settlement_date"] == TODAY.isoformat()
    before = api.ok(api.get(f"/refugees/{private}/history", IMDI, params={"as_of": trail[-1]["recorded_at"]}))
    assert before["state"]["selected_by"] is None and [e["type"] for e in before["items"]] == [
        "RefugeeRegistered"
    ]


def test_reports_come_as_csv_and_xlsx_with_norwegian_headings(api: Api) -> None:
    register_municipality(api, OSLO, "Oslo", "Oslo")
    api.ok(
        api.post(
            f"/municipalities/{OSLO}/requests", {"year": 2025, "persons": 3, "unaccompanied_minors": 0}, IMDI
        )
    )
    response = api.get("/reports/requests-and-decisions", MUNICIPALITY, OSLO, headers={"Accept": "text/csv"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:6] == ["Kommunenummer", "År", "Type", "Revisjon", "Personer", "Herav enslige mindreårige"]
    assert rows[1][:5] == [OSLO, "2025", "Anmodning", "0", "3"]
    response = api.get("/reports/national", IMDI, params={"year": 2025}, headers={"Accept": XLSX})
    assert response.headers["content-type"].startswith(XLSX)
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == (
        "Kommunenummer",
        "Kommune",
        "Fylke",
        "Anmodet",
        "Vedtatt",
        "Bosatt",
        "Ledige plasser",
        "Nivå",
        "Bosatt ifølge IMDis statistikk",  # R15, added after the columns clients knew
        "Datagrunnlag",  # R19
    )
    assert rows[1][:4] == (OSLO, "Oslo", "Oslo", 3)
    assert [(r[1], r[3], r[7], r[9]) for r in rows[2:]] == [
        ("Oslo i alt", 3, "Fylke", "ikke komplett"),
        ("Hele landet", 3, "Landet", "ikke komplett"),
    ]
    problem(api.get("/reports/national", IMDI, headers={"Accept": "application/pdf"}), 406)


def test_a_file_of_settled_persons_writes_codes_as_words_and_dates_the_norwegian_way(api: Api) -> None:
    two_municipalities(api)
    refugee_id = selected_person(api)
    api.ok(
        api.post(f"/refugees/{refugee_id}/settlement-date", {"date": TODAY.isoformat()}, MUNICIPALITY, OSLO)
    )
    url = "/reports/settled-persons"
    response = api.get(url, MUNICIPALITY, OSLO, headers={"Accept": "text/csv"})
    header, *lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    row = dict(zip(header, lines[0], strict=True))
    assert row["Bosettingsdato"] == TODAY.strftime("%d.%m.%Y")
    assert row["Dato registrert av"] == "Kommunen"  # the code "municipality" in words
    assert row["Kategori"] in ("Asyl", "Overføringsflyktning", "Familiegjenforening", "Kollektiv beskyttelse")
    assert row["Enslig mindreårig"] in ("ja", "nei") and row["Datagrunnlag"] == "ikke komplett"
    sheet = load_workbook(
        io.BytesIO(api.get(url, MUNICIPALITY, OSLO, headers={"Accept": XLSX}).content)
    ).active
    cells = {heading.value: cell for heading, cell in zip(sheet[1], sheet[2], strict=True)}
    assert cells["Bosettingsdato"].value.date() == TODAY  # a date cell, shown as 30.11.2026
    assert cells["Bosettingsdato"].number_format == "DD.MM.YYYY"
    assert cells["Dato registrert av"].value == "Kommunen"


def test_reads_wait_for_the_views_and_answer_503_when_they_lag(api: Api) -> None:
    register_municipality(api, OSLO, "Oslo", "Oslo")
    runner = api.app.state.runner
    runner.stop()  # the views stand still, as under a long rebuild
    api.ok(api.post("/municipalities", {"number": "4601", "name": "Bergen", "county": "Vestland"}, IMDI))
    response = api.get("/municipalities", IMDI)
    problem(response, 503)
    assert response.headers["Retry-After"]
    runner.start()
    assert len(api.ok(api.get("/municipalities", IMDI))) == 2
    problem(api.get("/municipalities", IMDI, params={"min_position": api.position + 1}), 422)
    problem(api.get("/municipalities", IMDI, params={"min_position": -1}), 422)
    problem(api.get("/letters", IMDI, params={"cursor": "not-a-cursor"}), 422)
    problem(api.get("/letters", IMDI, params={"limit": 501}), 422)
    assert api.client.get("/health").json() == {"status": "ok"}  # no token: up or not, nothing more
    health = api.client.get("/health", headers=auth(AUDITOR)).json()
    assert health["status"] == "ok" and health["log_position"] >= 1
    assert {p["name"] for p in health["projections"]} >= {"places", "audit_trail"}


def test_with_the_projections_in_another_process_reads_wait_on_their_positions(
    database_url: str, tmp_path: Path
) -> None:
    app = create_app(settings_for(database_url, tmp_path), clock=lambda: TODAY, live_projections=False)
    with TestClient(app) as client:
        api = Api(client)
        register_municipality(api, OSLO, "Oslo", "Oslo")
        problem(api.get("/municipalities", IMDI), 503)  # nobody keeps the views: not stale data
        worker = Runner(
            app.state.settlement, app.state.reads.engine, PROJECTIONS.values()
        )  # as `settlement projections run`
        worker.catch_up()
        assert [m["number"] for m in api.ok(api.get("/municipalities", IMDI))] == [OSLO]
        assert client.get("/health", headers=auth(IMDI)).json()["projections_in_process"] is False
