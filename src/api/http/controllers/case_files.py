"""A person's case file for a records system (R17): PDF/A by default, JSON on ``Accept: application/json``."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State

from api.http.access import allowed
from api.http.context import Ctx, CurrentActor, Settlement, record_listed
from api.http.reads import Reads
from api.http.schemas import Id, path_id
from api.letters.archive import Reader, case_file, case_file_pdf
from api.letters.render import Renderer
from settlement_domain import commands as c
from settlement_domain.context import Role


def wants_json(request: Request[Any, Any, Any]) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "application/pdf" not in accept


@get(
    "/refugees/{refugee_id:str}/case-file",
    operation_id="getCaseFile",
    sync_to_thread=True,
    tags=["refugees"],
    opt=allowed(Role.IMDI, Role.MUNICIPALITY, Role.AUDITOR),
    media_type="application/pdf",
)
def get_case_file(
    request: Request[Any, Any, Any],
    ctx: Ctx,
    actor: CurrentActor,
    app: Settlement,
    reads: Reads,
    state: State,
    refugee_id: Id,
) -> Response[Any]:
    """The person's case for archiving (R17): every step in words and every letter, as PDF/A-2b, or
    JSON with ``Accept: application/json``. A municipality gets it once it has selected the person,
    limited to its own part (R6); every export is recorded in the audit trail."""
    person = path_id(refugee_id, "person")
    as_json = wants_json(request)
    # The application checks tenancy (404) and R6 (403), and records the export.
    app.handle(ctx, c.RecordCaseFileExport(person, "json" if as_json else "pdf"))
    reader = Reader(actor.municipality if actor.role is Role.MUNICIPALITY else None)
    found = case_file(app, reads.engine, person, reader)
    # R14: the file shows the person and the persons its letters name: one PersonalDataListed.
    shown = [person, *(p for letter in found["letters"] for p in letter.get("person_ids", []))]
    record_listed(app, ctx, "GET /refugees/{id}/case-file", shown)
    if as_json:
        return Response(found, media_type="application/json")
    pdf = case_file_pdf(Renderer(state.settings.letter_font_dir), app, found)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="saksmappe-{person}.pdf"'},
    )
