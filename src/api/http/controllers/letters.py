"""Letters (R9): request, selection and decision letters and how they were delivered."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from litestar import Controller, get
from litestar.params import FromQuery, QueryParameter

from api.http.access import allowed, municipality_scope
from api.http.context import CurrentActor
from api.http.reads import Reads
from api.http.schemas import Cursor, Limit, Model, MunicipalityNumber, Page
from projections.letters import letters
from settlement_domain.context import Role


class LetterView(Model):
    """A letter and its delivery: digital (sent, not yet opened), opened, or posted."""

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


class LetterController(Controller):
    """Letters to municipalities and persons."""

    path = "/letters"
    tags = ("letters",)

    @get("/", operation_id="listLetters", sync_to_thread=True, opt=allowed(Role.MUNICIPALITY, Role.IMDI))
    def list_letters(
        self,
        actor: CurrentActor,
        reads: Reads,
        municipality: Annotated[MunicipalityNumber | None, QueryParameter(name="municipality")] = None,
        status: FromQuery[Literal["digital", "opened", "posted"] | None] = None,
        cursor: Cursor = None,
        limit: Limit = 100,
    ) -> Page[LetterView]:
        """Letters, newest first, with their delivery state (own municipality, imdi)."""
        found = reads.query(
            letters, municipality_scope(actor, municipality), status=status, cursor=cursor, limit=limit
        )
        return Page[LetterView].of(found, LetterView)
