"""Handlers for capacity reports for unaccompanied minors (R11)."""

from __future__ import annotations

from uuid import UUID

from settlement_domain import commands as c
from settlement_domain.errors import NotFound
from settlement_domain.handlers.scope import Handler, Outcome, Scope
from settlement_domain.model import MinorCapacity
from settlement_domain.permissions import require_own_municipality


def report_minor_capacity(scope: Scope, cmd: c.ReportMinorCapacity) -> Outcome:
    require_own_municipality("R11", scope.actor, cmd.municipality, "report capacity")
    capacity = MinorCapacity.report(
        scope.meta,
        cmd.municipality,
        cmd.places,
        cmd.expected_week,
        cmd.min_age,
        cmd.max_age,
        cmd.round_the_clock_staffing,
        cmd.special_conditions,
        scope.today,
    )
    return Outcome(capacity)


def _own_capacity(scope: Scope, capacity_id: UUID) -> MinorCapacity:
    capacity = scope.get(MinorCapacity, capacity_id, "capacity report")
    if capacity.municipality != scope.actor.municipality:
        raise NotFound("capacity report", capacity_id)
    return capacity


def withdraw_minor_capacity(scope: Scope, cmd: c.WithdrawMinorCapacity) -> Outcome:
    capacity = _own_capacity(scope, cmd.capacity_id)
    capacity.withdraw(scope.meta, cmd.reason)
    return Outcome(capacity)


def mark_minor_capacity_filled(scope: Scope, cmd: c.MarkMinorCapacityFilled) -> Outcome:
    capacity = _own_capacity(scope, cmd.capacity_id)
    capacity.mark_filled(scope.meta)
    return Outcome(capacity)


HANDLERS: dict[type[c.Command], Handler] = {
    c.ReportMinorCapacity: report_minor_capacity,
    c.WithdrawMinorCapacity: withdraw_minor_capacity,
    c.MarkMinorCapacityFilled: mark_minor_capacity_filled,
}
