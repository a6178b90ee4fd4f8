"""Refugee's settlement case (bosettingssak), from registration to settlement date."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from settlement_domain import rules
from settlement_domain.errors import FactConflict, NotFound, Refusal, RuleViolation
from settlement_domain.values import Category, Mapping, PostalAddress, Residence, ResidenceKind

if TYPE_CHECKING:
    from settlement_domain.model.dynamic import DynamicEvent


class DateSource(StrEnum):
    MUNICIPALITY = "municipality"  # R7: persons who lived privately
    RECEPTION = "reception"  # R8: persons settled from a reception centre
    HISTORY = "history"  # R15: a date from a person-level history import


class Refugee(Aggregate):
    """A refugee's settlement case (bosettingssak).

    Personal data (name, birth date, postal address, DUF number, the mapping) is kept only in the ``personal``
    field of its events, so that it can be encrypted per person and erased without rewriting the log.
    Each public method checks its rule and only then records the event.
    """

    decided_on: date | None = None  # the settlement decision's date (a class default for older snapshots)
    erased = False  # R18: the person's data key was deleted (a class default: older cases were never erased)

    family_ref: UUID | None = None  # the family's id (a class default: registrations of version 1)

    if TYPE_CHECKING:  # the classes @event("...") makes below (settlement_domain/model/dynamic.py)

        class MappingRecorded(DynamicEvent): ...

        class RefugeeProposed(DynamicEvent): ...

        class ProposalWithdrawn(DynamicEvent): ...

        class RefugeeDeclined(DynamicEvent): ...

        class SettlementDecided(DynamicEvent): ...

        class SettlementDateRegistered(DynamicEvent): ...

        class SettlementDateCorrected(DynamicEvent): ...

        class DeviationOpened(DynamicEvent): ...

        class DeviationResolved(DynamicEvent): ...

        class PersonalDataErased(DynamicEvent): ...

    @classmethod
    def register(
        cls,
        meta: dict[str, Any],
        full_name: str,
        birth_date: date,
        family_id: str | None,
        unaccompanied_minor: bool,
        residence: Residence,
        postal_address: PostalAddress,
        category: Category | str,
        today: date,
        duf_number: str | None = None,
        family_ref: UUID | None = None,
    ) -> Refugee:
        """Lifecycle 4: a person with a name, a possible birth date, a residence and an address, and
        the DUF number when known (R21); ``family_ref``: the family it joins (R3, R4)."""
        return cls(
            **cls._registration(
                meta, full_name, birth_date, family_id, unaccompanied_minor, postal_address, category, today,
                duf_number,
            ),
            residence=residence.as_dict(),
            family_ref=family_ref,
        )  # fmt: skip

    @classmethod
    def register_historical(
        cls,
        refugee_id: UUID,
        meta: dict[str, Any],
        full_name: str,
        birth_date: date,
        family_id: str | None,
        unaccompanied_minor: bool,
        residence: Residence,
        postal_address: PostalAddress,
        category: Category | str,
        registered_on: date,
        family_ref: UUID | None = None,
    ) -> Refugee:
        """R15: a person of a history import, under the id its source id gives; the registration's
        checks apply as of the day the source registered the person (a minor then may be an adult now)."""
        return cls._create(
            cls.RefugeeRegistered,
            id=refugee_id,
            **cls._registration(
                meta, full_name, birth_date, family_id, unaccompanied_minor, postal_address, category,
                registered_on,
            ),
            residence=residence.as_dict(),
            family_ref=family_ref,
        )  # fmt: skip

    @staticmethod
    def _registration(
        meta: dict[str, Any],
        full_name: str,
        birth_date: date,
        family_id: str | None,
        unaccompanied_minor: bool,
        postal_address: PostalAddress,
        category: Category | str,
        today: date,
        duf_number: str | None = None,
    ) -> dict[str, Any]:
        full_name = rules.check_text("registration", full_name, "full_name", max_length=300)
        if duf_number is not None:
            rules.check_duf_number(duf_number)
        if birth_date > today or birth_date.year < rules.EARLIEST_YEAR:
            raise rules.refuse_input("registration", "The birth date is not a possible one.", "birth_date")
        if unaccompanied_minor and rules.age_on(birth_date, today) >= 18:
            raise rules.refuse_input(
                "registration", "An unaccompanied minor is under 18 years old.", "unaccompanied_minor"
            )
        try:
            category = Category(category)
        except ValueError:
            raise rules.refuse_input(
                "registration",
                "The category is one of %(categories)s.",
                "category",
                {"categories": [c.value for c in Category]},
            ) from None
        return {
            "meta": meta,
            "personal": {
                "full_name": full_name,
                "birth_date": birth_date,
                "postal_address": postal_address.as_dict(),
                **({"duf_number": duf_number} if duf_number is not None else {}),
            },
            "family_id": (family_id or "").strip() or None,
            "unaccompanied_minor": bool(unaccompanied_minor),
            "category": category.value,
        }

    class RefugeeRegistered(Aggregate.Created):
        """Lifecycle 4: the person's registration.

        Version 2 added ``family_ref``, the id of the family the person joined (R3, R4): the family's
        ``family_id`` text is sealed with the person's key (R18) and reads as null once erased, while
        the family stays found by its id. A version-1 registration names none (its family is found by
        its text, which such an event keeps in the clear).
        """

        class_version = 2

        meta: dict[str, Any]
        personal: dict[str, Any]
        family_id: str | None
        unaccompanied_minor: bool
        residence: dict[str, Any]
        category: str
        family_ref: UUID | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["family_ref"] = None

    @event(RefugeeRegistered)
    def __init__(
        self,
        meta: dict[str, Any],
        personal: dict[str, Any],
        family_id: str | None,
        unaccompanied_minor: bool,
        residence: dict[str, Any],
        category: str,
        family_ref: UUID | None = None,
    ) -> None:
        self.personal = personal
        self.family_id = family_id
        self.family_ref = family_ref
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

    # Selections stored before places were taken at selection took none (see RefugeeSelected v2);
    # a class default, so that a refugee selected then reads False without an event setting it.
    selection_took_place = False

    @property
    def place(self) -> tuple[str, int] | None:
        """R10: the municipality and year of the one place the person holds in a quota year, or None."""
        if self.decided_for is not None and self.decision_year is not None:
            return (self.decided_for, self.decision_year)
        if self.selected_by is not None and self.selection_year is not None and self.selection_took_place:
            return (self.selected_by, self.selection_year)
        return None

    @property
    def has_open_deviation(self) -> bool:
        return any(self.deviations.values())

    def is_visible_to(self, municipality: str) -> bool:
        """Whether a municipality may know of this person at all (tenancy: 404 otherwise)."""
        return municipality in (self.proposed_to, self.selected_by, self.decided_for)

    def may_see_folder(self, municipality: str) -> bool:
        """R6: the person folder opens to the municipality that selected (or was decided) the person."""
        return municipality in (self.selected_by, self.decided_for)

    def check_folder_readable_by(self, municipality: str) -> None:
        """R6: a municipality reads the folder only once it has selected the person."""
        if not self.may_see_folder(municipality):
            raise RuleViolation(
                "R6",
                "The person folder opens once the municipality has selected the person.",
                refusal=Refusal.FORBIDDEN,
            )

    # Mapping -----------------------------------------------------------------------------------

    def record_mapping(self, meta: dict[str, Any], mapping: Mapping) -> None:
        """Lifecycle 4: the reception centre's mapping; a later one replaces it (never after erasure, R18)."""
        self.check_not_erased()
        self._mapping_recorded(meta=meta, personal=mapping.as_dict())

    @event("MappingRecorded")
    def _mapping_recorded(self, meta: dict[str, Any], personal: dict[str, Any]) -> None:
        self.mapping = personal

    # R3, R4: proposal, selection, decline --------------------------------------------------------

    def check_may_be_proposed(self) -> None:
        """R3: not settled or decided, not accepted by a municipality, not on another open list."""
        if self.settlement_date is not None or self.decided_for is not None:
            raise RuleViolation(
                "R3",
                "Person %(person)s is already settled or decided.",
                field="refugee_ids",
                params={"person": self.id},
            )
        if self.selected_by is not None:
            raise RuleViolation(
                "R3",
                "Person %(person)s was already accepted by %(municipality)s.",
                field="refugee_ids",
                params={"person": self.id, "municipality": self.selected_by},
            )
        if self.open_list_id is not None:
            raise RuleViolation(
                "R3",
                "Person %(person)s is already on another open distribution list.",
                field="refugee_ids",
                params={"person": self.id},
            )

    def propose(self, meta: dict[str, Any], list_id: UUID, municipality: str) -> None:
        """R3: the person is put on a distribution list."""
        self.check_may_be_proposed()
        self._proposed(meta=meta, list_id=list_id, municipality=municipality)

    @event("RefugeeProposed")
    def _proposed(self, meta: dict[str, Any], list_id: UUID, municipality: str) -> None:
        self.open_list_id = list_id
        self.proposed_to = municipality

    def _check_on_list(self, rule: str, list_id: UUID) -> None:
        if self.open_list_id != list_id:
            raise RuleViolation(
                rule,
                "Person %(person)s is not on the open distribution list %(list)s.",
                params={"person": self.id, "list": list_id},
            )

    def withdraw_proposal(self, meta: dict[str, Any], list_id: UUID) -> None:
        """R3: the list the person was on is withdrawn; the person is free again."""
        self._check_on_list("R3", list_id)
        self._proposal_withdrawn(meta=meta, list_id=list_id)

    @event("ProposalWithdrawn")
    def _proposal_withdrawn(self, meta: dict[str, Any], list_id: UUID) -> None:
        self.open_list_id = None
        self.proposed_to = None

    def decline(self, meta: dict[str, Any], list_id: UUID, municipality: str, reason: str) -> None:
        """R4: the municipality declines the person, with a reason."""
        self._check_on_list("R4", list_id)
        if not (reason and reason.strip()):
            raise rules.refuse_input(
                "R4", "Declining %(person)s needs a reason.", "declined", {"person": self.id}
            )
        reason = rules.check_text("R4", reason, "declined")
        self._declined(meta=meta, list_id=list_id, municipality=municipality, reason=reason)

    @event("RefugeeDeclined")
    def _declined(self, meta: dict[str, Any], list_id: UUID, municipality: str, reason: str) -> None:
        self.open_list_id = None
        self.proposed_to = None

    class RefugeeSelected(Aggregate.Event):
        """R4: the municipality accepted the person on a list; its place is in the list's year.

        Version 2 added ``took_place``: selections stored before it took no place of their quota year
        (places were counted at the settlement decision then), so a version-1 selection reads False.
        """

        class_version = 2

        meta: dict[str, Any]
        list_id: UUID
        municipality: str
        selected_on: date
        year: int
        took_place: bool

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["took_place"] = False

    def select(
        self, meta: dict[str, Any], list_id: UUID, municipality: str, selected_on: date, year: int
    ) -> None:
        """R4: the municipality accepts the person (utsøking); the place, taken by the approval of the
        list in its quota year, is in the list's year."""
        self._check_on_list("R4", list_id)
        self._selected(
            meta=meta,
            list_id=list_id,
            municipality=municipality,
            selected_on=selected_on,
            year=year,
            took_place=True,
        )

    @event(RefugeeSelected)
    def _selected(
        self,
        meta: dict[str, Any],
        list_id: UUID,
        municipality: str,
        selected_on: date,
        year: int,
        took_place: bool,
    ) -> None:
        self.open_list_id = None
        self.selected_by = municipality
        self.selected_on = selected_on
        self.selection_year = year
        self.selection_took_place = took_place

    # R5: settlement decision ---------------------------------------------------------------------

    def decide_settlement(
        self,
        meta: dict[str, Any],
        municipality: str,
        year: int,
        decided_on: date,
        override_reason: str | None,
    ) -> None:
        """R5: only for a person selected by that municipality, and only once."""
        if self.selected_by != municipality:
            raise RuleViolation(
                "R5",
                "A settlement decision needs the person to be selected by %(municipality)s first.",
                field="municipality",
                params={"municipality": municipality},
            )
        if self.decided_for is not None:
            raise RuleViolation("R5", "A settlement decision was already made for this person.")
        self._settlement_decided(
            meta=meta,
            municipality=municipality,
            year=year,
            decided_on=decided_on,
            override_reason=override_reason,
        )

    @event("SettlementDecided")
    def _settlement_decided(
        self,
        meta: dict[str, Any],
        municipality: str,
        year: int,
        decided_on: date,
        override_reason: str | None,
    ) -> None:
        self.decided_for = municipality
        self.decision_year = year
        self.decided_on = decided_on

    # R7, R8: settlement date ---------------------------------------------------------------------

    def register_settlement_date_by_municipality(
        self, meta: dict[str, Any], municipality: str, settlement_date: date, today: date, cutoff: date
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
        self._check_date_bounds(settlement_date, today, cutoff)
        self._check_no_date_yet()
        self._date_registered(DateSource.MUNICIPALITY, meta, settlement_date)

    def transfer_settlement_date_from_reception(
        self, meta: dict[str, Any], settlement_date: date, today: date, cutoff: date
    ) -> None:
        """R8: the reception system transfers dates only for persons settled from a reception centre."""
        if self.lived_privately:
            raise RuleViolation("R8", "The person lived privately; the municipality registers the date (R7).")
        if self.municipality is None:
            raise RuleViolation("R8", "The person has not been selected by or decided for any municipality.")
        self._check_date_bounds(settlement_date, today, cutoff)
        self._check_no_date_yet()
        self._date_registered(DateSource.RECEPTION, meta, settlement_date)

    def _date_registered(self, source: DateSource, meta: dict[str, Any], settlement_date: date) -> None:
        municipality = self.municipality
        if municipality is None:  # R7a and R8 refused this already: never a date without a municipality
            raise RuleViolation("R7a", "The person has not been selected by or decided for any municipality.")
        self._settlement_date_registered(
            meta=meta, settlement_date=settlement_date, municipality=municipality, source=source.value
        )

    def _check_date_bounds(self, settlement_date: date, today: date, cutoff: date) -> None:
        """R7e: not before the cut-off, not before selection, not in the future."""
        rules.check_settlement_date(settlement_date, today, cutoff)
        if self.selected_on is not None and settlement_date < self.selected_on:
            raise RuleViolation(
                "R7e",
                "The date is before the person was selected (%(date)s).",
                field="date",
                params={"date": self.selected_on},
            )

    def _check_no_date_yet(self) -> None:
        if self.settlement_date is not None:
            raise RuleViolation(
                "R7f",
                "A settlement date (%(date)s) is already registered; IMDi corrects it.",
                params={"date": self.settlement_date},
            )

    @event("SettlementDateRegistered")
    def _settlement_date_registered(
        self, meta: dict[str, Any], settlement_date: date, municipality: str, source: str
    ) -> None:
        self.settlement_date = settlement_date

    def correct_settlement_date(
        self, meta: dict[str, Any], settlement_date: date, reason: str, today: date, cutoff: date
    ) -> None:
        """R7f: IMDi corrects a date (or sets one where R7d bars the municipality), with a reason."""
        reason = rules.check_text("R7f", reason, "reason")
        if self.municipality is None:
            raise RuleViolation("R7f", "The person has not been selected by or decided for any municipality.")
        if self.settlement_date == settlement_date:
            raise RuleViolation("R7f", "That settlement date is already registered.", field="date")
        rules.check_settlement_date(settlement_date, today, cutoff)
        self._settlement_date_corrected(
            meta=meta,
            settlement_date=settlement_date,
            previous_date=self.settlement_date,
            municipality=self.municipality,
            reason=reason,
        )

    @event("SettlementDateCorrected")
    def _settlement_date_corrected(
        self,
        meta: dict[str, Any],
        settlement_date: date,
        previous_date: date | None,
        municipality: str,
        reason: str,
    ) -> None:
        self.settlement_date = settlement_date

    # R15: facts of a person-level history import -------------------------------------------------
    # A history is what happened elsewhere, on its own dates: today's checks of an action (a list to
    # approve, R7's cut-off) do not apply, but its order does (a decision needs the selection, a date
    # the decision). Each returns whether it recorded anything: the same fact again records nothing,
    # another fact where one is stored is a conflict (R15).

    def record_historical_selection(
        self, meta: dict[str, Any], selection_id: UUID, municipality: str, selected_on: date, year: int
    ) -> bool:
        if self.selected_by is not None:
            if (self.selected_by, self.selection_year, self.selected_on) == (municipality, year, selected_on):
                return False
            raise FactConflict(
                "The person is already selected by %(stored)s for %(stored_year)s on %(stored_on)s; "
                "the file says %(municipality)s for %(year)s on %(selected_on)s.",
                field="selection",
                params={
                    "stored": self.selected_by,
                    "stored_year": self.selection_year,
                    "stored_on": self.selected_on,
                    "municipality": municipality,
                    "year": year,
                    "selected_on": selected_on,
                },
            )
        if self.open_list_id is not None:
            raise RuleViolation("R15", "The person is on an open distribution list here.", field="selection")
        self._selected(
            meta=meta, list_id=selection_id, municipality=municipality, selected_on=selected_on, year=year,
            took_place=True,
        )  # fmt: skip
        return True

    def record_historical_decision(
        self,
        meta: dict[str, Any],
        municipality: str,
        year: int,
        decided_on: date,
        override_reason: str | None,
    ) -> bool:
        if self.decided_for is not None:
            if (self.decided_for, self.decision_year) == (municipality, year):
                return False
            raise FactConflict(
                "A settlement decision for %(stored)s (%(stored_year)s) is already stored; "
                "the file says %(municipality)s (%(year)s).",
                field="decision",
                params={
                    "stored": self.decided_for,
                    "stored_year": self.decision_year,
                    "municipality": municipality,
                    "year": year,
                },
            )
        if self.selected_by != municipality:
            raise RuleViolation(
                "R15", "A settlement decision needs the person selected by %(municipality)s first (R5).",
                field="decision", params={"municipality": municipality},
            )  # fmt: skip
        if self.selected_on is not None and decided_on < self.selected_on:
            raise RuleViolation(
                "R15", "The decision (%(decided_on)s) is before the selection (%(selected_on)s).",
                field="date", params={"decided_on": decided_on, "selected_on": self.selected_on},
            )  # fmt: skip
        self._settlement_decided(
            meta=meta, municipality=municipality, year=year, decided_on=decided_on,
            override_reason=override_reason,
        )  # fmt: skip
        return True

    def record_historical_settlement_date(
        self, meta: dict[str, Any], settlement_date: date, today: date, revise_reason: str | None = None
    ) -> bool:
        if self.settlement_date is not None:
            if self.settlement_date == settlement_date:
                return False
            if revise_reason is not None and settlement_date <= today:
                # R15 with R7f: the import corrects the stored date, with the operator's reason.
                self._settlement_date_corrected(
                    meta=meta, settlement_date=settlement_date, previous_date=self.settlement_date,
                    municipality=self.municipality or "", reason=rules.check_text("R15", revise_reason, "reason"),
                )  # fmt: skip
                return True
            raise FactConflict(
                "A settlement date (%(stored)s) is already stored; the file says %(date)s.",
                field="settlement_date",
                params={"stored": self.settlement_date, "date": settlement_date},
            )
        if self.decided_for is None:
            raise RuleViolation(
                "R15", "A settlement date needs the settlement decision first.", field="settlement_date"
            )
        if self.decided_on is not None and settlement_date < self.decided_on:
            raise RuleViolation(
                "R15", "The date is before the settlement decision (%(date)s).",
                field="settlement_date", params={"date": self.decided_on},
            )  # fmt: skip
        if settlement_date > today:
            raise RuleViolation(
                "R15", "A settlement date of a history is not in the future.", field="settlement_date"
            )
        if self.selected_on is not None and settlement_date < self.selected_on:
            raise RuleViolation(
                "R15", "The date is before the person was selected (%(date)s).",
                field="settlement_date", params={"date": self.selected_on},
            )  # fmt: skip
        self._date_registered(DateSource.HISTORY, meta, settlement_date)
        return True

    def record_historical_mapping(self, meta: dict[str, Any], mapping: Mapping) -> bool:
        """R15: the mapping of a history; the same again records nothing. R18: an erased person's
        mapping cannot be compared any more (nor recorded again): the file's line is taken as the
        one recorded before the erasure, and records nothing."""
        if self.erased or self.mapping == mapping.as_dict():
            return False
        self.record_mapping(meta, mapping)
        return True

    # R12: deviations ---------------------------------------------------------------------------

    def open_deviation(
        self,
        meta: dict[str, Any],
        deviation_id: str,
        kind: str,
        description: str,
        registered_private_by_known_deviation: bool,
    ) -> None:
        """R12: a discrepancy with a kind and a description; it blocks R7 until resolved."""
        self._deviation_opened(
            meta=meta,
            deviation_id=deviation_id,
            kind=rules.check_text("R12", kind, "kind", max_length=100),
            description=rules.check_text("R12", description, "description"),
            registered_private_by_known_deviation=bool(registered_private_by_known_deviation),
        )

    @event("DeviationOpened")
    def _deviation_opened(
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

    def resolve_deviation(self, meta: dict[str, Any], deviation_id: str, note: str) -> None:
        """R12: an open deviation is resolved, with a note."""
        note = rules.check_text("R12", note, "note")
        if deviation_id not in self.deviations:
            raise NotFound("deviation", deviation_id)
        if not self.deviations[deviation_id]:
            raise RuleViolation("R12", "The deviation is already resolved.")
        self._deviation_resolved(meta=meta, deviation_id=deviation_id, note=note)

    @event("DeviationResolved")
    def _deviation_resolved(self, meta: dict[str, Any], deviation_id: str, note: str) -> None:
        self.deviations[deviation_id] = False

    # R18: erasure ------------------------------------------------------------------------------

    def check_erasable(self, undelivered_letters: int = 0) -> None:
        """R18a-R18e: erasure waits while the case is open in a way the law needs kept, or while a
        letter naming the person may still go out (``undelivered_letters``, R18e)."""
        if self.erased:
            raise RuleViolation("R18d", "The person's personal data is already erased.")
        if self.open_list_id is not None:
            raise RuleViolation(
                "R18a", "The person is on an open distribution list; withdraw it or await the answer first."
            )
        if self.municipality is not None and self.settlement_date is None:
            raise RuleViolation(
                "R18b",
                "The person is selected by or decided for a municipality and the settlement date is not "
                "registered yet (R5, R7, R8).",
            )
        if self.has_open_deviation:
            raise RuleViolation("R18c", "The person's case has an unresolved deviation (R12).")
        if undelivered_letters:
            raise RuleViolation(
                "R18e",
                "%(count)s letters naming the person are not delivered yet (R9); erase once they are "
                "delivered or have failed for good.",
                params={"count": undelivered_letters},
            )

    def erase_personal_data(
        self, meta: dict[str, Any], legal_basis: str, reason: str, *, undelivered_letters: int = 0
    ) -> None:
        """R18: the person's data key is deleted; the event holds no personal data, only the legal
        basis and the reason (which name no person). ``undelivered_letters``: the letters naming the
        person that may still go out (R18e)."""
        legal_basis = rules.check_text("R18", legal_basis, "legal_basis", max_length=200)
        reason = rules.check_text("R18", reason, "reason", max_length=1000)
        self.check_erasable(undelivered_letters)
        self._personal_data_erased(meta=meta, legal_basis=legal_basis, reason=reason)

    @event("PersonalDataErased")
    def _personal_data_erased(self, meta: dict[str, Any], legal_basis: str, reason: str) -> None:
        self.erased = True
        self.personal = {"erased": True}
        if self.family_ref is not None:
            self.family_id = None  # sealed with the person's key (version 2): gone with it
        self.mapping = None

    def check_not_erased(self, rule: str = "R18") -> None:
        """R18: nothing personal is recorded about an erased person again."""
        if self.erased:
            raise RuleViolation(rule, "The person's personal data was erased.")
