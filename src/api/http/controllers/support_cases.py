"""Support cases (melde inn sak): a municipality asks, IMDi answers and closes (R16)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from api.http.access import allowed, check_owner, municipality_scope, sends
from api.http.context import Ctx, CurrentActor, Settlement, written
from api.http.reads import Reads
from api.http.schemas import (
    Cursor,
    Flag,
    Id,
    Limit,
    Model,
    MunicipalityNumber,
    Page,
    ShortText,
    Text,
    Written,
    path_id,
)
from projections.support_cases import support_case, support_cases
from settlement_domain import commands as c
from settlement_domain.context import Role
from settlement_domain.errors import NotFound


class NewSupportCase(Model):
    """A question or problem for IMDi."""

    subject: ShortText
    text: Text


class Answer(Model):
    """IMDi's answer; ``close`` closes the case."""

    text: Text
    close: Flag


class SupportCaseView(Model):
    """A support case with IMDi's answers."""

    case_id: str
    municipality: str
    subject: str
    text: str
    status: str
    answers: list[dict[str, Any]]
    filed_by: str | None
    filed_at: datetime
    updated_at: datetime | None


READERS = allowed(Role.MUNICIPALITY, Role.IMDI)


class SupportCaseController(Controller):
    """Support cases."""

    path = "/support-cases"
    tags = ("support cases",)

    @post("/", operation_id="fileSupportCase", sync_to_thread=True, opt=sends(c.FileSupportCase))
    def file(self, ctx: Ctx, app: Settlement, data: JSONBody[NewSupportCase]) -> Response[Written]:
        """File a support case to IMDi (municipality, R16)."""
        return written(app.handle(ctx, c.FileSupportCase(data.subject, data.text)))

    @post(
        "/{case_id:str}/answer",
        operation_id="answerSupportCase",
        sync_to_thread=True,
        opt=sends(c.AnswerSupportCase),
    )
    def answer(
        self, ctx: Ctx, app: Settlement, case_id: FromPath[Id], data: JSONBody[Answer]
    ) -> Response[Written]:
        """Answer a support case, and close it if ``close`` (imdi, R16)."""
        command = c.AnswerSupportCase(path_id(case_id, "support case"), data.text, data.close)
        return written(app.handle(ctx, command))

    @get("/", operation_id="listSupportCases", sync_to_thread=True, opt=READERS)
    def list_cases(
        self,
        actor: CurrentActor,
        reads: Reads,
        municipality: Annotated[MunicipalityNumber | None, QueryParameter(name="municipality")] = None,
        status: FromQuery[Literal["open", "answered", "closed"] | None] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[SupportCaseView]:
        """Support cases, newest first (own municipality, imdi)."""
        found = reads.query(
            support_cases, municipality_scope(actor, municipality), status=status, cursor=cursor, limit=limit
        )
        return Page[SupportCaseView].of(found, SupportCaseView)

    @get("/{case_id:str}", operation_id="getSupportCase", sync_to_thread=True, opt=READERS)
    def get_case(self, actor: CurrentActor, reads: Reads, case_id: FromPath[Id]) -> SupportCaseView:
        """One support case with its answers (own municipality, imdi)."""
        found = reads.query(support_case, case_id)
        if found is None:
            raise NotFound("support case", case_id)
        check_owner(actor, found["municipality"], "support case", case_id)
        return SupportCaseView.from_row(found)
