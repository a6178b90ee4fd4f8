"""Given-steps shared by the application tests: actors, municipalities, persons, lists."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID

from settlement_domain.application import SettlementApp
from settlement_domain.context import Role
from tests.conftest import TODAY, ctx_for

IMDI = ctx_for(Role.IMDI, sub="ingrid")
RECEPTION = ctx_for(Role.RECEPTION, sub="mottak-system")
AUDITOR = ctx_for(Role.AUDITOR, sub="riksrevisjonen")
OSLO = ctx_for(Role.MUNICIPALITY, "0301", sub="kari")
BERGEN = ctx_for(Role.MUNICIPALITY, "4601", sub="per")

ADDRESS = {"street": "Storgata 1", "postal_code": "0155", "city": "Oslo"}
RECEPTION_CENTRE = {"kind": "reception_centre", "centre_id": "mottak-hvalstad"}
PRIVATE = {"kind": "private"}


def municipalities(app: SettlementApp) -> None:
    app.register_municipality(IMDI, "0301", "Oslo", "Oslo")
    app.register_municipality(IMDI, "4601", "Bergen", "Vestland")


def quota(app: SettlementApp, number: str = "0301", persons: int = 10, minors: int = 2, year: int = 2025) -> None:
    app.request_settlement(IMDI, number, year, persons + 2, minors)
    app.decide_quota(IMDI, number, year, persons, minors, TODAY - timedelta(days=30))


def person(
    app: SettlementApp,
    *,
    family_id: str | None = None,
    minor: bool = False,
    private: bool = False,
    birth_date: date = date(1990, 5, 17),
    name: str = "Test Person",
) -> UUID:
    if minor:
        birth_date = date(TODAY.year - 16, 3, 1)
    result = app.register_refugee(
        RECEPTION,
        full_name=name,
        birth_date=birth_date,
        family_id=family_id,
        unaccompanied_minor=minor,
        residence=PRIVATE if private else RECEPTION_CENTRE,
        postal_address=ADDRESS,
        category="asylum",
    )
    return UUID(result.id)


def distribution_list(app: SettlementApp, municipality: str, ids: list[UUID], days: int = 14) -> UUID:
    result = app.create_distribution_list(IMDI, municipality, ids, TODAY + timedelta(days=days))
    return UUID(result.id)


def selected(app: SettlementApp, municipality_ctx: Any, ids: list[UUID]) -> UUID:
    """Proposes ``ids`` to the actor's municipality, which accepts them all."""
    list_id = distribution_list(app, municipality_ctx.actor.municipality, ids)
    app.approve_distribution_list(municipality_ctx, list_id, ids, {})
    return list_id


def events_since(app: SettlementApp, position: int) -> list[Any]:
    """The domain events appended after ``position``, in log order."""
    notifications = app.recorder.select_notifications(position + 1, 10_000)
    return [app.mapper.to_domain_event(n) for n in notifications]


def types_since(app: SettlementApp, position: int) -> list[str]:
    return [type(e).__name__ for e in events_since(app, position)]
