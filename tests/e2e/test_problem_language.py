"""Problem details in bokmål by default and in English with ``Accept-Language: en``: the title and detail
(and each listed error's message) are translated; the type, rule, status and field names stay."""

from __future__ import annotations

from datetime import timedelta

from tests.e2e.conftest import IMDI, MUNICIPALITY, OSLO, RECEPTION, Api, problem
from tests.e2e.story import selected_person, two_municipalities
from tests.given import TODAY

NB = {"Accept-Language": "nb-NO,nb;q=0.9"}
EN = {"Accept-Language": "en"}
NONE = {"Accept-Language": ""}  # no preference: bokmål


def both(api: Api, method: str, path: str, role, municipality=None, **kwargs) -> tuple[dict, dict, dict]:
    """The same refused request answered in bokmål (asked and by default) and in English."""
    answers = []
    for headers in (NB, NONE, EN):
        response = api.request(method, path, role, municipality, headers=headers, **kwargs)
        assert response.headers["content-language"] == ("en" if headers is EN else "nb")
        answers.append(response)
    return tuple(answers)  # type: ignore[return-value]


def test_a_domain_refusal_is_in_bokmal_by_default_and_english_on_request(api: Api) -> None:
    two_municipalities(api)
    report = {
        "places": 2, "expected_week": "2025-W30", "min_age": 13, "max_age": 17,
        "round_the_clock_staffing": True, "special_conditions": "",
    }  # fmt: skip
    nb, default, en = (
        problem(answer, 422, "R11")
        for answer in both(
            api, "POST", f"/municipalities/{OSLO}/minor-capacity", MUNICIPALITY, OSLO, json=report
        )
    )
    assert nb == default
    assert nb["title"] == "Kapasitetsmeldingen ble avvist" and en["title"] == "Capacity report refused"
    assert nb["detail"].startswith("Enslige mindreårige under 15 år bosettes gjennom Bufetat")
    assert en["detail"].startswith("Unaccompanied minors under 15 are settled through Bufetat")
    assert nb["errors"] == [{"field": "min_age", "message": nb["detail"]}]
    assert (nb["type"], nb["rule"], nb["status"]) == (en["type"], en["rule"], en["status"])


def test_values_inside_a_refusal_are_written_the_norwegian_way(api: Api) -> None:
    two_municipalities(api)
    refugee_id = selected_person(api)
    path = f"/refugees/{refugee_id}/settlement-date"
    nb, _default, en = (
        problem(answer, 422, "R7e")
        for answer in both(api, "POST", path, MUNICIPALITY, OSLO, json={"date": "2015-12-31"})
    )
    assert nb["detail"] == "Datoen er før tidligste bosettingsdato 01.01.2016."
    assert en["detail"] == "The date is before the settlement cut-off 2016-01-01."
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    nb, _default, en = (
        problem(answer, 409, "R7e")
        for answer in both(api, "POST", path, MUNICIPALITY, OSLO, json={"date": yesterday})
    )
    assert nb["detail"] == f"Datoen er før personen ble tatt imot ({TODAY.strftime('%d.%m.%Y')})."
    assert en["detail"] == f"The date is before the person was selected ({TODAY.isoformat()})."


def test_roles_tenancy_and_sign_in_are_refused_in_bokmal(api: Api) -> None:
    two_municipalities(api)
    forbidden = problem(api.get("/audit/events", RECEPTION, headers=NB), 403)
    assert forbidden["title"] == "Ikke tillatt for denne rollen"
    assert forbidden["detail"].startswith("Bare IMDi") and "kan lese dette" in forbidden["detail"]
    unknown = problem(api.get("/refugees/00000000-0000-4000-8000-000000000000", IMDI, headers=NB), 404)
    assert unknown["title"] == "Ikke funnet" and unknown["detail"].startswith("Fant ikke person ")
    unsigned = problem(api.get("/municipalities", None, headers=NB), 401)
    assert unsigned["title"] == "Ikke innlogget"
    assert unsigned["detail"] == "Send et bearer-token: Authorization: Bearer <JWT>."


def test_the_frameworks_validation_messages_are_listed_in_bokmal(api: Api) -> None:
    two_municipalities(api)
    nb, _default, en = (
        problem(answer, 422)
        for answer in both(api, "POST", f"/municipalities/{OSLO}/requests", IMDI, json={"persons": -1})
    )
    assert nb["title"] == "Ugyldige opplysninger" and en["title"] == "Invalid input"
    assert nb["detail"] == "Forespørselen er ikke gyldig; se errors."
    assert [e["field"] for e in nb["errors"]] == [e["field"] for e in en["errors"]]
    assert all(e["message"] != e_en["message"] for e, e_en in zip(nb["errors"], en["errors"], strict=True)), (
        nb["errors"],
        en["errors"],
    )
