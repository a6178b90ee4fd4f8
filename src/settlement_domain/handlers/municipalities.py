"""Handlers for the municipality registry and contact information (lifecycle 1)."""

from __future__ import annotations

from settlement_domain import commands as c
from settlement_domain.errors import RuleViolation
from settlement_domain.handlers.scope import Handler, Outcome, Scope
from settlement_domain.model import Municipality
from settlement_domain.permissions import require_own_municipality


def register_municipality(scope: Scope, cmd: c.RegisterMunicipality) -> Outcome:
    municipality = Municipality.register(
        scope.meta, cmd.number, cmd.name, cmd.county, cmd.organisation_number
    )
    if scope.find(Municipality, municipality.id) is not None:
        raise RuleViolation(
            "registry",
            "Municipality %(number)s is already registered.",
            field="number",
            params={"number": cmd.number},
        )
    return Outcome(municipality)


def rename_municipality(scope: Scope, cmd: c.RenameMunicipality) -> Outcome:
    municipality = scope.municipality(cmd.number)
    return Outcome(municipality, extra={"renamed": municipality.rename(scope.meta, cmd.name)})


def update_contact(scope: Scope, cmd: c.UpdateContact) -> Outcome:
    require_own_municipality("roles", scope.actor, cmd.number, "update contact information")
    municipality = scope.municipality(cmd.number)
    municipality.update_contact(scope.meta, cmd.contact)
    return Outcome(municipality)


HANDLERS: dict[type[c.Command], Handler] = {
    c.RegisterMunicipality: register_municipality,
    c.RenameMunicipality: rename_municipality,
    c.UpdateContact: update_contact,
}
