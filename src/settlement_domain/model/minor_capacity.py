"""Capacity report (kapasitet) for unaccompanied minors over 15 (R11)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from eventsourcing.domain import Aggregate, event

from settlement_domain import rules
from settlement_domain.errors import RuleViolation, Text

if TYPE_CHECKING:
    from settlement_domain.model.dynamic import DynamicEvent


class CapacityStatus(StrEnum):
    OPEN = "open"
    WITHDRAWN = "withdrawn"
    FILLED = "filled"


class MinorCapacity(Aggregate):
    """A municipality's report of vacant capacity for unaccompanied minors aged 15-17 (R11)."""

    if TYPE_CHECKING:  # the classes @event("...") makes below (settlement_domain/model/dynamic.py)

        class MinorCapacityReported(DynamicEvent): ...

        class MinorCapacityWithdrawn(DynamicEvent): ...

        class MinorCapacityFilled(DynamicEvent): ...

    @classmethod
    def report(
        cls,
        meta: dict[str, Any],
        municipality: str,
        places: int,
        expected_week: str,
        min_age: int,
        max_age: int,
        round_the_clock_staffing: bool,
        special_conditions: str,
        today: date,
    ) -> MinorCapacity:
        """R11: at least one place, a week not in the past, ages within 15..17 (under 15: Bufetat)."""
        rules.check_minor_capacity(places, expected_week, min_age, max_age, today)
        return cls(
            meta=meta,
            municipality=municipality,
            places=places,
            expected_week=expected_week,
            min_age=min_age,
            max_age=max_age,
            round_the_clock_staffing=bool(round_the_clock_staffing),
            special_conditions=(special_conditions or "").strip(),
        )

    @event("MinorCapacityReported")
    def __init__(
        self,
        meta: dict[str, Any],
        municipality: str,
        places: int,
        expected_week: str,
        min_age: int,
        max_age: int,
        round_the_clock_staffing: bool,
        special_conditions: str,
    ) -> None:
        self.municipality = municipality
        self.places = places
        self.expected_week = expected_week
        self.status = CapacityStatus.OPEN

    def _check_open(self) -> None:
        if self.status is not CapacityStatus.OPEN:
            raise RuleViolation(
                "R11",
                "The capacity report is already %(status)s.",
                params={"status": Text(self.status.value)},
            )

    def withdraw(self, meta: dict[str, Any], reason: str) -> None:
        """R11: an open report is withdrawn, with a reason."""
        reason = rules.check_text("R11", reason, "reason")
        self._check_open()
        self._withdrawn(meta=meta, reason=reason)

    @event("MinorCapacityWithdrawn")
    def _withdrawn(self, meta: dict[str, Any], reason: str) -> None:
        self.status = CapacityStatus.WITHDRAWN

    def mark_filled(self, meta: dict[str, Any]) -> None:
        """R11: an open report is marked filled."""
        self._check_open()
        self._filled(meta=meta)

    @event("MinorCapacityFilled")
    def _filled(self, meta: dict[str, Any]) -> None:
        self.status = CapacityStatus.FILLED
