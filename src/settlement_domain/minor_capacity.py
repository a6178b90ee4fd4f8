"""Capacity report (kapasitet) for unaccompanied minors over 15 (R11)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from eventsourcing.domain import Aggregate, event

from settlement_domain.errors import RuleViolation


class CapacityStatus(StrEnum):
    OPEN = "open"
    WITHDRAWN = "withdrawn"
    FILLED = "filled"


class MinorCapacity(Aggregate):
    """A municipality's report of vacant capacity for unaccompanied minors aged 15-17 (R11)."""

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

    def check_open(self) -> None:
        if self.status is not CapacityStatus.OPEN:
            raise RuleViolation("R11", f"The capacity report is already {self.status.value}.")

    @event("MinorCapacityWithdrawn")
    def withdraw(self, meta: dict[str, Any], reason: str) -> None:
        self.status = CapacityStatus.WITHDRAWN

    @event("MinorCapacityFilled")
    def mark_filled(self, meta: dict[str, Any]) -> None:
        self.status = CapacityStatus.FILLED
