"""Family: the members registered under one ``family_id``, so that lists never split a family (R3, R4).

A family's aggregate id is derived from its ``family_id`` text with the store's own random key
(:class:`FamilyKey`, made once, kept in the log), never from the text alone: the id is shown to
municipalities as an opaque family reference, and nobody can test a guessed text against it.
Families formed before the key existed keep their old id (the text's natural id) and are found by it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING, Any, Self
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from settlement_domain.model.ids import natural_id

if TYPE_CHECKING:
    from settlement_domain.model.dynamic import DynamicEvent


class FamilyKey(Aggregate):
    """The store's random key from which family ids are derived (one per store)."""

    if TYPE_CHECKING:  # the classes @event("...") makes below (settlement_domain/model/dynamic.py)

        class FamilyKeyCreated(DynamicEvent): ...

    @staticmethod
    def create_id() -> UUID:
        return natural_id("family-key")

    @classmethod
    def make(cls, meta: dict[str, Any]) -> Self:
        return cls(meta=meta, key=secrets.token_hex(32))

    @event("FamilyKeyCreated")
    def __init__(self, meta: dict[str, Any], key: str) -> None:
        self.key = key

    def family_id(self, family_id: str) -> UUID:
        """The aggregate id of the family with this ``family_id`` text."""
        digest = hmac.new(bytes.fromhex(self.key), family_id.encode(), hashlib.sha256).digest()
        return UUID(bytes=digest[:16], version=4)


class Family(Aggregate):
    """The members of one family (same ``family_id``); a family is proposed and accepted whole."""

    if TYPE_CHECKING:  # the classes @event("...") makes below (settlement_domain/model/dynamic.py)

        class FamilyFormed(DynamicEvent, Aggregate.Created): ...  # made on __init__: a created event

        class FamilyMemberAdded(DynamicEvent): ...

    @staticmethod
    def create_id(family_id: str) -> UUID:
        """The id of a family formed before the store had a :class:`FamilyKey` (the text's natural id)."""
        return natural_id("family", family_id)

    @classmethod
    def form(cls, meta: dict[str, Any], family_id: str, key: FamilyKey) -> Self:
        """A new family, its id derived from the text with the store's key."""
        return cls._create(cls.FamilyFormed, id=key.family_id(family_id), meta=meta, family_id=family_id)

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
