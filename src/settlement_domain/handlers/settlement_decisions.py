"""Handler for settlement decisions (R5): the place the selection took is kept, or moved to another year."""

from __future__ import annotations

from eventsourcing.domain import Aggregate

from settlement_domain import commands as c
from settlement_domain.handlers.scope import Handler, Outcome, Scope
from settlement_domain.model import LetterKind
from settlement_domain.rules import check_municipality_number, check_year


def decide_settlement(scope: Scope, cmd: c.DecideSettlement) -> Outcome:
    check_municipality_number(cmd.municipality, "municipality")
    if cmd.year is not None:
        check_year("R5", cmd.year, scope.today)
    override_reason = (cmd.override_reason or "").strip() or None
    refugee = scope.refugee(cmd.refugee_id)
    # The default year is the one the selection took its place in (the list's year).
    year = cmd.year if cmd.year is not None else (refugee.selection_year or scope.today.year)
    place_before = refugee.place
    refugee.decide_settlement(
        scope.meta, cmd.municipality, year, decided_on=scope.today, override_reason=override_reason
    )
    changed: list[Aggregate] = []
    if place_before != (cmd.municipality, year):
        # R5: naming another year moves the place there, checked against that year's vacant places.
        quota = scope.quota_year(cmd.municipality, year)
        quota.take_place(scope.meta, refugee.id, refugee.unaccompanied_minor, override_reason)
        changed.append(quota)
        if place_before is not None:
            previous = scope.quota_year(*place_before)
            previous.release_place(scope.meta, refugee.id, refugee.unaccompanied_minor, to_year=year)
            changed.append(previous)
    facts = {"decided_on": scope.today, "over_quota": override_reason is not None}
    to_municipality = scope.letter(
        refugee, LetterKind.DECISION_MUNICIPALITY, cmd.municipality, [refugee], year, facts
    )
    to_person = scope.letter(refugee, LetterKind.DECISION_PERSON, cmd.municipality, [refugee], year, facts)
    changed += [to_municipality, to_person]
    return Outcome(refugee, changed, {"letter_ids": [str(to_municipality.id), str(to_person.id)]})


HANDLERS: dict[type[c.Command], Handler] = {c.DecideSettlement: decide_settlement}
