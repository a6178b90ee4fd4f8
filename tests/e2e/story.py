"""Builders for the lifecycle over HTTP, shared by the API tests: each step is one request as its role."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from api.letters.outbox import OUTBOX_ACTOR
from projections.letters import letters_of
from settlement_domain import commands as c
from settlement_domain.context import CommandContext
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


def deliver_letters(api: Api, person: str) -> int:
    """The letters naming the person that are not delivered yet recorded as the outbox records them
    once delivered: dispatched, and a digital one opened (so that an erasure is not held by them,
    R18e); answers how many."""
    state = api.app.state
    app = state.settlement
    state.runner.wait_for(app.position(), timeout=10)
    rows = letters_of(state.reads.engine, person=person)
    ctx = CommandContext(OUTBOX_ACTOR, "test-outbox")
    at = datetime(2025, 6, 16, 9, tzinfo=UTC)
    delivered = 0
    for letter_id in (UUID(row["letter_id"]) for row in rows):
        letter = app.repository.get(letter_id)
        if letter.pending is not None:
            app.handle(
                ctx, c.RecordLetterDispatch(letter_id, letter.pending, "file", f"file-{letter_id}", at)
            )
        if app.repository.get(letter_id).undelivered:
            app.handle(ctx, c.RecordLetterOpened(letter_id, at, "channel"))
        delivered += 1
    api.position = max(api.position, app.position())
    return delivered
