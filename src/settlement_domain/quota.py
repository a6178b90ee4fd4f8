"""Quota year: IMDi's request (anmodning) and the municipality's decision (vedtak) for one year."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from settlement_domain.errors import RuleViolation
from settlement_domain.ids import natural_id


class QuotaYear(Aggregate):
    """One municipality's places for one year: request (R1), quota decision (R2), places taken (R5).

    Every revision is its own event; the latest request and decision stand (R10).
    """

    @staticmethod
    def create_id(municipality: str, year: int) -> UUID:
        return natural_id("quota-year", municipality, year)

    @event("QuotaYearOpened")
    def __init__(self, meta: dict[str, Any], municipality: str, year: int) -> None:
        self.municipality = municipality
        self.year = year
        # Plain numbers (not tuples) so that a snapshot's JSON round trip keeps their types.
        self.requested_persons: int | None = None
        self.requested_minors: int | None = None
        self.decided_persons: int | None = None
        self.decided_minors: int | None = None
        self.request_revisions = 0
        self.decision_revisions = 0
        self.places_taken = 0  # persons with a settlement decision for this year (R5)
        self.minor_places_taken = 0

    @property
    def requested(self) -> tuple[int, int] | None:
        """The latest request as (persons, unaccompanied minors), or None."""
        if self.requested_persons is None:
            return None
        return (self.requested_persons, self.requested_minors or 0)

    @property
    def decided(self) -> tuple[int, int] | None:
        """The latest quota decision as (persons, unaccompanied minors), or None (R10: null, not 0)."""
        if self.decided_persons is None:
            return None
        return (self.decided_persons, self.decided_minors or 0)

    def request(self, meta: dict[str, Any], persons: int, minors: int, reason: str | None) -> None:
        """R1: the first request, or a revision that gives its reason."""
        if self.requested is not None and not (reason and reason.strip()):
            raise RuleViolation(
                "R1",
                f"A request for {self.year} was already sent; a revision must give a reason.",
                field="reason",
            )
        self._settlement_requested(
            meta=meta,
            municipality=self.municipality,
            year=self.year,
            persons=persons,
            unaccompanied_minors=minors,
            reason=reason,
            revision=self.request_revisions + (self.requested is not None),
        )

    @event("SettlementRequested")
    def _settlement_requested(
        self,
        meta: dict[str, Any],
        municipality: str,
        year: int,
        persons: int,
        unaccompanied_minors: int,
        reason: str | None,
        revision: int,
    ) -> None:
        self.requested_persons, self.requested_minors = persons, unaccompanied_minors
        self.request_revisions = revision

    def decide(
        self, meta: dict[str, Any], persons: int, minors: int, decided_on: date, on_behalf: bool
    ) -> None:
        """R2: the municipality's decision; a later one revises it and all are kept."""
        self._quota_decided(
            meta=meta,
            municipality=self.municipality,
            year=self.year,
            persons=persons,
            unaccompanied_minors=minors,
            decided_on=decided_on,
            recorded_by_imdi=on_behalf,
            revision=self.decision_revisions + (self.decided is not None),
        )

    @event("QuotaDecided")
    def _quota_decided(
        self,
        meta: dict[str, Any],
        municipality: str,
        year: int,
        persons: int,
        unaccompanied_minors: int,
        decided_on: date,
        recorded_by_imdi: bool,
        revision: int,
    ) -> None:
        self.decided_persons, self.decided_minors = persons, unaccompanied_minors
        self.decision_revisions = revision

    def check_place_available(self, minor: bool, override_reason: str | None) -> None:
        """R5: a settlement decision takes a decided place, unless IMDi overrides with a reason."""
        if override_reason and override_reason.strip():
            return
        if self.decided is None:
            raise RuleViolation(
                "R5",
                f"Municipality {self.municipality} has recorded no quota decision for {self.year}; "
                "a settlement decision needs an override reason.",
                field="override_reason",
            )
        persons, minors = self.decided
        if self.places_taken + 1 > persons:
            raise RuleViolation(
                "R5",
                f"All {persons} decided places of {self.municipality} for {self.year} are used; "
                "a further decision needs an override reason.",
                field="override_reason",
            )
        if minor and self.minor_places_taken + 1 > minors:
            raise RuleViolation(
                "R5",
                f"All {minors} decided places for unaccompanied minors of {self.municipality} "
                f"for {self.year} are used; a further decision needs an override reason.",
                field="override_reason",
            )

    def take_place(
        self, meta: dict[str, Any], refugee_id: UUID, unaccompanied_minor: bool, override_reason: str | None
    ) -> None:
        """R5: the settlement decision of ``refugee_id`` uses one place (and one minor's place)."""
        self._place_taken(
            meta=meta,
            municipality=self.municipality,
            year=self.year,
            refugee_id=refugee_id,
            unaccompanied_minor=unaccompanied_minor,
            override_reason=override_reason,
        )

    @event("SettlementPlaceTaken")
    def _place_taken(
        self,
        meta: dict[str, Any],
        municipality: str,
        year: int,
        refugee_id: UUID,
        unaccompanied_minor: bool,
        override_reason: str | None,
    ) -> None:
        self.places_taken += 1
        self.minor_places_taken += int(unaccompanied_minor)
