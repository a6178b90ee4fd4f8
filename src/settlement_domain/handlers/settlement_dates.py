"""Handlers for settlement dates: by the municipality (R7), from reception (R8), corrected by IMDi (R7f)."""

from __future__ import annotations

from settlement_domain import commands as c
from settlement_domain.handlers.scope import Handler, Outcome, Scope


def register_settlement_date(scope: Scope, cmd: c.RegisterSettlementDate) -> Outcome:
    refugee = scope.refugee_for_actor(cmd.refugee_id)
    if scope.is_municipality:
        refugee.register_settlement_date_by_municipality(
            scope.meta,
            scope.actor.municipality or "",
            cmd.settlement_date,
            scope.today,
            scope.settlement_cutoff,
        )
    else:
        refugee.transfer_settlement_date_from_reception(
            scope.meta, cmd.settlement_date, scope.today, scope.settlement_cutoff
        )
    return Outcome(refugee)


def correct_settlement_date(scope: Scope, cmd: c.CorrectSettlementDate) -> Outcome:
    refugee = scope.refugee(cmd.refugee_id)
    refugee.correct_settlement_date(
        scope.meta, cmd.settlement_date, cmd.reason, scope.today, scope.settlement_cutoff
    )
    return Outcome(refugee)


HANDLERS: dict[type[c.Command], Handler] = {
    c.RegisterSettlementDate: register_settlement_date,
    c.CorrectSettlementDate: correct_settlement_date,
}
