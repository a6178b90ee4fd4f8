"""Letters (R9): request, selection and decision letters, their delivery, and their PDF (R17)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from eventsourcing.domain import Aggregate
from litestar import Controller, Response, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from pydantic import Field

from api.http.access import allowed, check_owner, municipality_scope, sends
from api.http.context import Ctx, CurrentActor, Settlement, record_listed, written
from api.http.reads import Reads
from api.http.schemas import Cursor, Id, Limit, Model, MunicipalityNumber, Page, Written, instant, path_id
from api.letters.render import LetterData, Renderer
from projections.letters import letter, letters
from settlement_domain import commands as c
from settlement_domain.context import Role
from settlement_domain.errors import NotFound
from settlement_domain.model import Letter
from settlement_domain.rules import refuse_input

LETTER_READERS = allowed(Role.MUNICIPALITY, Role.IMDI)


class DeliveryStep(Model):
    """One step of a letter's delivery: issued, dispatched (with the channel's shipment id), failed
    (with the reason and the next attempt), retried, opened, or fell back to post after 48 hours."""

    at: datetime
    event: str
    delivery: str | None
    channel: str | None
    shipment_id: str | None
    reason: str | None
    next_attempt_at: datetime | None


class LetterView(Model):
    """A letter and its delivery: ``pending`` (waiting to be sent, also between retries), ``failed``
    (needs IMDi's attention), ``digital`` (sent, not yet opened), ``opened``, or ``posted``."""

    letter_id: str
    kind: str
    municipality: str
    channel: str
    status: str
    person_ids: list[str]
    year: int | None
    issued_at: datetime
    opened_at: datetime | None
    posted_at: datetime | None
    reference: str | None = None
    letter_date: str | None = None
    dispatched_at: datetime | None = None
    fallback_due_at: datetime | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    failure_reason: str | None = None
    needs_attention: bool = False
    history: list[DeliveryStep] = Field(default_factory=list)


class Opened(Model):
    """IMDi's callback: the letter was opened in Altinn (at ``opened_at``, default now)."""

    opened_at: datetime | None = None


class OpenedWritten(Written):
    """The letter's opening as recorded: when, and whether this call recorded it (false: it was already)."""

    opened_at: datetime
    recorded: bool


Status = Literal["pending", "failed", "digital", "opened", "posted"]
Kind = Literal["request", "selection", "decision_municipality", "decision_person"]


class LetterController(Controller):
    """Letters to municipalities and persons."""

    path = "/letters"
    tags = ("letters",)

    @get("/", operation_id="listLetters", sync_to_thread=True, opt=LETTER_READERS)
    def list_letters(
        self,
        actor: CurrentActor,
        reads: Reads,
        municipality: Annotated[MunicipalityNumber | None, QueryParameter(name="municipality")] = None,
        status: FromQuery[Status | None] = None,
        kind: FromQuery[Kind | None] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[LetterView]:
        """Letters, newest first, with their delivery state and history (own municipality, imdi).
        ``status=failed`` lists the letters that need IMDi's attention."""
        found = reads.query(
            letters,
            municipality_scope(actor, municipality),
            status=status,
            kind=kind,
            cursor=cursor,
            limit=limit,
        )
        return Page[LetterView].of(found, LetterView)

    def _row(self, actor: CurrentActor, reads: Reads, letter_id: str) -> dict:
        path_id(letter_id, "letter")
        row = reads.query(letter, letter_id)
        if row is None:
            raise NotFound("letter", letter_id)
        check_owner(actor, row["municipality"], "letter", letter_id)  # another municipality's: 404
        return row

    @get("/{letter_id:str}", operation_id="getLetter", sync_to_thread=True, opt=LETTER_READERS)
    def get_letter(
        self, ctx: Ctx, actor: CurrentActor, app: Settlement, reads: Reads, letter_id: FromPath[Id]
    ) -> LetterView:
        """One letter with its delivery history (the recipient municipality, imdi); a read of the
        persons it names (R14: one ``PersonalDataListed``)."""
        row = self._row(actor, reads, letter_id)
        record_listed(app, ctx, "GET /letters/{id}", row["person_ids"])
        return LetterView.from_row(row)

    @get(
        "/{letter_id:str}/pdf",
        operation_id="getLetterPdf",
        sync_to_thread=True,
        opt=LETTER_READERS,
        media_type="application/pdf",
    )
    def get_letter_pdf(
        self,
        ctx: Ctx,
        actor: CurrentActor,
        app: Settlement,
        reads: Reads,
        state: State,
        letter_id: FromPath[Id],
    ) -> Response[bytes]:
        """The letter as PDF/A-2b, as its content was fixed when issued (the recipient municipality,
        imdi); a read of the persons it names (R14: one ``PersonalDataListed``)."""
        self._row(actor, reads, letter_id)
        found: Aggregate = app.repository.get(path_id(letter_id, "letter"))
        if not isinstance(found, Letter):
            raise NotFound("letter", letter_id)
        data = LetterData.of(found)
        pdf = Renderer(state.settings.letter_font_dir).letter(data)
        record_listed(app, ctx, "GET /letters/{id}/pdf", data.person_ids)
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{data.file_name}"'},
        )

    @post(
        "/{letter_id:str}/opened",
        operation_id="letterOpened",
        sync_to_thread=True,
        opt=sends(c.RecordLetterOpened),
    )
    def opened(
        self, ctx: Ctx, app: Settlement, letter_id: FromPath[Id], data: JSONBody[Opened]
    ) -> Response[OpenedWritten]:
        """IMDi's callback: the letter was opened in Altinn; a letter opened within 48 hours of its
        dispatch never goes by post (R9). Repeating it changes nothing."""
        at = instant(data.opened_at, "opened_at") or datetime.now(UTC)
        if at > datetime.now(UTC):
            raise refuse_input("R9", "A letter cannot be opened in the future.", "opened_at")
        command = c.RecordLetterOpened(path_id(letter_id, "letter"), at, "callback")
        return written(app.handle(ctx, command), OpenedWritten)

    @post(
        "/{letter_id:str}/retry",
        operation_id="retryLetter",
        sync_to_thread=True,
        opt=sends(c.RetryLetterDelivery),
    )
    def retry(self, ctx: Ctx, app: Settlement, letter_id: FromPath[Id]) -> Response[Written]:
        """Try a letter whose delivery failed again, once the municipality's address is fixed (imdi, R9)."""
        return written(app.handle(ctx, c.RetryLetterDelivery(path_id(letter_id, "letter"))))
