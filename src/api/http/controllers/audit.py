"""The audit trail (R14): every event, who caused it and when, searchable and newest first."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import FromQuery, QueryParameter

from api.http.access import allowed, municipality_scope
from api.http.context import CurrentActor, Settlement
from api.http.errors import problem_locale
from api.http.reads import Reads
from api.http.schemas import Cursor, Limit, Model, MunicipalityNumber, Page, instant
from api.messages import audit_summaries
from projections.audit_trail import audit_events
from settlement_domain.context import Role
from settlement_domain.read_retention import readable_from

SearchText = Annotated[str | None, QueryParameter(max_length=200)]


class AuditActor(Model):
    """Who caused an event."""

    sub: str | None
    role: str | None
    municipality: str | None


class AuditEvent(Model):
    """One event of the log as the audit trail shows it."""

    position: int
    recorded_at: datetime
    type: str
    aggregate_id: str
    person_id: str | None
    municipality: str | None
    actor: AuditActor
    correlation_id: str | None
    summary: str

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> AuditEvent:
        return cls.model_validate(
            {
                **{k: row[k] for k in cls.model_fields if k != "actor"},
                "actor": AuditActor.from_row(row["actor"]),
            }
        )


class AuditPage(Page[AuditEvent]):
    """One page of the audit trail, and how far back read records name their persons (R14)."""

    reads_from: date
    """Read records (``PersonFolderViewed``, ``PersonalDataListed``) recorded before this day are
    kept but no longer name the persons whose data was read: their month's key has expired (R14)."""


class AuditController(Controller):
    """Audit trail search."""

    path = "/audit"
    tags = ("audit",)

    @get(
        "/events",
        operation_id="searchAuditEvents",
        sync_to_thread=True,
        opt=allowed(Role.IMDI, Role.AUDITOR, Role.MUNICIPALITY),
    )
    def events(
        self,
        request: Request,
        actor: CurrentActor,
        app: Settlement,
        reads: Reads,
        person: Annotated[str | None, QueryParameter(max_length=100, description="A person's id")] = None,
        municipality: FromQuery[MunicipalityNumber | None] = None,
        actor_sub: Annotated[
            str | None,
            QueryParameter(name="actor", max_length=200, description="The subject (user id) who acted"),
        ] = None,
        event_type: Annotated[
            str | None,
            QueryParameter(name="type", max_length=100, description="An event type, like SettlementDecided"),
        ] = None,
        recorded_from: Annotated[datetime | None, QueryParameter(name="from")] = None,
        recorded_to: Annotated[datetime | None, QueryParameter(name="to", description="Exclusive")] = None,
        q: SearchText = None,
        correlation_id: Annotated[
            str | None, QueryParameter(max_length=128, description="The X-Correlation-ID of a request")
        ] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> AuditPage:
        """Search the audit trail, newest first (imdi, auditor; a municipality sees its own cases)."""
        own = None
        if actor.role is Role.MUNICIPALITY:
            municipality_scope(actor, municipality)  # another municipality's number: 404
            own = actor.municipality
        found = reads.query(
            audit_events,
            person=person,
            municipality=municipality,
            own_cases_of=own,
            actor=actor_sub,
            type=event_type,
            recorded_from=instant(recorded_from, "from"),
            recorded_to=instant(recorded_to, "to"),
            q=q,
            correlation_id=correlation_id,
            cursor=cursor,
            limit=limit,
        )
        # Each summary in the reader's language (bokmål unless Accept-Language asks for English).
        found = {**found, "items": audit_summaries(problem_locale(request), found["items"])}
        page = Page[AuditEvent].of(found, AuditEvent)
        reads_from = readable_from(app.personal_keys, app.clock(), app.read_retention_years)
        return AuditPage(items=page.items, next_cursor=page.next_cursor, reads_from=reads_from)
