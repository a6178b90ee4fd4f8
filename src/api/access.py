"""Who may call what, in one place: the roles of each route and tenancy (a municipality sees only its own).

Writes are refused by the application service itself (the role table and the rules live in the
domain, with their rule codes); this module decides reads, which never reach the write side.
A municipality asking for another municipality's resources gets 404, never 403, so that it cannot
even learn that they exist.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from settlement_domain.context import Actor, Role
from settlement_domain.errors import NotFound, Refusal, RuleViolation

IMDI, MUNICIPALITY, RECEPTION, AUDITOR = Role.IMDI, Role.MUNICIPALITY, Role.RECEPTION, Role.AUDITOR
EVERYONE = frozenset(Role)


def allowed(*roles: Role) -> dict[str, Any]:
    """Route option naming the roles that may call it (shown in the route table and tested per route)."""
    return {"roles": frozenset(roles)}


def role_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Refuses a read to a role the route does not name (403); writes are left to the application."""
    roles = handler.opt.get("roles")
    if roles is None or "GET" not in getattr(handler, "http_methods", ()):
        return
    actor: Actor = connection.user
    if actor.role not in roles:
        names = " or ".join(sorted(r.value for r in roles))
        raise RuleViolation("roles", f"Only {names} may read this.", refusal=Refusal.FORBIDDEN)


def municipality_scope(actor: Actor, requested: str | None) -> str | None:
    """The municipality a read is limited to: a municipality user's own, whatever it asked for.

    Asking explicitly for another municipality is answered 404.
    """
    if actor.role is not MUNICIPALITY:
        return requested
    if requested is not None and requested != actor.municipality:
        raise NotFound("municipality", requested)
    return actor.municipality


def check_owner(actor: Actor, owner: str | None, kind: str, key: object) -> None:
    """404 unless the actor may see a resource belonging to municipality ``owner``."""
    if actor.role is MUNICIPALITY and owner != actor.municipality:
        raise NotFound(kind, key)


def check_person_visible(actor: Actor, municipalities: set[str | None], key: object) -> None:
    """404 unless a municipality user's municipality is among those that were proposed, selected or decided."""
    if actor.role is MUNICIPALITY and actor.municipality not in municipalities:
        raise NotFound("person", key)


def sees_small_counts(actor: Actor) -> bool:
    """R13: counts below 5 are shown as ``<5`` to anyone but imdi and auditor."""
    return actor.role in (IMDI, AUDITOR)
