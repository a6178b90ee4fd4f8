"""Erasure over HTTP (R18), and reads of letters and case files recorded (R14), on both backends."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from api.cli.main import main
from tests.e2e.conftest import AUDITOR, IMDI, MUNICIPALITY, OSLO, Api, problem
from tests.e2e.story import (
    RESPOND_BY,
    approve,
    deliver_letters,
    propose,
    register_refugee,
    two_municipalities,
    with_places,
)
from tests.given import TODAY

NAME = "Vilje Erasmussen"
ERASURE = {"legal_basis": "GDPR art. 17", "reason": "the person asked to be forgotten"}


def _reads_of(api: Api, person: str, kind: str) -> list[dict]:
    head = api.app.state.settlement.position()
    found = api.ok(
        api.get(
            "/audit/events", IMDI, params={"person": person, "type": kind, "min_position": head, "limit": 500}
        )
    )
    return found["items"]


def test_imdi_erases_a_settled_person_and_every_view_shows_the_person_as_erased(api: Api) -> None:
    two_municipalities(api)
    with_places(api, OSLO)
    person = register_refugee(api, NAME)
    approve(api, OSLO, propose(api, OSLO, [person]), [person])
    letters = api.ok(api.post(f"/refugees/{person}/settlement-decision", {"municipality": OSLO}, IMDI))[
        "letter_ids"
    ]

    # Refused while the case is open (R18b: decided, no settlement date yet), with the rule's code.
    refused = problem(api.post(f"/refugees/{person}/erasure", ERASURE, IMDI), 409, "R18b")
    assert NAME not in str(refused)
    api.ok(api.post(f"/refugees/{person}/settlement-date", {"date": TODAY.isoformat()}, MUNICIPALITY, OSLO))
    # Only IMDi erases (403); the body names its legal basis and reason (422).
    problem(api.post(f"/refugees/{person}/erasure", ERASURE, MUNICIPALITY, OSLO), 403)
    problem(api.post(f"/refugees/{person}/erasure", ERASURE, AUDITOR), 403)
    problem(api.post(f"/refugees/{person}/erasure", {"legal_basis": "GDPR art. 17"}, IMDI), 422)
    on_list = register_refugee(api, "Listed Person")
    propose(api, OSLO, [on_list])
    problem(api.post(f"/refugees/{on_list}/erasure", ERASURE, IMDI), 409, "R18a")

    # R18e: the decision's letters name the person and are not delivered yet.
    problem(api.post(f"/refugees/{person}/erasure", ERASURE, IMDI), 409, "R18e")
    assert deliver_letters(api, person) == 3  # the selection letter and the decision's two

    assert api.ok(api.post(f"/refugees/{person}/erasure", ERASURE, IMDI))["erased"] is True
    problem(api.post(f"/refugees/{person}/erasure", ERASURE, IMDI), 409, "R18d")

    folder = api.ok(api.get(f"/refugees/{person}", IMDI))
    assert folder["erased"] is True and folder["full_name"] == "slettet" and folder["birth_date"] is None
    assert folder["status"] == "settled" and folder["settlement_date"] == TODAY.isoformat()
    assert api.ok(api.get("/refugees/search", IMDI, params={"name": "erasmus"}))["items"] == []
    report = api.ok(api.get("/reports/settled-persons", MUNICIPALITY, OSLO))
    assert [p["full_name"] for p in report if p["refugee_id"] == person] == ["slettet"]
    case = api.ok(api.get(f"/refugees/{person}/case-file", IMDI, headers={"Accept": "application/json"}))
    assert case["person"]["full_name"] == "slettet" and case["person"]["erased"] is True
    assert NAME not in str(case) and "1990-05-17" not in str(case)
    assert "PersonalDataErased" in [step["event"] for step in case["steps"]]
    for letter_id in letters:
        assert api.get(f"/letters/{letter_id}/pdf", IMDI).status_code == 200
    # The audit trail keeps the facts; the erasure is one of them.
    erased = api.ok(api.get("/audit/events", IMDI, params={"person": person, "type": "PersonalDataErased"}))
    assert [e["summary"] for e in erased["items"]] == ["Personal data erased (R18)"]
    # R14: read records name their persons from the month of the oldest month key held (the reads of
    # this test, recorded now), not from a date worked out from the clock.
    assert erased["reads_from"] == datetime.now(UTC).date().replace(day=1).isoformat()


def test_reads_of_letters_and_case_files_are_recorded(api: Api) -> None:
    two_municipalities(api)
    with_places(api, OSLO)
    person = register_refugee(api, NAME)
    approve(api, OSLO, propose(api, OSLO, [person]), [person])
    letters = api.ok(api.post(f"/refugees/{person}/settlement-decision", {"municipality": OSLO}, IMDI))[
        "letter_ids"
    ]
    listed = "PersonalDataListed"
    for path, what in (
        (f"/letters/{letters[0]}", "GET /letters/{id}"),
        (f"/letters/{letters[0]}/pdf", "GET /letters/{id}/pdf"),
        (f"/refugees/{person}/case-file", "GET /refugees/{id}/case-file"),
    ):
        before = len(_reads_of(api, person, listed))
        assert api.get(path, MUNICIPALITY, OSLO).status_code == 200, path
        found = _reads_of(api, person, listed)
        assert len(found) == before + 1, path
        assert found[0]["summary"].startswith(f"Personal data listed: {what}, "), found[0]["summary"]


def test_the_family_text_and_support_case_texts_show_opened_and_then_as_erased(
    api: Api, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """R18 over HTTP: the sealed family text and support case texts are shown opened to those allowed;
    once a member is erased the family's text reads ``slettet`` for every member (its key is gone),
    the family still goes whole (R3); the fields keep their names (API.md)."""
    two_municipalities(api)
    family = "Familien Quarnstedt"
    mother = register_refugee(api, "Mother Quarnstedt", family_id=family)
    child = register_refugee(api, "Child Quarnstedt", family_id=family)
    assert api.ok(api.get(f"/refugees/{mother}", IMDI))["family_id"] == family
    listed = propose(api, OSLO, [mother, child])
    on_list = api.ok(api.get(f"/distribution-lists/{listed}", IMDI))["refugees"]
    assert {p["family_id"] for p in on_list} == {family} and len({p["family_ref"] for p in on_list}) == 1
    hidden = api.ok(api.get(f"/distribution-lists/{listed}", MUNICIPALITY, OSLO))["refugees"]
    assert {p["family_id"] for p in hidden} == {None}  # R6: only the opaque family_ref before selection
    api.ok(api.post(f"/distribution-lists/{listed}/withdrawal", {"reason": "Quarnstedt moved"}, IMDI))
    case = api.ok(
        api.post("/support-cases", {"subject": "Tolk", "text": "Quarnstedt trenger tolk"}, MUNICIPALITY, OSLO)
    )["id"]
    api.ok(api.post(f"/support-cases/{case}/answer", {"text": "Tolk bestilt", "close": False}, IMDI))
    shown = api.ok(api.get(f"/support-cases/{case}", MUNICIPALITY, OSLO))
    assert (shown["subject"], shown["text"], [a["text"] for a in shown["answers"]]) == (
        "Tolk", "Quarnstedt trenger tolk", ["Tolk bestilt"],
    )  # fmt: skip

    assert api.ok(api.post(f"/refugees/{mother}/erasure", ERASURE, IMDI))["erased"] is True
    assert api.ok(api.get(f"/refugees/{mother}", IMDI))["family_id"] == "slettet"
    child_folder = api.ok(api.get(f"/refugees/{child}", IMDI))
    assert child_folder["family_id"] == "slettet" and child_folder["full_name"] == "Child Quarnstedt"
    # The case replayed from the log says so too, though the child's own registration still opens it.
    history = api.ok(api.get(f"/refugees/{child}/history", IMDI))
    assert history["state"]["family_id"] == "slettet" and family not in str(history)
    assert main(["audit", "replay", "--person", child, "--json", "--database-url", database_url]) == 0
    assert json.loads(capsys.readouterr().out)["state"]["family_id"] == "slettet"
    # The family is still whole (R3): the child alone is refused, and the refusal names no text.
    refused = problem(
        api.post(
            "/distribution-lists",
            {"municipality": OSLO, "refugee_ids": [child], "respond_by": RESPOND_BY},
            IMDI,
        ),
        409,
        "R3",
    )
    assert family not in str(refused) and "Quarnstedt" not in str(refused)
