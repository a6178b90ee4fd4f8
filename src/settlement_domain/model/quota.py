"""Quota year: IMDi's request (anmodning), the municipality's decision (vedtak) and the places used, for one year."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from settlement_domain import rules
from settlement_domain.errors import RuleViolation, Text
from settlement_domain.model.ids import natural_id

if TYPE_CHECKING:
    from settlement_domain.model.dynamic import DynamicEvent


def _places(count: int) -> Text:
    if count == 1:
        return Text("%(count)s place", {"count": count})
    return Text("%(count)s places", {"count": count})


def _used(count: int) -> Text:
    if count == 1:
        return Text("%(count)s is used", {"count": count})
    return Text("%(count)s are used", {"count": count})


class QuotaYear(Aggregate):
    """One municipality's places for one year (R10): request (R1), quota decision (R2), places used.

    Every person takes exactly one place: a selection takes it in the list's year (R4), a settlement
    decision keeps it or moves it to another year (R5). Places are only taken where they are vacant,
    unless IMDi overrides with a reason; those are counted ``over_quota``, and they are the only
    way ``vacant`` goes negative, besides the places persons of a history import took (R15). Every revision is its own event; the latest request and decision stand.
    """

    # Places taken by selections of person-level history imports (R15); a class default, so that
    # snapshots taken before it was counted read 0.
    historical_places_taken = 0

    if TYPE_CHECKING:  # the classes @event("...") makes below (settlement_domain/model/dynamic.py)

        class QuotaYearOpened(DynamicEvent): ...

        class HistoricalSettledCountRecorded(DynamicEvent): ...

        class PlacesTakenBySelection(DynamicEvent): ...

        class SettlementPlaceTaken(DynamicEvent): ...

        class SettlementPlaceReleased(DynamicEvent): ...

    # Counters added after the first snapshots were stored: a snapshot without them reads the default.
    over_quota_persons = 0
    over_quota_minors = 0

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
        self.places_taken = 0  # persons whose place is in this year (selected or decided), R10 "used"
        self.minor_places_taken = 0

    @property
    def requested(self) -> tuple[int, int] | None:
        """The latest request as (persons, unaccompanied minors), or None."""
        if self.requested_persons is None:
            return None
        return (self.requested_persons, self.requested_minors or 0)  # an import may not give the minors

    @property
    def decided(self) -> tuple[int, int] | None:
        """The latest quota decision as (persons, unaccompanied minors), or None (R10: null, not 0).

        A decision imported from IMDi's statistics gives no minors (R15): it sets no separate limit for
        them, so the persons' limit stands for them too.
        """
        if self.decided_persons is None:
            return None
        minors = self.decided_minors if self.decided_minors is not None else self.decided_persons
        return (self.decided_persons, minors)

    @property
    def used(self) -> tuple[int, int]:
        """Places used (R10): persons, and unaccompanied minors among them."""
        return (self.places_taken, self.minor_places_taken)

    def vacant(self) -> tuple[int, int] | None:
        """R10: decided minus used, or None while nothing is decided."""
        if self.decided is None:
            return None
        return (self.decided[0] - self.places_taken, self.decided[1] - self.minor_places_taken)

    # R1 ----------------------------------------------------------------------------------------

    def request(
        self, meta: dict[str, Any], persons: int, minors: int, reason: str | None, today: date
    ) -> None:
        """R1: the first request, or a revision that gives its reason."""
        rules.check_place_counts("R1", self.year, persons, minors, today)
        reason = rules.check_text("R1", reason, "reason") if reason and reason.strip() else None
        if self.requested is not None and reason is None:
            raise RuleViolation(
                "R1",
                "A request for %(year)s was already sent; a revision must give a reason.",
                field="reason",
                params={"year": self.year},
            )
        self._settlement_requested(
            meta=meta,
            municipality=self.municipality,
            year=self.year,
            persons=persons,
            unaccompanied_minors=minors,
            reason=reason,
            revision=self.request_revisions + (self.requested is not None),
            source=None,
        )

    class SettlementRequested(Aggregate.Event):
        """R1: IMDi's request, or (R15) one imported from IMDi's statistics, marked by its ``source``.

        Version 2 added ``source`` (file, checksum, line of an import; None for a request sent here);
        an imported request may not know its minors (``unaccompanied_minors`` None).
        """

        class_version = 2

        meta: dict[str, Any]
        municipality: str
        year: int
        persons: int
        unaccompanied_minors: int | None
        reason: str | None
        revision: int
        source: dict[str, Any] | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["source"] = None

    @event(SettlementRequested)
    def _settlement_requested(
        self,
        meta: dict[str, Any],
        municipality: str,
        year: int,
        persons: int,
        unaccompanied_minors: int | None,
        reason: str | None,
        revision: int,
        source: dict[str, Any] | None,
    ) -> None:
        self.requested_persons, self.requested_minors = persons, unaccompanied_minors
        self.request_revisions = revision
        self.request_imported = source is not None

    # R2 ----------------------------------------------------------------------------------------

    def decide(
        self,
        meta: dict[str, Any],
        persons: int,
        minors: int,
        decided_on: date,
        on_behalf: bool,
        today: date,
    ) -> None:
        """R2: the municipality's decision; a later one revises it and all are kept.

        A revision cannot go below the places already used within the quota (R10: only an override
        makes ``vacant`` negative); the refusal gives the figures.
        """
        rules.check_place_counts("R2", self.year, persons, minors, today)
        if decided_on > today:
            raise rules.refuse_input("R2", "The decision date is in the future.", "decided_on")
        if decided_on.year < rules.FIRST_YEAR:
            raise rules.refuse_input(
                "R2", "The decision date is before %(year)s.", "decided_on", {"year": rules.FIRST_YEAR}
            )
        within_persons = self.places_taken - self.over_quota_persons
        within_minors = self.minor_places_taken - self.over_quota_minors
        if persons < within_persons:
            raise RuleViolation(
                "R2",
                "%(municipality)s already uses %(places)s in %(year)s; "
                "the decision cannot be fewer than %(within)s persons.",
                field="persons",
                params={
                    "municipality": self.municipality,
                    "places": _places(self.places_taken),
                    "year": self.year,
                    "within": within_persons,
                },
            )
        if minors < within_minors:
            raise RuleViolation(
                "R2",
                "%(municipality)s already uses %(places)s for unaccompanied "
                "minors in %(year)s; the decision cannot be fewer than %(within)s.",
                field="unaccompanied_minors",
                params={
                    "municipality": self.municipality,
                    "places": _places(self.minor_places_taken),
                    "year": self.year,
                    "within": within_minors,
                },
            )
        self._quota_decided(
            meta=meta,
            municipality=self.municipality,
            year=self.year,
            persons=persons,
            unaccompanied_minors=minors,
            decided_on=decided_on,
            recorded_by_imdi=on_behalf,
            revision=self.decision_revisions + (self.decided is not None),
            source=None,
        )

    class QuotaDecided(Aggregate.Event):
        """R2: the municipality's decision, or (R15) one imported from IMDi's statistics, marked by its
        ``source``.

        Version 2 added ``source`` (None for a decision recorded here); an imported decision may not know
        its date (``decided_on`` None) or its minors (``unaccompanied_minors`` None).
        """

        class_version = 2

        meta: dict[str, Any]
        municipality: str
        year: int
        persons: int
        unaccompanied_minors: int | None
        decided_on: date | None
        recorded_by_imdi: bool
        revision: int
        source: dict[str, Any] | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["source"] = None

    @event(QuotaDecided)
    def _quota_decided(
        self,
        meta: dict[str, Any],
        municipality: str,
        year: int,
        persons: int,
        unaccompanied_minors: int | None,
        decided_on: date | None,
        recorded_by_imdi: bool,
        revision: int,
        source: dict[str, Any] | None,
    ) -> None:
        self.decided_persons, self.decided_minors = persons, unaccompanied_minors
        self.decision_revisions = revision
        self.decision_imported = source is not None

    # R15: historical figures from IMDi's statistics -----------------------------------------------

    # Class defaults, for quota years stored before these existed: the settled count of IMDi's
    # statistics, and whether the request and the decision in force came from an import (R15).
    historical_settled: int | None = None
    historical_settled_revisions = 0
    request_imported = False
    decision_imported = False

    def record_historical(
        self, meta: dict[str, Any], kind: str, persons: int, source: dict[str, Any], revise_reason: str | None
    ) -> bool:
        """R15: one figure of IMDi's statistics (``request``, ``decision`` or ``settled``) for this year.

        The same figure again changes nothing (answers False); another figure than an imported one is a
        conflict (field: the kind), refused unless the import revises it with a reason (then kept as a
        revision). Never revised by an import (field ``persons``): a request or decision recorded in this
        service, and a decision below the places used within the quota (R2, R10).
        """
        if persons < 0:
            raise rules.refuse_input("R15", "A count of persons cannot be negative.", "persons")
        stored = {
            "request": self.requested_persons,
            "decision": self.decided_persons,
            "settled": self.historical_settled,
        }[kind]
        if stored == persons:
            return False
        live = stored is not None and (
            (kind == "request" and not self.request_imported)
            or (kind == "decision" and not self.decision_imported)
        )
        if live:
            raise RuleViolation(
                "R15",
                "%(municipality)s %(year)s: the %(kind)s of %(stored)s persons was recorded in this service; "
                "the file says %(persons)s, and an import does not revise what was recorded here.",
                field="persons",
                params={
                    "municipality": self.municipality,
                    "year": self.year,
                    "kind": Text(kind),
                    "stored": stored,
                    "persons": persons,
                },
            )
        # Places that persons of a history import took are history as well: a decision of the
        # statistics is not refused below them (either import may come first).
        within = self.places_taken - self.over_quota_persons - self.historical_places_taken
        if kind == "decision" and persons < within:
            raise RuleViolation(
                "R15",
                "%(municipality)s %(year)s: the file decides %(persons)s places, but %(within)s are used "
                "within the quota (R2, R10); it is not imported.",
                field="persons",
                params={
                    "municipality": self.municipality,
                    "year": self.year,
                    "persons": persons,
                    "within": within,
                },
            )
        reason = rules.check_text("R15", revise_reason, "reason") if revise_reason else None
        if stored is not None and reason is None:
            raise RuleViolation(
                "R15",
                "%(municipality)s %(year)s: the %(kind)s stored is %(stored)s persons, the file says "
                "%(persons)s; import it as a revision, with a reason, or leave it.",
                field=kind,
                params={
                    "municipality": self.municipality,
                    "year": self.year,
                    "kind": Text(kind),
                    "stored": stored,
                    "persons": persons,
                },
            )
        if kind == "request":
            self._settlement_requested(
                meta=meta, municipality=self.municipality, year=self.year, persons=persons,
                unaccompanied_minors=None, reason=reason,
                revision=self.request_revisions + (stored is not None), source=source,
            )  # fmt: skip
        elif kind == "decision":
            self._quota_decided(
                meta=meta, municipality=self.municipality, year=self.year, persons=persons,
                unaccompanied_minors=None, decided_on=None, recorded_by_imdi=True,
                revision=self.decision_revisions + (stored is not None), source=source,
            )  # fmt: skip
        else:
            self._historical_settled_count_recorded(
                meta=meta, municipality=self.municipality, year=self.year, persons=persons,
                reason=reason, revision=self.historical_settled_revisions + (stored is not None), source=source,
            )  # fmt: skip
        return True

    @event("HistoricalSettledCountRecorded")
    def _historical_settled_count_recorded(
        self,
        meta: dict[str, Any],
        municipality: str,
        year: int,
        persons: int,
        reason: str | None,
        revision: int,
        source: dict[str, Any],
    ) -> None:
        self.historical_settled = persons
        self.historical_settled_revisions = revision

    # R4, R5: places taken ----------------------------------------------------------------------

    def shortfall(self, persons: int, minors: int) -> Text | None:
        """Why ``persons`` more (``minors`` of them unaccompanied minors) find no vacant places, or None."""
        return self._shortfall(persons, minors)

    def _shortfall(self, persons: int, minors: int) -> Text | None:
        """Why ``persons`` (of which ``minors``) more places do not fit, with the figures; None if they do."""
        if self.decided is None:
            return Text(
                "%(municipality)s has recorded no quota decision for %(year)s",
                {"municipality": self.municipality, "year": self.year},
            )
        decided_persons, decided_minors = self.decided
        vacant_persons, vacant_minors = self.vacant() or (0, 0)
        if persons > vacant_persons:
            return Text(
                "%(municipality)s decided %(places)s for %(year)s, %(used)s and %(vacant)s vacant; %(asked)s asked",
                {
                    "municipality": self.municipality, "places": _places(decided_persons), "year": self.year,
                    "used": _used(self.places_taken), "vacant": vacant_persons, "asked": persons,
                },
            )  # fmt: skip
        if minors > vacant_minors:
            return Text(
                "%(municipality)s decided %(places)s for unaccompanied minors for %(year)s, %(used)s and "
                "%(vacant)s vacant; %(asked)s asked",
                {
                    "municipality": self.municipality, "places": _places(decided_minors), "year": self.year,
                    "used": _used(self.minor_places_taken), "vacant": vacant_minors, "asked": minors,
                },
            )  # fmt: skip
        return None

    def take_places_by_selection(
        self, meta: dict[str, Any], list_id: UUID, refugee_ids: Sequence[UUID], minors: int
    ) -> None:
        """R4: the persons accepted on a list take places of this year; they must fit the vacant ones."""
        shortfall = self._shortfall(len(refugee_ids), minors)
        if shortfall is not None:
            raise RuleViolation(
                "R4",
                "The accepted persons do not fit: %(shortfall)s. Revise the quota decision (R2) or decline persons.",
                params={"shortfall": shortfall},
            )
        self._places_taken_by_selection(
            meta=meta,
            municipality=self.municipality,
            year=self.year,
            list_id=list_id,
            refugee_ids=list(refugee_ids),
            unaccompanied_minors=minors,
        )

    @event("PlacesTakenBySelection")
    def _places_taken_by_selection(
        self,
        meta: dict[str, Any],
        municipality: str,
        year: int,
        list_id: UUID,
        refugee_ids: list[UUID],
        unaccompanied_minors: int,
    ) -> None:
        self.places_taken += len(refugee_ids)
        self.minor_places_taken += unaccompanied_minors
        if meta.get("source"):  # R15: a selection of a person-level history import
            self.historical_places_taken += len(refugee_ids)

    def take_historical_place(
        self, meta: dict[str, Any], selection_id: UUID, refugee_id: UUID, unaccompanied_minor: bool
    ) -> None:
        """R15: a person of a history import took a place of this year when selected. History is
        recorded as it happened, so it is not held to the vacant places: where the source's persons
        exceed the decided quota, vacant shows it below zero."""
        self._places_taken_by_selection(
            meta=meta, municipality=self.municipality, year=self.year, list_id=selection_id,
            refugee_ids=[refugee_id], unaccompanied_minors=int(unaccompanied_minor),
        )  # fmt: skip

    def take_place(
        self, meta: dict[str, Any], refugee_id: UUID, unaccompanied_minor: bool, override_reason: str | None
    ) -> None:
        """R5: a settlement decision moves a person's place into this year; past the vacant places
        only with IMDi's override reason (then counted over quota)."""
        shortfall = self._shortfall(1, int(unaccompanied_minor))
        if shortfall is not None and override_reason is None:
            raise RuleViolation(
                "R5",
                "No vacant place: %(shortfall)s. A settlement decision for %(year)s needs an override reason.",
                field="override_reason",
                params={"shortfall": shortfall, "year": self.year},
            )
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
        # Over quota is decided by the state before the place is taken, so a replay decides the same;
        # each kind of place counts only where that kind was short (a minor's place may be, a person's not).
        if override_reason is not None:
            vacant_persons, vacant_minors = self.vacant() or (0, 0)
            self.over_quota_persons += int(vacant_persons < 1)
            self.over_quota_minors += int(unaccompanied_minor and vacant_minors < 1)
        self.places_taken += 1
        self.minor_places_taken += int(unaccompanied_minor)

    def release_place(
        self, meta: dict[str, Any], refugee_id: UUID, unaccompanied_minor: bool, to_year: int
    ) -> None:
        """R5: a settlement decision for another year moves the person's place out of this one, which
        must hold a place to release (of a minor, for a minor)."""
        if self.places_taken < 1 or (unaccompanied_minor and self.minor_places_taken < 1):
            raise RuleViolation(
                "R5",
                "%(municipality)s has no place of %(year)s taken to move to %(to_year)s.",
                params={"municipality": self.municipality, "year": self.year, "to_year": to_year},
            )
        self._place_released(
            meta=meta,
            municipality=self.municipality,
            year=self.year,
            refugee_id=refugee_id,
            unaccompanied_minor=unaccompanied_minor,
            to_year=to_year,
        )

    @event("SettlementPlaceReleased")
    def _place_released(
        self,
        meta: dict[str, Any],
        municipality: str,
        year: int,
        refugee_id: UUID,
        unaccompanied_minor: bool,
        to_year: int,
    ) -> None:
        self.places_taken -= 1
        self.minor_places_taken -= int(unaccompanied_minor)
