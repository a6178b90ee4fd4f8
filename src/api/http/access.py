"""Who may call what, in one place: the roles of each route and tenancy (a municipality sees only its own).

Writes are refused by the application service itself (the role table, ``settlement_domain.permissions``,
and the rules live in the domain, with their rule codes); a write route declares the command it sends
and its roles are read from that table. This module decides reads, which never reach the write side.
A municipality asking for another municipality's resources gets 404, never 403, so that it cannot
even learn that they exist.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from settlement_domain.commands import Command
from settlement_domain.context import Actor, Role
from settlement_domain.errors import NotFound, Refusal, RuleViolation
from settlement_domain.permissions import roles_for, roles_in_words

EVERYONE = frozenset(Role)


def allowed(*roles: Role) -> dict[str, Any]:
    """Route option of a read naming the roles that may call it (tested per route)."""
    return {"roles": frozenset(roles)}


def sends(command: type[Command]) -> dict[str, Any]:
    """Route option of a write: the command it sends, and so its roles, from the domain's role table."""
    return {"roles": roles_for(command), "command": command}


async def role_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Refuses a read to a role the route does not name (403); writes are left to the application.

    A coroutine: litestar runs a plain function guard in a worker thread."""
    if handler.opt.get("roles") is not None:  # a page without roles (the login) has no user yet
        check_role(connection.user, handler)


def check_role(actor: Actor, handler: BaseRouteHandler) -> None:
    """What :func:`role_guard` checks (the API checks it in its authentication middleware)."""
    roles = handler.opt.get("roles")
    if roles is None or "GET" not in getattr(handler, "http_methods", ()):
        return
    if actor.role not in roles:
        raise RuleViolation(
            "roles",
            "Only %(roles)s may read this.",
            refusal=Refusal.FORBIDDEN,
            params={"roles": roles_in_words(roles)},
        )


def municipality_scope(actor: Actor, requested: str | None) -> str | None:
    """The municipality a read is limited to: a municipality user's own, whatever it asked for.

    Asking explicitly for another municipality is answered 404.
    """
    if actor.role is not Role.MUNICIPALITY:
        return requested
    if requested is not None and requested != actor.municipality:
        raise NotFound("municipality", requested)
    return actor.municipality


def check_owner(actor: Actor, owner: str | None, kind: str, key: object) -> None:
    """404 unless the actor may see a resource belonging to municipality ``owner``."""
    if actor.role is Role.MUNICIPALITY and owner != actor.municipality:
        raise NotFound(kind, key)


def check_person_visible(actor: Actor, municipalities: set[str | None], key: object) -> None:
    """404 unless a municipality user's municipality is among those that were proposed, selected or decided."""
    if actor.role is Role.MUNICIPALITY and actor.municipality not in municipalities:
        raise NotFound("person", key)


def sees_small_counts(actor: Actor) -> bool:
    """R13: counts below 5 are shown as ``<5`` to anyone but imdi and auditor."""
    return actor.role in (Role.IMDI, Role.AUDITOR)
