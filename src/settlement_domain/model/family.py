"""Family: the members registered under one ``family_id``, so that lists never split a family (R3, R4)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from settlement_domain.model.ids import natural_id

if TYPE_CHECKING:
    from settlement_domain.model.dynamic import DynamicEvent


class Family(Aggregate):
    """The members of one family (same ``family_id``); a family is proposed and accepted whole."""

    if TYPE_CHECKING:  # the classes @event("...") makes below (settlement_domain/model/dynamic.py)

        class FamilyFormed(DynamicEvent): ...

        class FamilyMemberAdded(DynamicEvent): ...

    @staticmethod
    def create_id(family_id: str) -> UUID:
        return natural_id("family", family_id)

    @event("FamilyFormed")
    def __init__(self, meta: dict[str, Any], family_id: str) -> None:
        self.family_id = family_id
        self.members: list[UUID] = []

    def add_member(self, meta: dict[str, Any], refugee_id: UUID) -> None:
        """A newly registered person joins the family (once)."""
        if refugee_id in self.members:
            return
        self._member_added(meta=meta, refugee_id=refugee_id)

    @event("FamilyMemberAdded")
    def _member_added(self, meta: dict[str, Any], refugee_id: UUID) -> None:
        self.members.append(refugee_id)
