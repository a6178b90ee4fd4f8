"""Handlers for person-level history imports (R15): a person's facts as another system recorded them.

A person of a history is known here by an id derived from the source's id of the person, so that the
same file (or an overlapping one) finds the persons it recorded before. Every event carries the
import's source (file, checksum, line, the source's person id) in its ``meta``. The same fact again
records nothing; another fact where one is stored is a conflict (R15). No letters are sent for history.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from settlement_domain import commands as c
from settlement_domain.errors import FactConflict, RuleViolation
from settlement_domain.handlers.scope import Outcome, Scope
from settlement_domain.model import Refugee
from settlement_domain.model.ids import natural_id
from settlement_domain.rules import check_municipality_number, check_year

MOVED_BY_HISTORY = "historical decision for another year (R15)"


def person_id(source_person: str) -> UUID:
    """The id here of the person the source knows as ``source_person``."""
    return natural_id("history-person", source_person)


def selection_id(source_person: str) -> UUID:
    """The id a history's selection takes its place under (there is no distribution list here)."""
    return natural_id("history-selection", source_person)


def _meta(scope: Scope, cmd: Any, day: date | None = None) -> dict[str, Any]:
    """The actor's metadata with the import's source; ``day``: the source's date of a fact whose event
    has no business date of its own (a registration, a mapping), which replays by business time use."""
    source = cmd.source.as_dict()  # not the source's person id: it may be one a person is known by
    return {**scope.meta, "source": source if day is None else {**source, "date": day.isoformat()}}


def _person(scope: Scope, cmd: Any) -> Refugee:
    refugee = scope.find(Refugee, person_id(cmd.person))
    if refugee is None:
        raise RuleViolation(
            "R15", "The person %(person)s is not registered by this file or an earlier import.",
            field="person", params={"person": cmd.person},
        )  # fmt: skip
    return refugee


def _check_past(scope: Scope, day: Any, field: str) -> None:
    if day > scope.today:
        raise RuleViolation(
            "R15", "A history's date is not in the future (%(date)s).", field=field, params={"date": day}
        )


def record_registration(scope: Scope, cmd: c.RecordHistoricalRegistration) -> Outcome:
    _check_past(scope, cmd.registered_on, "date")
    meta = _meta(scope, cmd, cmd.registered_on)
    family, made = scope.join_family(cmd.family)
    new = Refugee.register_historical(
        person_id(cmd.person), meta, full_name=cmd.full_name, birth_date=cmd.birth_date,
        family_id=cmd.family, unaccompanied_minor=cmd.unaccompanied_minor, residence=cmd.residence,
        postal_address=cmd.postal_address, category=cmd.category, registered_on=cmd.registered_on,
        family_ref=None if family is None else family.id,
    )  # fmt: skip
    stored = scope.find(Refugee, new.id)
    if stored is not None:
        # R18: an erased person's personal part is gone (the family's text with it, where the
        # registration names its family's id); only the rest of the registration compares.
        by_ref = stored.family_ref is not None
        if _registration_of(stored, personal=not stored.erased, by_ref=by_ref) != _registration_of(
            new, personal=not stored.erased, by_ref=by_ref
        ):
            raise FactConflict(
                "The person %(person)s is stored with other registration data than the file's.",
                field="person", params={"person": cmd.person},
            )  # fmt: skip
        return Outcome(stored, extra={"recorded": False})
    changed: list[Aggregate] = []
    if family is not None:
        family.add_member(meta, new.id)
        changed = [*made, family]
    return Outcome(new, changed, extra={"recorded": True})


def _registration_of(refugee: Refugee, *, personal: bool = True, by_ref: bool = False) -> tuple[Any, ...]:
    return (
        refugee.personal if personal else None,
        refugee.family_ref if by_ref else refugee.family_id,
        refugee.unaccompanied_minor,
        refugee.residence,
        refugee.category,
    )


def record_mapping(scope: Scope, cmd: c.RecordHistoricalMapping) -> Outcome:
    _check_past(scope, cmd.mapped_on, "date")
    refugee = _person(scope, cmd)
    return Outcome(
        refugee,
        extra={"recorded": refugee.record_historical_mapping(_meta(scope, cmd, cmd.mapped_on), cmd.mapping)},
    )


def record_selection(scope: Scope, cmd: c.RecordHistoricalSelection) -> Outcome:
    check_municipality_number(cmd.municipality, "municipality")
    check_year("R15", cmd.year, scope.today)
    _check_past(scope, cmd.selected_on, "date")
    scope.municipality(cmd.municipality)
    refugee = _person(scope, cmd)
    meta = _meta(scope, cmd)
    if not refugee.record_historical_selection(
        meta, selection_id(cmd.person), cmd.municipality, cmd.selected_on, cmd.year
    ):
        return Outcome(refugee, extra={"recorded": False})
    quota = scope.quota_year(cmd.municipality, cmd.year)
    quota.take_historical_place(meta, selection_id(cmd.person), refugee.id, refugee.unaccompanied_minor)
    return Outcome(refugee, [quota], extra={"recorded": True})


def record_decision(scope: Scope, cmd: c.RecordHistoricalDecision) -> Outcome:
    check_municipality_number(cmd.municipality, "municipality")
    if cmd.year is not None:
        check_year("R15", cmd.year, scope.today)
    _check_past(scope, cmd.decided_on, "date")
    refugee = _person(scope, cmd)
    year = cmd.year if cmd.year is not None else (refugee.selection_year or cmd.decided_on.year)
    meta = _meta(scope, cmd)
    place_before = refugee.place
    moves = place_before != (cmd.municipality, year)
    # R5 as it happened: a decision for another year moved the place there; past the vacant places
    # it counts over quota, as an override would here (only then does it carry one).
    target = scope.quota_year(cmd.municipality, year) if moves else None
    short = target is not None and target.shortfall(1, int(refugee.unaccompanied_minor)) is not None
    override = MOVED_BY_HISTORY if short else None
    if not refugee.record_historical_decision(meta, cmd.municipality, year, cmd.decided_on, override):
        return Outcome(refugee, extra={"recorded": False})
    changed: list[Aggregate] = []
    if target is not None:
        target.take_place(meta, refugee.id, refugee.unaccompanied_minor, override_reason=override)
        changed.append(target)
        if place_before is not None:
            previous = scope.quota_year(*place_before)
            previous.release_place(meta, refugee.id, refugee.unaccompanied_minor, to_year=year)
            changed.append(previous)
    return Outcome(refugee, changed, extra={"recorded": True})


def record_settlement_date(scope: Scope, cmd: c.RecordHistoricalSettlementDate) -> Outcome:
    refugee = _person(scope, cmd)
    recorded = refugee.record_historical_settlement_date(
        _meta(scope, cmd), cmd.settlement_date, scope.today, cmd.revise_reason
    )
    return Outcome(refugee, extra={"recorded": recorded})


HANDLERS: dict[type[c.Command], Callable[[Scope, Any], Outcome]] = {
    c.RecordHistoricalRegistration: record_registration,
    c.RecordHistoricalMapping: record_mapping,
    c.RecordHistoricalSelection: record_selection,
    c.RecordHistoricalDecision: record_decision,
    c.RecordHistoricalSettlementDate: record_settlement_date,
}
