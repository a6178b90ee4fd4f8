"""Handlers for requests (R1) and quota decisions (R2)."""

from __future__ import annotations

from settlement_domain import commands as c
from settlement_domain.context import Role
from settlement_domain.handlers.scope import Handler, Outcome, Scope
from settlement_domain.model import LetterKind
from settlement_domain.permissions import require_own_municipality
from settlement_domain.rules import check_municipality_number


def request_settlement(scope: Scope, cmd: c.RequestSettlement) -> Outcome:
    check_municipality_number(cmd.number)
    scope.municipality(cmd.number)
    quota = scope.quota_year(cmd.number, cmd.year)
    quota.request(scope.meta, cmd.persons, cmd.unaccompanied_minors, cmd.reason, scope.today)
    facts = {
        "persons": cmd.persons,
        "unaccompanied_minors": cmd.unaccompanied_minors,
        "revision": quota.request_revisions,
        "reason": (cmd.reason or "").strip() or None,
        "reply_by": scope.reply_by(),
    }
    letter = scope.letter(quota, LetterKind.REQUEST, cmd.number, year=cmd.year, facts=facts)
    return Outcome(quota, [letter], {"letter_id": str(letter.id)})


def decide_quota(scope: Scope, cmd: c.DecideQuota) -> Outcome:
    require_own_municipality("R2", scope.actor, cmd.number, "record quota decisions")
    check_municipality_number(cmd.number)
    scope.municipality(cmd.number)
    quota = scope.quota_year(cmd.number, cmd.year)
    quota.decide(
        scope.meta,
        cmd.persons,
        cmd.unaccompanied_minors,
        cmd.decided_on,
        on_behalf=scope.actor.role is Role.IMDI,
        today=scope.today,
    )
    return Outcome(quota)


HANDLERS: dict[type[c.Command], Handler] = {
    c.RequestSettlement: request_settlement,
    c.DecideQuota: decide_quota,
}
