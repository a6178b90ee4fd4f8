"""Capacity for unaccompanied minors over 15 (R11), letters (R9), support cases to IMDi (R16) and
IMDi's imports (R15)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath

from api.http.access import allowed, check_owner, sends
from api.web.i18n import N_
from api.web.pages.base import actor, form_of, may, reads, send
from api.web.render import Form, done, page, refuse, translate
from projections.imports import imports
from projections.letters import letters
from projections.minor_capacity import minor_capacity_reports
from projections.support_cases import support_case, support_cases
from settlement_domain import commands as c
from settlement_domain.context import Role
from settlement_domain.errors import NotFound, RuleViolation

FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
SHOWN = 200
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


@get("/imports", opt=allowed(Role.IMDI), sync_to_thread=True)
def imports_page(request: Request) -> Response[str]:
    return page(
        request, "imports.html", title=translate(request, "Imports"), imports=reads(request).query(imports)
    )
