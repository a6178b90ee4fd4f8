"""The municipality's page: contact information, requests and decisions, places per year (R10, R19),
the request (R1, IMDi) and the quota decision (R2); and IMDi's list of municipalities."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath

from api.http.access import EVERYONE, allowed, municipality_scope, sends
from api.http.controllers.municipalities import Places
from api.web.i18n import N_
from api.web.pages.base import actor, form_of, may, reads, send
from api.web.render import Form, done, page, refuse, translate
from projections.completeness import completeness
from projections.municipalities import municipalities, municipality
from projections.places import places
from projections.reports import requests_and_decisions
from settlement_domain import commands as c
from settlement_domain.context import Role
from settlement_domain.errors import NotFound, RuleViolation
from settlement_domain.values import ContactInformation, PostalAddress

FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
PLACE_READERS = allowed(Role.MUNICIPALITY, Role.IMDI, Role.AUDITOR)
CONTACT_FIELDS = {
    "contact_person": "contact_person",
    "email": "email",
    "phone": "phone",
    "postal_address.street": "street",
    "postal_address.postal_code": "postal_code",
    "postal_address.city": "city",
}
FIGURE_FIELDS = {"persons": "persons", "unaccompanied_minors": "minors", "decided_on": "decided_on"}
REQUEST_FIELDS = {
    "year": "request_year",
    "persons": "request_persons",
    "unaccompanied_minors": "request_minors",
    "reason": "reason",
}


@get("/municipalities", opt=allowed(*EVERYONE), sync_to_thread=True, name="web_municipalities")
def municipality_list(request: Request) -> Response[str]:
    found = reads(request).query(municipalities)
    return page(
        request, "municipalities.html", title=translate(request, "Municipalities"), municipalities=found
    )


def _registered(request: Request, number: str) -> dict[str, Any]:
    number = municipality_scope(actor(request), number) or number  # another municipality's: 404
    found = reads(request).query(municipality, number)
    if found is None:
        raise NotFound("municipality", number)
    return found


def _municipality_page(
    request: Request, number: str, *, request_form: Form | None = None, quota_form: Form | None = None
) -> Response[str]:
    registered = _registered(request, number)
    models = reads(request)
    rows = models.query(places, municipality=number, year=None)
    history = models.query(requests_and_decisions, municipality=number)
    years = {r["year"] for r in rows} | {h["year"] for h in history}
    complete = models.query(completeness, years)
    status = 422 if (request_form and not request_form.ok) or (quota_form and not quota_form.ok) else 200
    return page(
        request,
        "municipality.html",
        status=status,
        title=f"{registered['name']} ({registered['number']})",
        municipality=registered,
        places=[Places.of(row).marked(complete(number, row["year"])) for row in rows],
        history=sorted(history, key=lambda h: -h["year"]),
        complete=complete,
        request_form=request_form or Form(),
        quota_form=quota_form or Form(),
        today=request.app.state.settlement.clock(),
        may_request=may(request, c.RequestSettlement),
        may_decide=may(request, c.DecideQuota),
        may_update_contact=may(request, c.UpdateContact),
    )


@get("/municipalities/{number:str}", opt=PLACE_READERS, sync_to_thread=True)
def municipality_page(request: Request, number: FromPath[str]) -> Response[str]:
    return _municipality_page(request, number)


def _figures(form: Form, request: Request, prefix: str = "") -> tuple[int, int, int]:
    year = form.whole(
        f"{prefix}year", translate(request, "Give the year as four digits."), low=2000, high=2100
    )
    persons = form.whole(f"{prefix}persons", translate(request, "Give the number of persons (0 or more)."))
    minors = form.whole(
        f"{prefix}minors", translate(request, "Give the number of unaccompanied minors (0 or more).")
    )
    return year, persons, minors


@post("/municipalities/{number:str}/requests", opt=sends(c.RequestSettlement), sync_to_thread=True)
def request_settlement(request: Request, number: FromPath[str], data: FormData) -> Response[Any]:
    _registered(request, number)
    form = form_of(data)
    year, persons, minors = _figures(form, request, "request_")
    reason = form.text("reason", "", required=False)
    if form.ok:
        try:
            send(request, c.RequestSettlement(number, year, persons, minors, reason or None), form)
        except RuleViolation as error:
            refuse(request, form, error, REQUEST_FIELDS)
        else:
            return done(
                request, f"/municipalities/{number}", N_("The request for %(year)s is sent."), year=year
            )
    return _municipality_page(request, number, request_form=form)


@post("/municipalities/{number:str}/quota", opt=sends(c.DecideQuota), sync_to_thread=True)
def decide_quota(request: Request, number: FromPath[str], data: FormData) -> Response[Any]:
    _registered(request, number)
    form = form_of(data)
    year, persons, minors = _figures(form, request)
    decided_on = form.day("decided_on", translate(request, "Give the date of the decision, like 30.11.2026."))
    if form.ok:
        try:
            send(request, c.DecideQuota(number, year, persons, minors, decided_on), form)
        except RuleViolation as error:
            refuse(request, form, error, {**FIGURE_FIELDS, "year": "year"})
        else:
            return done(
                request, f"/municipalities/{number}", N_("The decision for %(year)s is recorded."), year=year
            )
    return _municipality_page(request, number, quota_form=form)


def _contact_form(registered: dict[str, Any]) -> Form:
    contact = registered.get("contact") or {}
    address = contact.get("postal_address") or {}
    return Form(
        values={
            "contact_person": contact.get("contact_person", ""),
            "email": contact.get("email", ""),
            "phone": contact.get("phone", ""),
            "street": address.get("street", ""),
            "postal_code": address.get("postal_code", ""),
            "city": address.get("city", ""),
        }
    )


def _contact_page(request: Request, registered: dict[str, Any], form: Form) -> Response[str]:
    return page(
        request,
        "contact.html",
        status=200 if form.ok else 422,
        title=translate(request, "Contact information"),
        municipality=registered,
        form=form,
    )


@get("/municipalities/{number:str}/contact", opt=allowed(Role.MUNICIPALITY, Role.IMDI), sync_to_thread=True)
def contact_page(request: Request, number: FromPath[str]) -> Response[str]:
    registered = _registered(request, number)
    return _contact_page(request, registered, _contact_form(registered))


@post("/municipalities/{number:str}/contact", opt=sends(c.UpdateContact), sync_to_thread=True)
def update_contact(request: Request, number: FromPath[str], data: FormData) -> Response[Any]:
    registered = _registered(request, number)
    form = form_of(data)
    person = form.text("contact_person", translate(request, "Give the contact person's name."))
    email = form.text("email", translate(request, "Give an e-mail address."))
    phone = form.text("phone", translate(request, "Give a phone number."))
    street = form.text("street", translate(request, "Give the street address."))
    postal_code = form.text("postal_code", translate(request, "Give the postal code (4 digits)."))
    city = form.text("city", translate(request, "Give the postal town."))
    if form.ok:
        try:
            contact = ContactInformation(
                person, email, phone, PostalAddress(street, postal_code, city, rule="registry")
            )
            send(request, c.UpdateContact(number, contact), form)
        except RuleViolation as error:
            refuse(request, form, error, CONTACT_FIELDS)
        else:
            return done(request, f"/municipalities/{number}", N_("The contact information is saved."))
    return _contact_page(request, registered, form)
