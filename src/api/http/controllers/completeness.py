"""Data completeness (R19): IMDi marks a year's data, or one municipality's, as complete."""

from __future__ import annotations

from datetime import datetime

from litestar import Controller, Response, get, post
from litestar.params import JSONBody
from pydantic import Field

from api.http.access import EVERYONE, allowed, sends
from api.http.context import Ctx, Settlement, written
from api.http.reads import Reads
from api.http.schemas import Flag, Model, MunicipalityNumber, Written, Year
from projections.completeness import marks
from settlement_domain import commands as c


class CompletenessMark(Model):
    """A year's data (no municipality: the whole year), or one municipality's, complete or not complete."""

    year: Year
    municipality: MunicipalityNumber | None = Field(default=None, description="Left out: the whole year")
    complete: Flag = True


class MarkWritten(Written):
    """The mark; ``changed`` is false when the data was already marked so."""

    changed: bool


class CompletenessView(Model):
    """One mark as it stands."""

    year: int
    municipality: str | None
    complete: bool
    marked_at: datetime


class CompletenessController(Controller):
    """Completeness marks."""

    path = "/completeness"
    tags = ("completeness",)

    @post("/", operation_id="markCompleteness", sync_to_thread=True, opt=sends(c.MarkCompleteness))
    def mark(self, ctx: Ctx, app: Settlement, data: JSONBody[CompletenessMark]) -> Response[MarkWritten]:
        """Mark a year's data, or one municipality's, as complete (or not); until then places and reports
        say "Datagrunnlaget er ikke komplett" (R19)."""
        return written(
            app.handle(ctx, c.MarkCompleteness(data.year, data.municipality, data.complete)), MarkWritten
        )

    @get("/", operation_id="listCompleteness", sync_to_thread=True, opt=allowed(*EVERYONE))
    def list_marks(self, reads: Reads) -> list[CompletenessView]:
        """Every mark, newest year first (everyone: completeness is no one's secret)."""
        return [CompletenessView.from_row(row) for row in reads.query(marks)]
