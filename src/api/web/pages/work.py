"""Capacity for unaccompanied minors over 15 (R11), letters (R9), support cases to IMDi (R16) and
IMDi's imports (R15)."""

from __future__ import annotations

import unicodedata
from pathlib import PurePosixPath
from typing import Annotated, Any
from uuid import UUID

import anyio.to_thread
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import PermissionDeniedException
from litestar.params import Body, FromPath

from api.http.access import allowed, check_owner, sends
from api.http.controllers.imports import (
    DEFAULT_FILE_NAME,
    MAX_UPLOAD_BYTES,
    Upload,
    check_may_import,
    job_view,
    jobs_of,
    recorded_view,
    submit_upload,
)
from api.http.errors import Busy
from api.messages import translate as explain_text
from api.web.csrf import csrf_matches
from api.web.i18n import N_
from api.web.pages.base import actor, form_of, may, reads, send
from api.web.render import Form, done, locale_of, page, refuse, translate
from projections.imports import imported, imports
from projections.letters import letters
from projections.minor_capacity import minor_capacity_reports
from projections.support_cases import support_case, support_cases
from settlement_domain import commands as c
from settlement_domain.context import Role
from settlement_domain.errors import NotFound, RuleViolation

FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
SHOWN = 200
IMPORT_STATES = {
    "running": N_("running"),
    "imported": N_("imported"),
    "already_imported": N_("imported before"),
    "refused": N_("refused"),
    "validated": N_("checked (dry run)"),
    "failed": N_("failed"),
}
CAPACITY_FIELDS = {
    "places": "places",
    "expected_week": "expected_week",
    "min_age": "min_age",
    "max_age": "max_age",
    "special_conditions": "special_conditions",
}


def _id(value: str, kind: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise NotFound(kind, value) from None


def _capacity_page(request: Request, form: Form | None = None) -> Response[str]:
    user = actor(request)
    found = reads(request).query(minor_capacity_reports, user.municipality, open_only=False, limit=SHOWN)
    form = form or Form(values={"min_age": "15", "max_age": "17", "places": "1"})
    return page(
        request,
        "capacity.html",
        status=200 if form.ok else 422,
        title=translate(request, "Capacity for unaccompanied minors"),
        reports=found["items"],
        form=form,
        may_report=may(request, c.ReportMinorCapacity),
    )


@get("/capacity", opt=allowed(Role.MUNICIPALITY, Role.IMDI), sync_to_thread=True)
def capacity_page(request: Request) -> Response[str]:
    return _capacity_page(request)


@post("/capacity", opt=sends(c.ReportMinorCapacity), sync_to_thread=True)
def report_capacity(request: Request, data: FormData) -> Response[Any]:
    form = form_of(data)
    places = form.whole("places", translate(request, "Give the number of places (1 or more)."), low=1)
    week = form.text(
        "expected_week", translate(request, "Give the expected week, like 2026-W14."), max_length=20
    )
    low = form.whole("min_age", translate(request, "Give the lowest age (15 to 17)."), high=17)
    high = form.whole("max_age", translate(request, "Give the highest age (15 to 17)."), high=17)
    staffed = form.checked("round_the_clock")
    conditions = form.text("special_conditions", "", required=False)
    if form.ok:
        try:
            command = c.ReportMinorCapacity(
                actor(request).municipality or "", places, week, low, high, staffed, conditions
            )
            send(request, command, form)
        except RuleViolation as error:
            refuse(request, form, error, CAPACITY_FIELDS)
        else:
            return done(request, "/capacity", N_("The capacity is reported to IMDi."))
    return _capacity_page(request, form)


@post("/capacity/{capacity_id:str}/withdrawal", opt=sends(c.WithdrawMinorCapacity), sync_to_thread=True)
def withdraw_capacity(request: Request, capacity_id: FromPath[str], data: FormData) -> Response[Any]:
    form = form_of(data)
    field = f"reason-{capacity_id}"
    reason = form.text(field, translate(request, "Give the reason for withdrawing the report."))
    if form.ok:
        try:
            send(request, c.WithdrawMinorCapacity(_id(capacity_id, "capacity report"), reason), form)
        except RuleViolation as error:
            refuse(request, form, error, {"reason": field})
        else:
            return done(request, "/capacity", N_("The capacity report is withdrawn."))
    return _capacity_page(request, form)


@post("/capacity/{capacity_id:str}/filled", opt=sends(c.MarkMinorCapacityFilled), sync_to_thread=True)
def capacity_filled(request: Request, capacity_id: FromPath[str], data: FormData) -> Response[Any]:
    form = form_of(data)
    try:
        send(request, c.MarkMinorCapacityFilled(_id(capacity_id, "capacity report")), form)
    except RuleViolation as error:
        refuse(request, form, error)
        return _capacity_page(request, form)
    return done(request, "/capacity", N_("The capacity report is marked filled."))


@get("/letters", opt=allowed(Role.MUNICIPALITY, Role.IMDI), sync_to_thread=True)
def letters_page(request: Request) -> Response[str]:
    found = reads(request).query(letters, actor(request).municipality, limit=SHOWN)
    return page(request, "letters.html", title=translate(request, "Letters"), letters=found["items"])


def _support_page(request: Request, form: Form | None = None) -> Response[str]:
    status = request.query_params.get("status")
    found = reads(request).query(
        support_cases,
        actor(request).municipality,
        status=status if status in ("open", "answered", "closed") else None,
        limit=SHOWN,
    )
    form = form or Form()
    return page(
        request,
        "support.html",
        status=200 if form.ok else 422,
        title=translate(request, "Support cases"),
        cases=found["items"],
        form=form,
        may_file=may(request, c.FileSupportCase),
    )


@get("/support", opt=allowed(Role.MUNICIPALITY, Role.IMDI), sync_to_thread=True)
def support_page(request: Request) -> Response[str]:
    return _support_page(request)


@post("/support", opt=sends(c.FileSupportCase), sync_to_thread=True)
def file_case(request: Request, data: FormData) -> Response[Any]:
    form = form_of(data)
    subject = form.text("subject", translate(request, "Give a subject."), max_length=200)
    text = form.text("text", translate(request, "Describe the question or problem."))
    if form.ok:
        try:
            result = send(request, c.FileSupportCase(subject, text), form)
        except RuleViolation as error:
            refuse(request, form, error, {"subject": "subject", "text": "text"})
        else:
            return done(request, f"/support/{result.id}", N_("The case is sent to IMDi."))
    return _support_page(request, form)


def _case_page(request: Request, case_id: str, form: Form | None = None) -> Response[str]:
    _id(case_id, "support case")
    found = reads(request).query(support_case, case_id)
    if found is None:
        raise NotFound("support case", case_id)
    check_owner(actor(request), found["municipality"], "support case", case_id)
    form = form or Form()
    return page(
        request,
        "support_case.html",
        status=200 if form.ok else 422,
        title=found["subject"],
        case=found,
        form=form,
        may_answer=may(request, c.AnswerSupportCase) and found["status"] != "closed",
    )


@get("/support/{case_id:str}", opt=allowed(Role.MUNICIPALITY, Role.IMDI), sync_to_thread=True)
def case_page(request: Request, case_id: FromPath[str]) -> Response[str]:
    return _case_page(request, case_id)


@post("/support/{case_id:str}/answer", opt=sends(c.AnswerSupportCase), sync_to_thread=True)
def answer_case(request: Request, case_id: FromPath[str], data: FormData) -> Response[Any]:
    form = form_of(data)
    text = form.text("answer", translate(request, "Write the answer."))
    close = form.checked("close")
    if form.ok:
        try:
            send(request, c.AnswerSupportCase(_id(case_id, "support case"), text, close), form)
        except RuleViolation as error:
            refuse(request, form, error, {"text": "answer"})
        else:
            return done(request, f"/support/{case_id}", N_("The answer is sent."))
    return _case_page(request, case_id, form)


def _one_line(text: str) -> bool:
    """One line of at most 300 characters with no control character (the API's ``ShortText``)."""
    return len(text) <= 300 and not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text)


def _imports_page(request: Request, form: Form | None = None) -> Response[str]:
    """The imports recorded in the log and this server's uploads not recorded (running, refused, dry
    runs), newest first, as ``GET /api/v1/imports`` lists them; and the upload form."""
    rows = {row["import_id"]: row for row in reads(request).query(imports)}
    jobs = {job.id: job for job in jobs_of(request).all()}
    found = [recorded_view(row) for key, row in rows.items() if key not in jobs]
    found += [job_view(job, rows.get(job.id)) for job in jobs.values()]
    found.sort(key=lambda view: view.get("started_at") or view["recorded_at"], reverse=True)
    form = form or Form()
    return page(
        request,
        "imports.html",
        status=200 if form.ok else 422,
        title=translate(request, "Imports"),
        imports=found,
        states=IMPORT_STATES,
        form=form,
    )


@get("/imports", opt=allowed(Role.IMDI), sync_to_thread=True)
def imports_page(request: Request) -> Response[str]:
    return _imports_page(request)


@post(
    "/imports",
    opt={**sends(c.RecordImport), "exclude_from_csrf": True},  # checked below, after the role
    request_max_body_size=MAX_UPLOAD_BYTES,
)
async def upload_import(request: Request) -> Response[Any]:
    """A file of IMDi's statistics or a person-level history, imported as ``POST /api/v1/imports`` does
    (R15): the import runs in the background and its page follows it. The role is checked before the
    body is read (up to 256 MB), and the form's CSRF token after, as the middleware would."""
    check_may_import(request)
    data = await request.form()
    if not csrf_matches(request, data.get("_csrf_token")):
        raise PermissionDeniedException("CSRF token verification failed")
    part = data.get("file")
    form = Form(values={k: v for k, v in data.items() if k not in ("file", "_csrf_token")})
    content = b""
    file_name = ""
    if isinstance(part, UploadFile):
        content = await part.read()
        await part.close()
        file_name = PurePosixPath((part.filename or "").replace("\\", "/")).name.strip()
    if not content.strip():
        form.errors["file"] = translate(request, "Choose the file to import.")
    elif not _one_line(file_name):
        form.errors["file"] = translate(request, "The file's name is too long or not one line.")
    reason = translate(request, "The reason is one line of at most 300 characters.")
    revise = form.text("revise", reason, required=form.checked("revise_on"), max_length=300)
    if revise and not _one_line(revise):
        form.errors["revise"] = reason
    if not form.ok:
        return await anyio.to_thread.run_sync(_imports_page, request, form)
    upload = Upload(
        content=content,
        file_name=file_name or DEFAULT_FILE_NAME,
        dry_run=form.checked("dry_run"),
        skip_invalid=form.checked("skip_invalid"),
        revise=revise if form.checked("revise_on") else None,
    )
    try:
        answer = await anyio.to_thread.run_sync(submit_upload, request, upload)
    except RuleViolation as error:
        refuse(request, form, error, {"file": "file"})
        return await anyio.to_thread.run_sync(_imports_page, request, form)
    except Busy:
        form.general.append(translate(request, "Too many imports are running or waiting; try again shortly."))
        return await anyio.to_thread.run_sync(_imports_page, request, form)
    detail = answer.content
    if detail.state == "already_imported":
        return done(request, "/imports", N_("This file was imported before; nothing was changed."))
    return done(request, f"/imports/{detail.id}", N_("The import has started."))


def _import_message(request: Request, view: dict[str, Any], report: dict[str, Any]) -> str:
    """What the caseworker is told about the import's outcome, in the words of the page (the API's
    message names its query options)."""
    state = view["state"]
    if state == "refused" and report:
        return translate(
            request,
            "Nothing was imported: the file has rows with errors or figures that contradict the stored ones "
            "(listed below). Correct the file and import it again, or choose to import the good rows, or to "
            "record the differing figures as revisions.",
        )
    if state == "failed":
        return translate(
            request,
            "The import failed on our side and nothing is stored. Import the file again, or ask the operator.",
        )
    return explain_text(locale_of(request), view.get("message") or "")


@get("/imports/{import_id:str}", opt=allowed(Role.IMDI), sync_to_thread=True)
def import_page(request: Request, import_id: FromPath[str]) -> Response[str]:
    """One import: while it runs, the page refreshes itself every two seconds (no script needed)."""
    key = str(_id(import_id, "import"))
    job = jobs_of(request).get(key)
    row = reads(request).query(imported, key)
    if job is not None:
        view = job_view(job, row, detail=True)
    elif row is not None:
        view = recorded_view(row)
    else:
        raise NotFound("import", import_id)
    report = view.get("report") or {}
    locale = locale_of(request)
    return page(
        request,
        "import.html",
        title=translate(request, "Import of %(file)s", file=view["file_name"]),
        view=view,
        state=translate(request, IMPORT_STATES.get(view["state"], view["state"])),
        running=view["state"] == "running",
        message=_import_message(request, view, report),
        bad_rows=[
            {**bad, "reason": explain_text(locale, str(bad.get("reason", "")))}
            for bad in report.get("bad_rows", [])[:SHOWN]
        ],
        bad_count=len(report.get("bad_rows", [])),
        conflicts=[
            {**conflict, "message": explain_text(locale, str(conflict.get("message", "")))}
            for conflict in report.get("conflicts", [])[:SHOWN]
        ],
        conflict_count=len(report.get("conflicts", [])),
        mismatches=report.get("mismatches", [])[:SHOWN],
    )
