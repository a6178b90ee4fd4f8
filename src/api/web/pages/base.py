"""What every page handler shares: the signed-in actor, the read models (after the user's own last
write), sending a command through the application service, and the form it came from."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from litestar import Request

from api.http.context import TOKEN_PATTERN, correlation_id
from api.http.reads import ReadModels
from api.web.render import Form
from settlement_domain import commands as c
from settlement_domain.application import CommandResult, SettlementApp
from settlement_domain.commands import Command
from settlement_domain.context import Actor, CommandContext, Role
from settlement_domain.permissions import roles_for


def actor(request: Request) -> Actor:
    return request.user


def settlement(request: Request) -> SettlementApp:
    return request.app.state.settlement


def reads(request: Request) -> ReadModels:
    """The read models, once they include the user's own last change (read-your-writes after a redirect)."""
    models: ReadModels = request.app.state.reads
    session = request.scope.get("session")
    position = session.pop("position", None) if isinstance(session, dict) else None
    asked = request.query_params.get("min_position", "")
    if asked.isdigit():  # as the API's reads take it: a link that names a position it must show
        position = max(int(position or 0), int(asked))
    if position:
        models.wait_for(int(position))
    return models


def send(request: Request, command: Command, form: Form | None = None) -> CommandResult:
    """``command`` through ``SettlementApp.handle``, as the signed-in user; the form's key makes a
    second press of the same button replay the first answer instead of acting twice."""
    result = settlement(request).handle(_context(request, form), command)
    session = request.scope.get("session")
    if isinstance(session, dict):
        session["position"] = max(int(session.get("position") or 0), result.position)
    return result


def _context(request: Request, form: Form | None = None) -> CommandContext:
    """The signed-in user's command context; the form's key (if any) as the idempotency key."""
    key = form.get("_key") if form is not None else None
    return CommandContext(
        actor=actor(request),
        correlation_id=correlation_id(request),
        idempotency_key=key if isinstance(key, str) and TOKEN_PATTERN.match(key) else None,
    )


def record_shown(request: Request, persons: Iterable[dict[str, Any]]) -> None:
    """R14: the persons whose names or birth dates this page shows, recorded as one
    ``PersonalDataListed`` (``what`` is the page's path) before the page is sent; nothing when it shows
    none. The folder records its own read (``PersonFolderViewed``, R6)."""
    shown = tuple(
        dict.fromkeys(
            UUID(str(p["refugee_id"]))
            for p in persons
            if p.get("full_name") is not None or p.get("birth_date") is not None
        )
    )
    if shown:  # not the session's position: no later page needs to wait for a read record's views
        settlement(request).handle(
            _context(request), c.RecordPersonalDataListed(f"page {request.url.path}", shown)
        )


def form_of(data: dict[str, Any] | None) -> Form:
    values = {k: (v[-1] if isinstance(v, list) else v) for k, v in (data or {}).items()}
    return Form(values=values)


@dataclass(frozen=True)
class Link:
    """A page in the navigation, shown to the roles its route serves."""

    href: str
    label: str
    roles: frozenset[Role]


def may(request: Request, command: type[Command]) -> bool:
    """Whether the role table lets the user send ``command`` (which forms a page offers)."""
    return actor(request).role in roles_for(command)


def own_number(request: Request) -> str | None:
    return actor(request).municipality
