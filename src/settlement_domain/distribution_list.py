"""Distribution list (fordelingsliste): concrete persons IMDi proposes to one municipality."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from settlement_domain.errors import RuleViolation
from settlement_domain.rules import refuse_input


class ListStatus(StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    WITHDRAWN = "withdrawn"


class DistributionList(Aggregate):
    """Distribution list (fordelingsliste) proposed to one municipality (R3, R4)."""

    @event("DistributionListCreated")
    def __init__(
        self,
        meta: dict[str, Any],
        municipality: str,
        refugee_ids: list[UUID],
        families: dict[str, list[UUID]],
        respond_by: date,
    ) -> None:
        self.municipality = municipality
        self.refugee_ids = refugee_ids
        self.families = families  # family_id -> members on this list
        self.respond_by = respond_by
        self.status = ListStatus.OPEN

    def check_open(self, rule: str) -> None:
        if self.status is not ListStatus.OPEN:
            raise RuleViolation(rule, f"The distribution list is {self.status.value}, no longer open.")

    def check_approval(self, accepted: list[UUID], declined: dict[UUID, str]) -> None:
        """R4: every person named exactly once, a reason for each decline, families whole."""
        self.check_open("R4")
        named = list(accepted) + list(declined)
        duplicates = {str(r) for r in named if named.count(r) > 1}
        if duplicates:
            raise refuse_input("R4", f"Persons named more than once: {', '.join(sorted(duplicates))}.", "accepted")
        strangers = set(named) - set(self.refugee_ids)
        if strangers:
            raise refuse_input(
                "R4",
                f"Persons not on this list: {', '.join(sorted(map(str, strangers)))}.",
                "accepted",
            )
        missing = set(self.refugee_ids) - set(named)
        if missing:
            raise refuse_input(
                "R4",
                f"Every person on the list must be accepted or declined; missing: "
                f"{', '.join(sorted(map(str, missing)))}.",
                "accepted",
            )
        for refugee_id, reason in declined.items():
            if not (reason and reason.strip()):
                raise refuse_input("R4", f"Declining {refugee_id} needs a reason.", "declined")
        accepted_set = set(accepted)
        for family_id, members in self.families.items():
            taken = [m for m in members if m in accepted_set]
            if taken and len(taken) != len(members):
                raise refuse_input(
                    "R4", f"Family {family_id} must be accepted or declined whole.", "accepted"
                )

    @event("DistributionListApproved")
    def approve(
        self,
        meta: dict[str, Any],
        municipality: str,
        accepted: list[UUID],
        declined: list[dict[str, Any]],
        approved_on: date,
    ) -> None:
        self.status = ListStatus.APPROVED

    @event("DistributionListWithdrawn")
    def withdraw(self, meta: dict[str, Any], municipality: str, reason: str) -> None:
        self.status = ListStatus.WITHDRAWN
