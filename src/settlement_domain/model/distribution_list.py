"""Distribution list (fordelingsliste): concrete persons IMDi proposes to one municipality for one year."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from settlement_domain import rules
from settlement_domain.errors import RuleViolation, Text
from settlement_domain.values import Decline

if TYPE_CHECKING:
    from settlement_domain.model.dynamic import DynamicEvent


class ListStatus(StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    WITHDRAWN = "withdrawn"


class DistributionList(Aggregate):
    """Distribution list (fordelingsliste) proposed to one municipality for a settlement year (R3, R4)."""

    if TYPE_CHECKING:  # the classes @event("...") makes below (settlement_domain/model/dynamic.py)

        class DistributionListApproved(DynamicEvent): ...

        class DistributionListWithdrawn(DynamicEvent): ...

    class DistributionListCreated(Aggregate.Created):
        """R3: the list, its persons (families whole), its respond-by date and settlement year.

        Version 2 added ``year``; a version-1 list's year is the year of its respond-by date (R3's default).
        """

        class_version = 2

        meta: dict[str, Any]
        municipality: str
        refugee_ids: list[UUID]
        families: dict[str, list[UUID]]
        respond_by: date
        year: int

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["year"] = state["respond_by"].year

    @classmethod
    def propose(
        cls,
        meta: dict[str, Any],
        municipality: str,
        refugee_ids: Sequence[UUID],
        families: Mapping[str, Sequence[UUID]],
        respond_by: date,
        year: int | None,
        today: date,
    ) -> DistributionList:
        """R3: at least one person, a respond-by date after today, a year within R1's bounds, and
        every family (``families``: each proposed person's family with all its members) whole."""
        if respond_by <= today:
            raise rules.refuse_input("R3", "The respond-by date must be after today.", "respond_by")
        year = respond_by.year if year is None else year
        rules.check_year("R3", year, today)
        if not refugee_ids:
            raise rules.refuse_input("R3", "A distribution list names at least one person.", "refugee_ids")
        proposed = set(refugee_ids)
        for family_id, members in families.items():
            left_out = [m for m in members if m not in proposed]
            if left_out:
                raise RuleViolation(
                    "R3",
                    "Family %(family)s is proposed whole; missing: %(missing)s.",
                    field="refugee_ids",
                    params={"family": family_id, "missing": [str(m) for m in left_out]},
                )
        return cls(
            meta=meta,
            municipality=municipality,
            refugee_ids=list(refugee_ids),
            families={family_id: list(members) for family_id, members in families.items()},
            respond_by=respond_by,
            year=year,
        )

    @event(DistributionListCreated)
    def __init__(
        self,
        meta: dict[str, Any],
        municipality: str,
        refugee_ids: list[UUID],
        families: dict[str, list[UUID]],
        respond_by: date,
        year: int,
    ) -> None:
        self.municipality = municipality
        self.refugee_ids = refugee_ids
        self.families = families  # family_id -> members on this list
        self.respond_by = respond_by
        self.year = year
        self.status = ListStatus.OPEN

    def check_open(self, rule: str) -> None:
        if self.status is not ListStatus.OPEN:
            raise RuleViolation(
                rule,
                "The distribution list is %(status)s, no longer open.",
                params={"status": Text(self.status.value)},
            )

    def check_approval(self, accepted: Sequence[UUID], declined: Sequence[Decline]) -> None:
        """R4: open, every person named exactly once, a reason for each decline, families whole."""
        self.check_open("R4")
        named = [*accepted, *(d.refugee_id for d in declined)]
        duplicates = {str(r) for r in named if named.count(r) > 1}
        if duplicates:
            raise rules.refuse_input(
                "R4",
                "Persons named more than once: %(persons)s.",
                "accepted",
                {"persons": sorted(duplicates)},
            )
        strangers = set(named) - set(self.refugee_ids)
        if strangers:
            raise rules.refuse_input(
                "R4",
                "Persons not on this list: %(persons)s.",
                "accepted",
                {"persons": sorted(map(str, strangers))},
            )
        missing = set(self.refugee_ids) - set(named)
        if missing:
            raise rules.refuse_input(
                "R4",
                "Every person on the list must be accepted or declined; missing: %(persons)s.",
                "accepted",
                {"persons": sorted(map(str, missing))},
            )
        for decline in declined:
            if not (decline.reason and decline.reason.strip()):
                raise rules.refuse_input(
                    "R4", "Declining %(person)s needs a reason.", "declined", {"person": decline.refugee_id}
                )
        accepted_set = set(accepted)
        for members in self.families.values():
            taken = [m for m in members if m in accepted_set]
            if taken and len(taken) != len(members):
                # The family's own text is never shown to the municipality (it may name the family).
                raise rules.refuse_input(
                    "R4",
                    "A family must be accepted or declined whole: %(persons)s.",
                    "accepted",
                    {"persons": [str(m) for m in members]},
                )

    def approve(
        self, meta: dict[str, Any], accepted: Sequence[UUID], declined: Sequence[Decline], approved_on: date
    ) -> None:
        """R4: the municipality's answer for every person on the open list."""
        self.check_approval(accepted, declined)
        self._approved(
            meta=meta,
            municipality=self.municipality,
            accepted=list(accepted),
            declined=[{"refugee_id": d.refugee_id, "reason": d.reason.strip()} for d in declined],
            approved_on=approved_on,
        )

    @event("DistributionListApproved")
    def _approved(
        self,
        meta: dict[str, Any],
        municipality: str,
        accepted: list[UUID],
        declined: list[dict[str, Any]],
        approved_on: date,
    ) -> None:
        self.status = ListStatus.APPROVED

    def withdraw(self, meta: dict[str, Any], reason: str) -> None:
        """R3: IMDi withdraws an open list, with a reason."""
        reason = rules.check_text("R3", reason, "reason")
        self.check_open("R3")
        self._withdrawn(meta=meta, municipality=self.municipality, reason=reason)

    @event("DistributionListWithdrawn")
    def _withdrawn(self, meta: dict[str, Any], municipality: str, reason: str) -> None:
        self.status = ListStatus.WITHDRAWN
