"""Builders for the lifecycle over HTTP, shared by the API tests: each step is one request as its role."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from tests.e2e.conftest import BERGEN, IMDI, MUNICIPALITY, OSLO, RECEPTION, Api
from tests.given import ADDRESS, TODAY

RESPOND_BY = (TODAY + timedelta(days=14)).isoformat()


def register_municipality(api: Api, number: str, name: str, county: str) -> dict[str, Any]:
    return api.ok(api.post("/municipalities", {"number": number, "name": name, "county": county}, IMDI))


def register_refugee(
    api: Api,
    name: str = "Amina Hassan",
    *,
    private: bool = True,
    family_id: str | None = None,
    minor: bool = False,
    role=RECEPTION,
) -> str:
    birth = date(2009, 3, 1) if minor else date(1990, 5, 17)
    residence = {"kind": "private"} if private else {"kind": "reception_centre", "centre_id": "mottak-7"}
    body = {
        "full_name": name,
        "birth_date": birth.isoformat(),
        "family_id": family_id,
        "unaccompanied_minor": minor,
        "residence": residence,
        "postal_address": ADDRESS,
        "category": "resettlement",
    }
    return api.ok(api.post("/refugees", body, role))["id"]


def propose(api: Api, municipality: str, refugee_ids: list[str]) -> str:
    body = {"municipality": municipality, "refugee_ids": refugee_ids, "respond_by": RESPOND_BY}
    return api.ok(api.post("/distribution-lists", body, IMDI))["id"]


def approve(
    api: Api, municipality: str, list_id: str, accepted: list[str], declined: list[str] = ()
) -> dict[str, Any]:
    body = {
        "accepted": accepted,
        "declined": [{"refugee_id": r, "reason": "No suitable housing"} for r in declined],
    }
    return api.ok(api.post(f"/distribution-lists/{list_id}/approval", body, MUNICIPALITY, municipality))


def request_and_decide(api: Api, municipality: str, persons: int, minors: int, year: int = 2025) -> None:
    api.ok(
        api.post(
            f"/municipalities/{municipality}/requests",
            {"year": year, "persons": persons, "unaccompanied_minors": minors},
            IMDI,
        )
    )
    api.ok(
        api.post(
            f"/municipalities/{municipality}/quota-decisions",
            {
                "year": year,
                "persons": persons,
                "unaccompanied_minors": minors,
                "decided_on": (TODAY - timedelta(days=30)).isoformat(),
            },
            MUNICIPALITY,
            municipality,
        )
    )


def decide(api: Api, refugee_id: str, municipality: str, **extra: Any) -> dict[str, Any]:
    return api.ok(
        api.post(f"/refugees/{refugee_id}/settlement-decision", {"municipality": municipality, **extra}, IMDI)
    )


def two_municipalities(api: Api) -> None:
    register_municipality(api, OSLO, "Oslo", "Oslo")
    register_municipality(api, BERGEN, "Bergen", "Vestland")


def with_places(api: Api, municipality: str, year: int = 2025) -> None:
    """The municipality has decided places for ``year`` (20 persons, 5 minors) unless it already decided."""
    if (
        api.ok(api.get(f"/municipalities/{municipality}/places", IMDI, params={"year": year}))["persons"][
            "decided"
        ]
        is None
    ):
        request_and_decide(api, municipality, persons=20, minors=5, year=year)


def selected_person(api: Api, municipality: str = OSLO, *, private: bool = True) -> str:
    """A person on a list of ``municipality`` that the municipality accepted (selected), in a year with
    vacant places (R4)."""
    with_places(api, municipality)
    refugee_id = register_refugee(api, private=private)
    approve(api, municipality, propose(api, municipality, [refugee_id]), [refugee_id])
    return refugee_id
