"""Distribution lists: the municipality answers (R4: each person accepted or declined, a family whole,
with reasons); IMDi proposes persons (R3, families whole) and withdraws a list."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath

from api.http.access import allowed, check_owner, sends
from api.web.i18n import N_
from api.web.pages.base import actor, form_of, may, reads, record_shown, send
from api.web.render import Form, done, page, refuse, translate
from projections.distribution_lists import distribution_list, distribution_lists
from projections.municipalities import municipalities
from projections.person_folders import persons_with_status
from settlement_domain import commands as c
from settlement_domain.context import Role
from settlement_domain.errors import NotFound, RuleViolation
from settlement_domain.values import Decline

FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
READERS = allowed(Role.MUNICIPALITY, Role.IMDI)
FREE_PERSONS_SHOWN = 200


def groups(persons: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The persons of a list as the units answered together: a family whole, anyone else alone."""
    found: dict[str, dict[str, Any]] = {}
    for person in persons:
        # A municipality sees a family's opaque reference before selection, IMDi its id (R6).
        family = person.get("family_ref") or person.get("family_id")
        key = f"family-{family}" if family else person["refugee_id"]
        group = found.setdefault(key, {"key": key, "family": bool(family), "persons": []})
        group["persons"].append(person)
    return list(found.values())


@get("/lists", opt=READERS, sync_to_thread=True)
def list_page(request: Request) -> Response[str]:
    user = actor(request)
    status = request.query_params.get("status")
    found = reads(request).query(
        distribution_lists,
        today=request.app.state.settlement.clock(),
        summary_only=user.role is Role.MUNICIPALITY,
        municipality=user.municipality if user.role is Role.MUNICIPALITY else None,
        status=status if status in ("open", "approved", "withdrawn") else None,
        limit=200,
    )
    return page(
        request,
        "lists.html",
        title=translate(request, "Distribution lists"),
        lists=found["items"],
        chosen=status,
        may_create=may(request, c.CreateDistributionList),
    )


def _one(request: Request, list_id: str) -> dict[str, Any]:
    user = actor(request)
    try:
        UUID(list_id)
    except ValueError:
        raise NotFound("distribution list", list_id) from None
    found = reads(request).query(
        distribution_list,
        list_id,
        today=request.app.state.settlement.clock(),
        summary_only=user.role is Role.MUNICIPALITY,
    )
    if found is None:
        raise NotFound("distribution list", list_id)
    check_owner(user, found["municipality"], "distribution list", list_id)
    return found


def _list_page(request: Request, found: dict[str, Any], form: Form | None = None) -> Response[str]:
    form = form or Form()
    record_shown(request, found["refugees"])  # all to IMDi, the selected ones to the municipality
    return page(
        request,
        "list.html",
        status=200 if form.ok else 422,
        title=translate(request, "Distribution list for %(year)s", year=found["year"]),
        found=found,
        groups=groups(found["refugees"]),
        form=form,
        may_approve=may(request, c.ApproveDistributionList) and found["status"] == "open",
        may_withdraw=may(request, c.WithdrawDistributionList) and found["status"] == "open",
    )


@get("/lists/{list_id:str}", opt=READERS, sync_to_thread=True)
def one_list(request: Request, list_id: FromPath[str]) -> Response[str]:
    return _list_page(request, _one(request, list_id))


@post("/lists/{list_id:str}/approval", opt=sends(c.ApproveDistributionList), sync_to_thread=True)
def approve(request: Request, list_id: FromPath[str], data: FormData) -> Response[Any]:
    found = _one(request, list_id)
    form = form_of(data)
    accepted: list[UUID] = []
    declined: list[Decline] = []
    for group in groups(found["refugees"]):
        answer = form.get(f"answer-{group['key']}")
        if answer not in ("accept", "decline"):
            form.errors[f"answer-{group['key']}"] = translate(
                request, "Choose accept or decline for %(who)s.", who=_who(request, group)
            )
            continue
        ids = [UUID(p["refugee_id"]) for p in group["persons"]]
        if answer == "accept":
            accepted.extend(ids)
            continue
        reason = form.text(
            f"reason-{group['key']}",
            translate(request, "Give the reason for declining %(who)s.", who=_who(request, group)),
        )
        declined.extend(Decline(refugee_id, reason) for refugee_id in ids)
    if form.ok:
        try:
            result = send(
                request, c.ApproveDistributionList(UUID(list_id), tuple(accepted), tuple(declined)), form
            )
        except RuleViolation as error:
            refuse(request, form, error)
        else:
            return done(
                request,
                f"/lists/{list_id}",
                N_("The list is answered: %(accepted)s accepted, %(declined)s declined."),
                accepted=len(result.extra.get("selected", accepted)),
                declined=len(declined),
            )
    return _list_page(request, found, form)


def _who(request: Request, group: dict[str, Any]) -> str:
    if group["family"]:
        return translate(request, "the family of %(count)s", count=len(group["persons"]))
    person = group["persons"][0]
    return translate(
        request, "the person aged %(age)s", age=person.get("age") if person.get("age") is not None else "?"
    )


@post("/lists/{list_id:str}/withdrawal", opt=sends(c.WithdrawDistributionList), sync_to_thread=True)
def withdraw(request: Request, list_id: FromPath[str], data: FormData) -> Response[Any]:
    found = _one(request, list_id)
    form = form_of(data)
    reason = form.text("withdraw_reason", translate(request, "Give the reason for withdrawing the list."))
    if form.ok:
        try:
            send(request, c.WithdrawDistributionList(UUID(list_id), reason), form)
        except RuleViolation as error:
            refuse(request, form, error, {"reason": "withdraw_reason"})
        else:
            return done(
                request, f"/lists/{list_id}", N_("The list is withdrawn; its persons are free again.")
            )
    return _list_page(request, found, form)


def _new_page(request: Request, form: Form) -> Response[str]:
    models = reads(request)
    free = models.query(persons_with_status, "registered", limit=FREE_PERSONS_SHOWN)
    record_shown(request, free["items"])
    return page(
        request,
        "list_new.html",
        status=200 if form.ok else 422,
        title=translate(request, "New distribution list"),
        form=form,
        municipalities=models.query(municipalities),
        groups=groups(free["items"]),
        more=free["next_cursor"] is not None,
    )


@get("/lists/new", opt=allowed(Role.IMDI), sync_to_thread=True)
def new_list(request: Request) -> Response[str]:
    return _new_page(request, Form())


@post("/lists", opt=sends(c.CreateDistributionList), sync_to_thread=True)
def create_list(request: Request, data: FormData) -> Response[Any]:
    form = form_of(data)
    municipality = form.text("municipality", translate(request, "Choose the municipality."))
    respond_by = form.day("respond_by", translate(request, "Give the answer date, like 30.11.2026."))
    year_text = str(form.get("year")).strip()
    year = (
        form.whole("year", translate(request, "Give the year as four digits."), low=2000, high=2100)
        if year_text
        else None
    )
    chosen: list[UUID] = []
    for name, value in form.values.items():
        if name.startswith("group-"):  # a family is one choice: all its members (R3)
            for part in str(value).split(","):
                try:
                    chosen.append(UUID(part))
                except ValueError:
                    continue
    if not chosen:
        form.errors["persons"] = translate(request, "Choose at least one person.")
    if form.ok:
        try:
            result = send(
                request, c.CreateDistributionList(municipality, tuple(chosen), respond_by, year), form
            )
        except RuleViolation as error:
            refuse(
                request,
                form,
                error,
                {"respond_by": "respond_by", "year": "year", "municipality": "municipality"},
            )
        else:
            return done(
                request, f"/lists/{result.id}", N_("The distribution list is sent to the municipality.")
            )
    return _new_page(request, form)
