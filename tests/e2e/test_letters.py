"""R9 and R17 over HTTP (both backends): organisation numbers, the letters with their delivery
history, the PDF for the recipient municipality and IMDi only, IMDi's opened callback, the letters
needing attention and their retry, and the case file as PDF/A or JSON with R6's limits."""

from __future__ import annotations

import json
import time
from pathlib import Path
from uuid import UUID

import pytest
from litestar.testing import TestClient

from api.http.app import create_app
from api.letters.outbox import OUTBOX_ACTOR, Outbox
from projections.letters import letters_of
from settlement_domain import commands as c
from settlement_domain.context import CommandContext
from tests.e2e.conftest import (
    AUDITOR,
    BERGEN,
    IMDI,
    MUNICIPALITY,
    OSLO,
    RECEPTION,
    Api,
    problem,
    settings_for,
)
from tests.e2e.story import approve, propose, register_refugee, request_and_decide
from tests.given import TODAY
from tests.given.letters import POSTMOTTAK, Clock, assert_pdf_a, pdf_text

CONTACT = {
    "contact_person": "Åse Bjørnstad",
    "email": "postmottak@oslo.kommune.no",
    "phone": "+47 21 80 21 80",
    "postal_address": POSTMOTTAK,
    "organisation_number": "974760673",
}


@pytest.fixture
def letters_api(database_url: str, tmp_path: Path):
    app = create_app(settings_for(database_url, tmp_path), clock=lambda: TODAY)
    with TestClient(app) as client:
        yield Api(client)


def tick(api: Api, clock: Clock) -> None:
    """One round of the outbox on the app's own store (what the worker inside serve does)."""
    state = api.app.state
    runner = state.runner
    runner.wait_for(state.settlement.position(), timeout=10)
    outbox = Outbox.from_settings(state.settlement, state.reads.engine, state.settings, clock=clock)
    outbox.tick()
    runner.wait_for(state.settlement.position(), timeout=10)
    api.position = max(api.position, state.settlement.position())


def open_digital_letters(api: Api, person: str) -> None:
    """IMDi's callback for each letter naming the person that went by digital post: opened."""
    state = api.app.state
    state.runner.wait_for(state.settlement.position(), timeout=10)
    digital = [
        r["letter_id"] for r in letters_of(state.reads.engine, person=person) if r["status"] == "digital"
    ]
    assert digital
    for letter_id in digital:
        opened = api.post(f"/letters/{letter_id}/opened", {"opened_at": "2025-06-17T10:00:00Z"}, IMDI)
        assert opened.status_code == 201, opened.text


def oslo_with_a_decided_person(api: Api) -> dict[str, str]:
    api.ok(
        api.post(
            "/municipalities",
            {"number": OSLO, "name": "Oslo", "county": "Oslo", "organisation_number": "974760673"},
            IMDI,
        )
    )
    api.ok(api.post("/municipalities", {"number": BERGEN, "name": "Bergen", "county": "Vestland"}, IMDI))
    api.ok(api.put(f"/municipalities/{OSLO}/contact", CONTACT, MUNICIPALITY, OSLO))
    request_and_decide(api, OSLO, persons=5, minors=1)
    person = register_refugee(api, "Ærlend Østbø")
    approve(api, OSLO, propose(api, OSLO, [person]), [person])
    decision = api.ok(api.post(f"/refugees/{person}/settlement-decision", {"municipality": OSLO}, IMDI))
    to_oslo, to_person = decision["letter_ids"]
    return {"person": person, "to_oslo": to_oslo, "to_person": to_person}


def test_organisation_numbers_are_shown_and_checked(letters_api: Api):
    api = letters_api
    oslo_with_a_decided_person(api)
    found = api.ok(api.get(f"/municipalities/{OSLO}", MUNICIPALITY, OSLO))
    assert found["organisation_number"] == "974760673"
    assert found["contact"]["organisation_number"] == "974760673"
    body = problem(
        api.put(f"/municipalities/{OSLO}/contact", {**CONTACT, "organisation_number": "12345"}, IMDI),
        422,
        "R9",
    )
    assert "9 digits" in body["detail"]
    problem(
        api.post(
            "/municipalities",
            {"number": "5001", "name": "T", "county": "T", "organisation_number": "97476067X"},
            IMDI,
        ),
        422,
        "R9",
    )


def test_letters_with_their_history_pdf_for_the_recipient_and_imdi_only(letters_api: Api, tmp_path: Path):
    api = letters_api
    ids = oslo_with_a_decided_person(api)
    clock = Clock()
    tick(api, clock)
    page = api.ok(api.get("/letters", MUNICIPALITY, OSLO, params={"kind": "decision_municipality"}))
    (letter,) = page["items"]
    assert letter["letter_id"] == ids["to_oslo"] and letter["status"] == "digital"
    assert [step["event"] for step in letter["history"]] == ["issued", "dispatched"]
    assert letter["history"][1]["channel"] == "file" and letter["history"][1]["shipment_id"]
    assert letter["fallback_due_at"].startswith("2025-06-18T09:00")
    one = api.ok(api.get(f"/letters/{ids['to_oslo']}", IMDI))
    assert one["reference"] == letter["reference"] and one["history"] == letter["history"]
    pdf = api.get(f"/letters/{ids['to_oslo']}/pdf", MUNICIPALITY, OSLO)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert_pdf_a(pdf.content)
    text = " ".join(pdf_text(pdf.content, tmp_path).split())
    assert "Ærlend Østbø" in text and "Vedtak om bosetting i 2025" in text
    assert api.get(f"/letters/{ids['to_oslo']}/pdf", IMDI).status_code == 200
    problem(api.get(f"/letters/{ids['to_oslo']}/pdf", MUNICIPALITY, BERGEN), 404)
    problem(api.get(f"/letters/{ids['to_oslo']}", MUNICIPALITY, BERGEN), 404)
    problem(api.get("/letters/not-a-letter/pdf", IMDI), 404)
    # IMDi's callback: opened; a second call changes nothing; the municipality may not call it.
    problem(api.post(f"/letters/{ids['to_oslo']}/opened", {}, MUNICIPALITY, OSLO), 403)
    opened = api.post(f"/letters/{ids['to_oslo']}/opened", {"opened_at": "2025-06-17T10:00:00Z"}, IMDI)
    assert opened.status_code == 201, opened.text
    again = api.post(f"/letters/{ids['to_oslo']}/opened", {}, IMDI)
    assert again.status_code == 201
    one = api.ok(api.get(f"/letters/{ids['to_oslo']}", IMDI))
    assert one["status"] == "opened" and one["opened_at"].startswith("2025-06-17T10:00")
    assert [s["event"] for s in one["history"]] == ["issued", "dispatched", "opened"]
    problem(api.post(f"/letters/{ids['to_person']}/opened", {}, IMDI), 409, "R9")  # went by post


def test_a_failed_letter_needs_attention_and_imdi_retries_it(letters_api: Api):
    api = letters_api
    oslo_with_a_decided_person(api)
    bergen_letter = api.ok(
        api.post(
            f"/municipalities/{BERGEN}/requests",
            {"year": 2025, "persons": 3, "unaccompanied_minors": 0},
            IMDI,
        )
    )["letter_id"]
    clock = Clock()
    tick(api, clock)
    failed = api.ok(api.get("/letters", IMDI, params={"status": "failed"}))["items"]
    assert [f["letter_id"] for f in failed] == [bergen_letter]
    assert failed[0]["needs_attention"] and "organisasjonsnummer" in failed[0]["failure_reason"]
    problem(api.post(f"/letters/{bergen_letter}/retry", None, MUNICIPALITY, BERGEN), 403)
    api.ok(
        api.put(
            f"/municipalities/{BERGEN}/contact",
            {**CONTACT, "organisation_number": "964338531"},
            MUNICIPALITY,
            BERGEN,
        )
    )
    assert api.post(f"/letters/{bergen_letter}/retry", None, IMDI).status_code == 201
    problem(api.post(f"/letters/{bergen_letter}/retry", None, IMDI), 409, "R9")
    tick(api, clock)
    assert api.ok(api.get(f"/letters/{bergen_letter}", MUNICIPALITY, BERGEN))["status"] == "digital"


def test_the_case_file_as_pdf_a_or_json_limited_as_r6_says(letters_api: Api, tmp_path: Path):
    api = letters_api
    ids = oslo_with_a_decided_person(api)
    tick(api, Clock())
    pdf = api.get(f"/refugees/{ids['person']}/case-file", IMDI)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert_pdf_a(pdf.content)
    text = " ".join(pdf_text(pdf.content, tmp_path).split())
    for expected in (
        "Saksmappe: Ærlend Østbø",
        "Saksgang",
        "Registrert i bosettingstjenesten",
        "Vedtak om bosetting i kommune 0301 i 2025",
        "Vedtak om bosettingskommune",
    ):
        assert expected in text, expected
    case = api.ok(
        api.get(
            f"/refugees/{ids['person']}/case-file", MUNICIPALITY, OSLO, headers={"Accept": "application/json"}
        )
    )
    assert case["person"]["full_name"] == "Ærlend Østbø"
    assert {letter["kind"] for letter in case["letters"]} == {
        "selection",
        "decision_municipality",
        "decision_person",
    }
    assert [s["event"] for s in case["steps"]][:2] == ["RefugeeRegistered", "RefugeeProposed"]
    problem(api.get(f"/refugees/{ids['person']}/case-file", MUNICIPALITY, BERGEN), 404)
    problem(api.get(f"/refugees/{ids['person']}/case-file", RECEPTION), 403)
    assert api.get(f"/refugees/{ids['person']}/case-file", AUDITOR).status_code == 200
    # Proposed to Bergen, not selected: R6 keeps the case closed to Bergen.
    other = register_refugee(api, "Other Person")
    propose(api, BERGEN, [other])
    problem(api.get(f"/refugees/{other}/case-file", MUNICIPALITY, BERGEN), 403, "R6")
    exports = api.ok(api.get("/audit/events", IMDI, params={"type": "ExportMade"}))["items"]
    assert len(exports) == 3 and {e["summary"] for e in exports} == {
        "Case file exported as pdf",
        "Case file exported as json",
    }
    assert all(UUID(e["person_id"]) == UUID(ids["person"]) for e in exports)


def test_the_outbox_runs_inside_the_server_on_its_own(database_url: str, tmp_path: Path):
    settings = settings_for(database_url, tmp_path, letters_worker=True, letters_poll_seconds=0.05)
    with TestClient(create_app(settings, clock=lambda: TODAY)) as client:
        api = Api(client)
        ids = oslo_with_a_decided_person(api)
        deadline = time.monotonic() + 60
        statuses: dict[str, str] = {}
        while time.monotonic() < deadline:
            items = api.ok(api.get("/letters", IMDI))["items"]
            statuses = {item["letter_id"]: item["status"] for item in items}
            if len(statuses) == 4 and set(statuses.values()) <= {"digital", "posted"}:
                break
            time.sleep(0.1)
        assert statuses[ids["to_oslo"]] == "digital" and statuses[ids["to_person"]] == "posted"
        assert (tmp_path / "outbox" / ids["to_oslo"] / "forsendelse.json").is_file()
        assert (tmp_path / "print" / f"{ids['to_person']}.pdf").is_file()


def test_an_erasure_removes_the_letter_files_naming_the_person(letters_api: Api, tmp_path: Path):
    """R18: the outbox folder's PDF and recipient, and the print queue's PDF, of the letters naming an
    erased person leave the disk; the shipment's id stays, so the outbox never sends them again."""
    api = letters_api
    ids = oslo_with_a_decided_person(api)
    outbox, printed = tmp_path / "outbox" / ids["to_oslo"], tmp_path / "print" / f"{ids['to_person']}.pdf"
    for _ in range(20):  # the outbox sends once the letters read model has them (a busy machine lags)
        tick(api, Clock())
        if printed.is_file() and (outbox / "forsendelse.json").is_file():
            break
    assert printed.is_file() and any(p.suffix == ".pdf" for p in outbox.iterdir())
    shipment_id = json.loads((outbox / "forsendelse.json").read_text(encoding="utf-8"))["id"]
    api.ok(
        api.post(
            f"/refugees/{ids['person']}/settlement-date", {"date": TODAY.isoformat()}, MUNICIPALITY, OSLO
        )
    )
    erasure = {"legal_basis": "GDPR art. 17", "reason": "the person asked"}
    # R18e: the letters to Oslo went by digital post and may still fall back to paper until opened.
    problem(api.post(f"/refugees/{ids['person']}/erasure", erasure, IMDI), 409, "R18e")
    open_digital_letters(api, ids["person"])
    assert api.ok(api.post(f"/refugees/{ids['person']}/erasure", erasure, IMDI))["erased"] is True
    assert not printed.exists()
    assert [p.name for p in outbox.iterdir()] == ["forsendelse.json"]
    kept = json.loads((outbox / "forsendelse.json").read_text(encoding="utf-8"))
    assert kept["id"] == shipment_id and kept["slettet"] is True
    assert "Østbø" not in json.dumps(kept, ensure_ascii=False) and "mottaker" not in kept
    # the outbox still knows the letters went: nothing is sent again
    tick(api, Clock())
    assert not printed.exists() and [p.name for p in outbox.iterdir()] == ["forsendelse.json"]


ERASURE = {"legal_basis": "GDPR art. 17", "reason": "the person asked"}


def test_an_erasure_waits_for_the_letters_naming_the_person_r18e(letters_api: Api):
    """R18e: erasure is refused (409, naming the rule, no name in the answer) while a letter naming
    the person is issued and not delivered: waiting for its delivery, sent by digital post and not
    opened (it may still go by post), or to be tried again; a letter failed for good does not hold it."""
    api = letters_api
    ids = oslo_with_a_decided_person(api)
    api.ok(
        api.post(
            f"/refugees/{ids['person']}/settlement-date", {"date": TODAY.isoformat()}, MUNICIPALITY, OSLO
        )
    )
    api.position = max(api.position, api.app.state.settlement.position())
    # The selection letter and the decision's two: waiting for their delivery.
    refused = problem(api.post(f"/refugees/{ids['person']}/erasure", ERASURE, IMDI), 409, "R18e")
    assert "Østbø" not in json.dumps(refused, ensure_ascii=False)
    assert refused["detail"].startswith("3 letters naming the person are not delivered yet")
    in_bokmal = api.post(
        f"/refugees/{ids['person']}/erasure", ERASURE, IMDI, headers={"Accept-Language": "nb"}
    )
    assert "3 brev som nevner personen er ikke levert ennå" in problem(in_bokmal, 409, "R18e")["detail"]

    clock = Clock()
    tick(api, clock)  # the person's letter goes to print (delivered), Oslo's two by digital post
    assert api.ok(api.get(f"/letters/{ids['to_person']}", IMDI))["status"] == "posted"
    refused = problem(api.post(f"/refugees/{ids['person']}/erasure", ERASURE, IMDI), 409, "R18e")
    assert refused["detail"].startswith("2 letters")
    # Not opened in 48 hours: they fall back to paper and are printed; then they are delivered.
    clock.at(hours=49)
    tick(api, clock)
    assert api.ok(api.get(f"/letters/{ids['to_oslo']}", IMDI))["status"] == "posted"
    assert api.ok(api.post(f"/refugees/{ids['person']}/erasure", ERASURE, IMDI))["erased"] is True


def test_a_letter_failed_for_good_does_not_hold_an_erasure(letters_api: Api):
    api = letters_api
    ids = oslo_with_a_decided_person(api)
    state = api.app.state
    app = state.settlement
    api.ok(
        api.post(
            f"/refugees/{ids['person']}/settlement-date", {"date": TODAY.isoformat()}, MUNICIPALITY, OSLO
        )
    )
    outbox_actor = CommandContext(OUTBOX_ACTOR, "test-outbox")
    at = Clock()()
    state.runner.wait_for(app.position(), timeout=10)
    selection = [
        r["letter_id"]
        for r in letters_of(state.reads.engine, person=ids["person"])
        if r["kind"] == "selection"
    ]
    for digital in (ids["to_oslo"], *selection):
        app.handle(
            outbox_actor, c.RecordLetterDispatch(UUID(digital), "digital", "file", f"file-{digital}", at)
        )
        app.handle(outbox_actor, c.RecordLetterOpened(UUID(digital), at, "channel"))
    app.handle(
        outbox_actor,
        c.RecordLetterDeliveryFailure(UUID(ids["to_person"]), "paper", "paper", "no address", True, None),
    )
    api.position = max(api.position, app.position())
    assert api.ok(api.post(f"/refugees/{ids['person']}/erasure", ERASURE, IMDI))["erased"] is True


def test_the_outbox_never_sends_a_letter_naming_an_erased_person(
    letters_api: Api, tmp_path: Path, monkeypatch
):
    """R18 (defence in depth): a letter issued moments before the erasure, which the letters read model
    had not folded when the erasure looked (simulated by a lookup that finds none), is not sent: the
    outbox records it as failed for good, and no file with the person's name is written."""
    api = letters_api
    ids = oslo_with_a_decided_person(api)
    app = api.app.state.settlement
    api.ok(
        api.post(
            f"/refugees/{ids['person']}/settlement-date", {"date": TODAY.isoformat()}, MUNICIPALITY, OSLO
        )
    )
    monkeypatch.setattr(app, "letters_naming", lambda person: [])
    api.position = max(api.position, app.position())
    assert api.ok(api.post(f"/refugees/{ids['person']}/erasure", ERASURE, IMDI))["erased"] is True
    tick(api, Clock())
    for letter_id in (ids["to_oslo"], ids["to_person"]):
        letter = api.ok(api.get(f"/letters/{letter_id}", IMDI))
        assert letter["status"] == "failed", letter
        assert letter["failure_reason"] == "En person brevet nevner er slettet (R18)"
    assert not (tmp_path / "print" / f"{ids['to_person']}.pdf").exists()
    assert not (tmp_path / "outbox" / ids["to_oslo"]).exists()
