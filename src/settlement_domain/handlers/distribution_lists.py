"""Handlers for distribution lists: proposal and withdrawal (R3), approval and selection (R4)."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate

from settlement_domain import commands as c
from settlement_domain.errors import NotFound
from settlement_domain.handlers.scope import Handler, Outcome, Scope
from settlement_domain.model import DistributionList, LetterKind, Refugee
from settlement_domain.rules import check_municipality_number, refuse_input


def create_distribution_list(scope: Scope, cmd: c.CreateDistributionList) -> Outcome:
    check_municipality_number(cmd.municipality, "municipality")
    scope.municipality(cmd.municipality)
    refugees: dict[UUID, Refugee] = {}
    for refugee_id in cmd.refugee_ids:
        if refugee_id in refugees:
            raise refuse_input(
                "R3", "Person %(person)s is named twice.", "refugee_ids", {"person": refugee_id}
            )
        try:
            refugees[refugee_id] = scope.refugee(refugee_id)
        except NotFound:
            raise refuse_input(
                "R3", "Person %(person)s is not registered.", "refugee_ids", {"person": refugee_id}
            ) from None
        refugees[refugee_id].check_may_be_proposed()
    # Keyed by the family's id, never its text (R18: the text may name the family).
    families: dict[str, list[UUID]] = {}
    for refugee in refugees.values():
        family = scope.family_of(refugee)
        if family is not None:
            families[str(family.id)] = list(family.members)
        elif refugee.family_id is not None or refugee.family_ref is not None:
            raise NotFound("family", refugee.family_ref or refugee.id)
    dlist = DistributionList.propose(
        scope.meta, cmd.municipality, list(refugees), families, cmd.respond_by, cmd.year, scope.today
    )
    for refugee in refugees.values():
        refugee.propose(scope.meta, dlist.id, cmd.municipality)
    return Outcome(dlist, list(refugees.values()))


def withdraw_distribution_list(scope: Scope, cmd: c.WithdrawDistributionList) -> Outcome:
    dlist = scope.get(DistributionList, cmd.list_id, "distribution list")
    dlist.withdraw(scope.meta, cmd.reason)
    changed: list[Aggregate] = []
    for refugee_id in dlist.refugee_ids:
        refugee = scope.refugee(refugee_id)
        if refugee.open_list_id == dlist.id:
            refugee.withdraw_proposal(scope.meta, dlist.id)
            changed.append(refugee)
    return Outcome(dlist, changed)


def approve_distribution_list(scope: Scope, cmd: c.ApproveDistributionList) -> Outcome:
    dlist = scope.get(DistributionList, cmd.list_id, "distribution list")
    if dlist.municipality != scope.actor.municipality:
        raise NotFound("distribution list", cmd.list_id)
    dlist.approve(scope.meta, cmd.accepted, cmd.declined, scope.today)
    accepted: list[Refugee] = [scope.refugee(r) for r in cmd.accepted]
    changed: list[Aggregate] = []
    extra: dict[str, object] = {"selected": [str(r) for r in cmd.accepted]}
    if accepted:
        # R4/R10: the accepted persons take places of the list's year, where they are vacant.
        quota = scope.quota_year(dlist.municipality, dlist.year)
        minors = sum(1 for r in accepted if r.unaccompanied_minor)
        quota.take_places_by_selection(scope.meta, dlist.id, list(cmd.accepted), minors)
        changed.append(quota)
    for refugee in accepted:
        refugee.select(scope.meta, dlist.id, dlist.municipality, selected_on=scope.today, year=dlist.year)
        changed.append(refugee)
    for decline in cmd.declined:
        refugee = scope.refugee(decline.refugee_id)
        refugee.decline(scope.meta, dlist.id, dlist.municipality, decline.reason)
        changed.append(refugee)
    if accepted:
        facts = {"list_id": str(dlist.id), "selected_on": scope.today, "minors": minors}
        letter = scope.letter(dlist, LetterKind.SELECTION, dlist.municipality, accepted, dlist.year, facts)
        changed.append(letter)
        extra["letter_id"] = str(letter.id)
    return Outcome(dlist, changed, extra)


HANDLERS: dict[type[c.Command], Handler] = {
    c.CreateDistributionList: create_distribution_list,
    c.WithdrawDistributionList: withdraw_distribution_list,
    c.ApproveDistributionList: approve_distribution_list,
}
