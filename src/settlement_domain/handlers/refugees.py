"""Handlers for registering refugees, their mapping, deviations (R12) and folder reads (R6)."""

from __future__ import annotations

from uuid import uuid4

from settlement_domain import commands as c
from settlement_domain.handlers.scope import Handler, Outcome, Scope
from settlement_domain.model import FolderRead, ListingRead, Refugee
from settlement_domain.rules import refuse_input


def register_refugee(scope: Scope, cmd: c.RegisterRefugee) -> Outcome:
    family, made = scope.join_family(cmd.family_id)
    refugee = Refugee.register(
        scope.meta,
        full_name=cmd.full_name,
        birth_date=cmd.birth_date,
        family_id=cmd.family_id,
        unaccompanied_minor=cmd.unaccompanied_minor,
        residence=cmd.residence,
        postal_address=cmd.postal_address,
        category=cmd.category,
        today=scope.today,
        duf_number=cmd.duf_number,
        family_ref=None if family is None else family.id,
    )
    if family is None:
        return Outcome(refugee)
    family.add_member(scope.meta, refugee.id)
    return Outcome(refugee, [*made, family])


def record_mapping(scope: Scope, cmd: c.RecordMapping) -> Outcome:
    refugee = scope.refugee(cmd.refugee_id)
    refugee.record_mapping(scope.meta, cmd.mapping)
    return Outcome(refugee)


def open_deviation(scope: Scope, cmd: c.OpenDeviation) -> Outcome:
    refugee = scope.refugee(cmd.refugee_id)
    deviation_id = str(uuid4())
    refugee.open_deviation(
        scope.meta, deviation_id, cmd.kind, cmd.description, cmd.registered_private_by_known_deviation
    )
    return Outcome(refugee, extra={"deviation_id": deviation_id})


def resolve_deviation(scope: Scope, cmd: c.ResolveDeviation) -> Outcome:
    refugee = scope.refugee(cmd.refugee_id)
    refugee.resolve_deviation(scope.meta, str(cmd.deviation_id), cmd.note)
    return Outcome(refugee, extra={"deviation_id": str(cmd.deviation_id)})


def record_folder_read(scope: Scope, cmd: c.RecordFolderRead) -> Outcome:
    refugee = scope.refugee_for_actor(cmd.refugee_id)
    if scope.is_municipality:
        refugee.check_folder_readable_by(scope.actor.municipality or "")
    read = FolderRead(meta=scope.meta, refugee_id=refugee.id, municipality=refugee.municipality)
    return Outcome(read, extra={"refugee_id": str(refugee.id)})


def record_personal_data_listed(scope: Scope, cmd: c.RecordPersonalDataListed) -> Outcome:
    if not cmd.refugee_ids:
        raise refuse_input("R14", "A read of personal data names the persons it showed.", "refugee_ids")
    if not cmd.what.strip():
        raise refuse_input("R14", "A read of personal data says what showed them.", "what")
    read = ListingRead(
        meta=scope.meta,
        what=cmd.what,
        refugee_ids=list(dict.fromkeys(cmd.refugee_ids)),
        municipality=scope.actor.municipality if scope.is_municipality else None,
    )
    return Outcome(read, extra={"persons": len(read.refugee_ids)})


def erase_personal_data(scope: Scope, cmd: c.ErasePersonalData) -> Outcome:
    refugee = scope.refugee(cmd.refugee_id)
    undelivered = [] if refugee.erased else scope.undelivered_letters(refugee.id)
    refugee.erase_personal_data(scope.meta, cmd.legal_basis, cmd.reason, undelivered_letters=len(undelivered))
    # R18: the family's text names the family, so its key goes with any member's (same transaction);
    # the family itself (its id and members, R3/R4) stays.
    family = scope.family_of(refugee)
    if family is not None and family.erase_label(scope.meta, refugee.id):
        return Outcome(refugee, [family], extra={"erased": True})
    return Outcome(refugee, extra={"erased": True})


HANDLERS: dict[type[c.Command], Handler] = {
    c.RegisterRefugee: register_refugee,
    c.RecordMapping: record_mapping,
    c.OpenDeviation: open_deviation,
    c.ResolveDeviation: resolve_deviation,
    c.RecordFolderRead: record_folder_read,
    c.RecordPersonalDataListed: record_personal_data_listed,
    c.ErasePersonalData: erase_personal_data,
}
