"""Refugee's settlement case, from registration to settlement date, and the family it belongs to."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from settlement_domain.errors import NotFound, Refusal, RuleViolation
from settlement_domain.ids import natural_id


class Category(StrEnum):
    ASYLUM = "asylum"
    RESETTLEMENT = "resettlement"
    FAMILY_REUNIFICATION = "family_reunification"
    COLLECTIVE_PROTECTION = "collective_protection"


class ResidenceKind(StrEnum):
    RECEPTION_CENTRE = "reception_centre"
    PRIVATE = "private"


class DateSource(StrEnum):
    MUNICIPALITY = "municipality"  # R7: persons who lived privately
    RECEPTION = "reception"  # R8: persons settled from a reception centre


class Refugee(Aggregate):
    """A refugee's settlement case (bosettingssak).

    Personal data (name, birth date, postal address, the mapping) is kept only in the ``personal``
    field of its events, so that it can be encrypted per person and erased without rewriting the log.
    """

    @event("RefugeeRegistered")
    def __init__(
        self,
        meta: dict[str, Any],
        personal: dict[str, Any],
        family_id: str | None,
        unaccompanied_minor: bool,
        residence: dict[str, Any],
        category: str,
    ) -> None:
        self.personal = personal
        self.family_id = family_id
        self.unaccompanied_minor = unaccompanied_minor
        self.residence = residence
        self.category = category
        self.mapping: dict[str, Any] | None = None
        self.open_list_id: UUID | None = None
        self.proposed_to: str | None = None
        self.selected_by: str | None = None
        self.selected_on: date | None = None
        self.selection_year: int | None = None
        self.decided_for: str | None = None
        self.decision_year: int | None = None
        self.settlement_date: date | None = None
        self.deviations: dict[str, bool] = {}  # deviation id -> open
        self.registered_private_by_known_deviation = False

    @property
    def lived_privately(self) -> bool:
        return self.residence.get("kind") == ResidenceKind.PRIVATE

    @property
    def municipality(self) -> str | None:
        """The municipality the person is settled in, decided for or selected by."""
        return self.decided_for or self.selected_by

    @property
    def has_open_deviation(self) -> bool:
        return any(self.deviations.values())

    def is_visible_to(self, municipality: str) -> bool:
        """Whether a municipality may know of this person at all (tenancy: 404 otherwise)."""
        return municipality in (self.proposed_to, self.selected_by, self.decided_for)

    def may_see_folder(self, municipality: str) -> bool:
        """R6: the person folder opens to the municipality that selected (or was decided) the person."""
        return municipality in (self.selected_by, self.decided_for)

    @event("MappingRecorded")
    def record_mapping(self, meta: dict[str, Any], personal: dict[str, Any]) -> None:
        self.mapping = personal

    # R3: proposal on a distribution list
    def check_may_be_proposed(self) -> None:
        if self.settlement_date is not None or self.decided_for is not None:
            raise RuleViolation("R3", f"Person {self.id} is already settled or decided.", field="refugee_ids")
        if self.selected_by is not None:
            raise RuleViolation(
                "R3", f"Person {self.id} was already accepted by {self.selected_by}.", field="refugee_ids"
            )
        if self.open_list_id is not None:
            raise RuleViolation(
                "R3", f"Person {self.id} is already on another open distribution list.", field="refugee_ids"
            )

    @event("RefugeeProposed")
    def propose(self, meta: dict[str, Any], list_id: UUID, municipality: str) -> None:
        self.open_list_id = list_id
        self.proposed_to = municipality

    @event("ProposalWithdrawn")
    def withdraw_proposal(self, meta: dict[str, Any], list_id: UUID) -> None:
        self.open_list_id = None
        self.proposed_to = None

    @event("RefugeeDeclined")
    def decline(self, meta: dict[str, Any], list_id: UUID, municipality: str, reason: str) -> None:
        self.open_list_id = None
        self.proposed_to = None

    @event("RefugeeSelected")
    def select(
        self, meta: dict[str, Any], list_id: UUID, municipality: str, selected_on: date, year: int
    ) -> None:
        self.open_list_id = None
        self.selected_by = municipality
        self.selected_on = selected_on
        self.selection_year = year

    # R5: settlement decision
    def check_may_be_decided(self, municipality: str) -> None:
        if self.selected_by != municipality:
            raise RuleViolation(
                "R5",
                f"A settlement decision needs the person to be selected by {municipality} first.",
                field="municipality",
            )
        if self.decided_for is not None:
            raise RuleViolation("R5", "A settlement decision was already made for this person.")

    @event("SettlementDecided")
    def decide_settlement(
        self,
        meta: dict[str, Any],
        municipality: str,
        year: int,
        decided_on: date,
        override_reason: str | None,
    ) -> None:
        self.decided_for = municipality
        self.decision_year = year

    # R7/R8: settlement date
    def check_date_by_municipality(
        self, municipality: str, settlement_date: date, today: date, cutoff: date
    ) -> None:
        """R7 (a) to (f), in order, for a date registered by the municipality."""
        if not self.may_see_folder(municipality):
            raise RuleViolation(
                "R7a", "The person has not been selected by or decided for this municipality."
            )
        if not self.lived_privately:
            raise RuleViolation(
                "R7b",
                "The person lived in a reception centre; the date comes from the reception system (R8).",
            )
        if self.has_open_deviation:
            raise RuleViolation("R7c", "The person has an unresolved deviation.")
        if self.registered_private_by_known_deviation:
            raise RuleViolation(
                "R7d",
                "The person was settled from reception and registered as private by a known deviation; "
                "IMDi registers the date.",
            )
        self.check_date_bounds(settlement_date, today, cutoff)
        self.check_no_date_yet()

    def check_date_from_reception(self, settlement_date: date, today: date, cutoff: date) -> None:
        """R8: the reception system transfers dates only for persons settled from a reception centre."""
        if self.lived_privately:
            raise RuleViolation(
                "R8", "The person lived privately; the municipality registers the date (R7)."
            )
        if self.municipality is None:
            raise RuleViolation(
                "R8", "The person has not been selected by or decided for any municipality."
            )
        self.check_date_bounds(settlement_date, today, cutoff)
        self.check_no_date_yet()

    def check_date_bounds(self, settlement_date: date, today: date, cutoff: date) -> None:
        """R7e: not before the cut-off, not before selection, not in the future."""
        if settlement_date < cutoff:
            raise RuleViolation(
                "R7e", f"The date is before the settlement cut-off {cutoff.isoformat()}.",
                refusal=Refusal.INPUT, field="date",
            )
        if self.selected_on is not None and settlement_date < self.selected_on:
            raise RuleViolation(
                "R7e",
                f"The date is before the person was selected ({self.selected_on.isoformat()}).",
                field="date",
            )
        if settlement_date > today:
            raise RuleViolation("R7e", "The date is in the future.", refusal=Refusal.INPUT, field="date")

    def check_no_date_yet(self) -> None:
        if self.settlement_date is not None:
            raise RuleViolation(
                "R7f",
                f"A settlement date ({self.settlement_date.isoformat()}) is already registered; "
                "IMDi corrects it.",
            )

    @event("SettlementDateRegistered")
    def register_settlement_date(
        self, meta: dict[str, Any], settlement_date: date, municipality: str, source: str
    ) -> None:
        self.settlement_date = settlement_date

    @event("SettlementDateCorrected")
    def correct_settlement_date(
        self,
        meta: dict[str, Any],
        settlement_date: date,
        previous_date: date,
        municipality: str,
        reason: str,
    ) -> None:
        self.settlement_date = settlement_date

    # R12: deviations
    @event("DeviationOpened")
    def open_deviation(
        self,
        meta: dict[str, Any],
        deviation_id: str,
        kind: str,
        description: str,
        registered_private_by_known_deviation: bool,
    ) -> None:
        self.deviations[deviation_id] = True
        if registered_private_by_known_deviation:
            self.registered_private_by_known_deviation = True

    def check_deviation_open(self, deviation_id: str) -> None:
        if deviation_id not in self.deviations:
            raise NotFound("deviation", deviation_id)
        if not self.deviations[deviation_id]:
            raise RuleViolation("R12", "The deviation is already resolved.")

    @event("DeviationResolved")
    def resolve_deviation(self, meta: dict[str, Any], deviation_id: str, note: str) -> None:
        self.deviations[deviation_id] = False


class Family(Aggregate):
    """The members of one family (same ``family_id``), so that lists never split a family (R3, R4)."""

    @staticmethod
    def create_id(family_id: str) -> UUID:
        return natural_id("family", family_id)

    @event("FamilyFormed")
    def __init__(self, meta: dict[str, Any], family_id: str) -> None:
        self.family_id = family_id
        self.members: list[UUID] = []

    @event("FamilyMemberAdded")
    def add_member(self, meta: dict[str, Any], refugee_id: UUID) -> None:
        self.members.append(refugee_id)


class PersonFolderView(Aggregate):
    """One read of a person folder (R6), an aggregate of its own so that reads never conflict with writes."""

    @event("PersonFolderViewed")
    def __init__(self, meta: dict[str, Any], refugee_id: UUID, municipality: str | None) -> None:
        self.refugee_id = refugee_id
        self.municipality = municipality
