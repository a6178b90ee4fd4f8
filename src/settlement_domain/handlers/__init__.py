"""Command handlers, one module per area; ``HANDLERS`` maps each command type to its handler.

A handler loads what it needs through its :class:`~settlement_domain.handlers.scope.Scope`, calls the
aggregates (which check their rules) and returns an :class:`~settlement_domain.handlers.scope.Outcome`;
the application service saves it.
"""

from __future__ import annotations

from settlement_domain.commands import Command
from settlement_domain.handlers import (
    capacity,
    distribution_lists,
    history,
    imports,
    letters,
    municipalities,
    quotas,
    refugees,
    settlement_dates,
    settlement_decisions,
    support,
)
from settlement_domain.handlers.scope import Handler, Outcome, Scope

__all__ = ["HANDLERS", "Handler", "Outcome", "Scope"]

HANDLERS: dict[type[Command], Handler] = {
    **municipalities.HANDLERS,
    **quotas.HANDLERS,
    **refugees.HANDLERS,
    **distribution_lists.HANDLERS,
    **settlement_decisions.HANDLERS,
    **settlement_dates.HANDLERS,
    **capacity.HANDLERS,
    **support.HANDLERS,
    **imports.HANDLERS,
    **history.HANDLERS,
    **letters.HANDLERS,
}

__all__ = ["HANDLERS", "Handler", "Outcome", "Scope"]
