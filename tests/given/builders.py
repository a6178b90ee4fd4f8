"""Given-steps: commands with sensible defaults, sent through the application service."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID

from settlement_domain import commands as c
from settlement_domain.application import SettlementApp
from settlement_domain.context import CommandContext
from settlement_domain.values import Category, ContactInformation, PostalAddress, Residence, ResidenceKind
from tests.given.actors import IMDI, RECEPTION, TODAY

ADDRESS = {"street": "Storgata 1", "postal_code": "0155", "city": "Oslo"}
RECEPTION_CENTRE = {"kind": "reception_centre", "centre_id": "mottak-hvalstad"}
PRIVATE = {"kind": "private"}


def address(**changes: str) -> PostalAddress:
    return PostalAddress(**{**ADDRESS, **changes})


def registration(
    *,
    name: str = "Test Person",
    birth_date: date = date(1990, 5, 17),
    family_id: str | None = None,
    minor: bool = False,
    private: bool = False,
    category: Category | str = Category.ASYLUM,
    duf_number: str | None = None,
) -> c.RegisterRefugee:
    """The command registering one person (a minor is 16 on TODAY)."""
    if minor:
        birth_date = date(TODAY.year - 16, 3, 1)
    residence = (
        Residence(ResidenceKind.PRIVATE)
        if private
        else Residence(ResidenceKind.RECEPTION_CENTRE, "mottak-hvalstad")
    )
    return c.RegisterRefugee(
        full_name=name,
        birth_date=birth_date,
        family_id=family_id,
        unaccompanied_minor=minor,
        residence=residence,
        postal_address=address(),
        category=category,
        duf_number=duf_number,
    )


def municipalities(app: SettlementApp) -> None:
    """Given Oslo (0301) and Bergen (4601) are registered."""
    app.handle(IMDI, c.RegisterMunicipality("0301", "Oslo", "Oslo"))
    app.handle(IMDI, c.RegisterMunicipality("4601", "Bergen", "Vestland"))


def quota(
    app: SettlementApp, number: str = "0301", persons: int = 10, minors: int = 2, year: int = 2025
) -> None:
    """Given IMDi requested a little more than the municipality then decided (persons, of which minors)."""
    app.handle(IMDI, c.RequestSettlement(number, year, persons + 2, minors))
    app.handle(IMDI, c.DecideQuota(number, year, persons, minors, TODAY - timedelta(days=30)))


def decided_quota(
    app: SettlementApp,
    number: str = "0301",
    persons: int = 10,
    minors: int = 2,
    year: int = 2025,
    ctx: CommandContext = IMDI,
) -> None:
    """Given the municipality decided (or revised) its quota for ``year``, without a request first."""
    app.handle(ctx, c.DecideQuota(number, year, persons, minors, TODAY - timedelta(days=1)))


def contact(**changes: Any) -> ContactInformation:
    """Oslo's contact information (``changes`` replace fields; make it inside ``refused`` when malformed)."""
    fields: dict[str, Any] = {
        "contact_person": "Kari Nordmann",
        "email": "kari@oslo.kommune.no",
        "phone": "+47 21 80 21 80",
        "postal_address": PostalAddress(**ADDRESS, rule="registry"),
    }
    return ContactInformation(**{**fields, **changes})


def capacity_report(**changes: Any) -> c.ReportMinorCapacity:
    """Oslo reports two places for minors aged 15-17 in week 30 of 2025 (``changes`` replace fields)."""
    fields: dict[str, Any] = {
        "municipality": "0301",
        "places": 2,
        "expected_week": "2025-W30",
        "min_age": 15,
        "max_age": 17,
        "round_the_clock_staffing": True,
        "special_conditions": "Near upper secondary school",
    }
    return c.ReportMinorCapacity(**{**fields, **changes})


def person(app: SettlementApp, **kwargs: Any) -> UUID:
    """Given a registered person (see :func:`registration` for the options); returns the id."""
    return UUID(app.handle(RECEPTION, registration(**kwargs)).id)


def distribution_list(
    app: SettlementApp, municipality: str, ids: list[UUID], days: int = 14, year: int | None = None
) -> UUID:
    """Given IMDi proposed ``ids`` to the municipality, to answer within ``days``."""
    result = app.handle(
        IMDI, c.CreateDistributionList(municipality, tuple(ids), TODAY + timedelta(days=days), year)
    )
    return UUID(result.id)


def selected(
    app: SettlementApp, municipality_ctx: CommandContext, ids: list[UUID], year: int | None = None
) -> UUID:
    """Given ``ids`` were proposed to the actor's municipality, which accepted them all (R4: the
    municipality needs vacant places of the list's year)."""
    list_id = distribution_list(app, municipality_ctx.actor.municipality or "", ids, year=year)
    app.handle(municipality_ctx, c.ApproveDistributionList(list_id, tuple(ids)))
    return list_id


def decided(
    app: SettlementApp,
    refugee_id: UUID,
    municipality: str = "0301",
    year: int | None = None,
    override_reason: str | None = None,
) -> None:
    """Given IMDi decided that the (selected) person is settled in the municipality (R5)."""
    app.handle(IMDI, c.DecideSettlement(refugee_id, municipality, year, override_reason))


def events_since(app: SettlementApp, position: int) -> list[Any]:
    """The domain events appended after ``position``, in log order."""
    notifications = app.recorder.select_notifications(position + 1, 10_000)
    return [app.mapper.to_domain_event(n) for n in notifications]


def types_since(app: SettlementApp, position: int) -> list[str]:
    return [type(e).__name__ for e in events_since(app, position)]
