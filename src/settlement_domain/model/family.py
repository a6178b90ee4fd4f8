"""Family: the members registered under one ``family_id``, so that lists never split a family (R3, R4).

A family's aggregate id is derived from its ``family_id`` text with a random key of the store, never
from the text alone: the id is shown to municipalities as an opaque family reference, and nobody can
test a guessed text against it. The key is ``store:family-ids`` in the key table (wrapped by the master
key, never in the log, R18). A store that made its key before that kept it in the log
(:class:`FamilyKey`, ``FamilyKeyCreated``) and keeps using it; families formed before any key keep
their old id (the text's natural id) and are found by it.

The text itself is sealed (R18): in ``FamilyFormed`` with the family's own key (``family:<id>``), and
in each member's registration inside the member's sealed personal part. Erasing any member deletes
the family's key (``FamilyLabelErased``, same transaction): the text names the family, so it reads
as erased for every member from then on; the family (its id and members, R3/R4) stays.
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

FAMILY_IDS_KEY = "store:family-ids"  # the key table's key from which new stores derive family ids


def derive_family_id(key: bytes, family_id: str) -> UUID:
    """The aggregate id of the family with this ``family_id`` text, under the store's key."""
    digest = hmac.new(key, family_id.encode(), hashlib.sha256).digest()
    return UUID(bytes=digest[:16], version=4)


class FamilyKey(Aggregate):
    """The key from which a store made before ``store:family-ids`` derives its family ids (kept in the
    log; such a store keeps using it, new stores never make one)."""

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
        return derive_family_id(bytes.fromhex(self.key), family_id)


class Family(Aggregate):
    """The members of one family (same ``family_id``); a family is proposed and accepted whole."""

    label_erased = False  # R18: the family's key was deleted (a class default for older families)

    if TYPE_CHECKING:  # the classes @event("...") makes below (settlement_domain/model/dynamic.py)

        class FamilyFormed(DynamicEvent, Aggregate.Created): ...  # made on __init__: a created event

        class FamilyMemberAdded(DynamicEvent): ...

        class FamilyLabelErased(DynamicEvent): ...

    @staticmethod
    def create_id(family_id: str) -> UUID:
        """The id of a family formed before the store had a family key (the text's natural id)."""
        return natural_id("family", family_id)

    @classmethod
    def form(cls, meta: dict[str, Any], family_id: str, family_ref: UUID) -> Self:
        """A new family under ``family_ref``, the id derived from its text with the store's key."""
        return cls._create(cls.FamilyFormed, id=family_ref, meta=meta, family_id=family_id)

    @event("FamilyFormed")
    def __init__(self, meta: dict[str, Any], family_id: str) -> None:
        self.family_id: str | None = family_id
        self.members: list[UUID] = []

    def add_member(self, meta: dict[str, Any], refugee_id: UUID) -> None:
        """A newly registered person joins the family (once)."""
        if refugee_id in self.members:
            return
        self._member_added(meta=meta, refugee_id=refugee_id)

    @event("FamilyMemberAdded")
    def _member_added(self, meta: dict[str, Any], refugee_id: UUID) -> None:
        self.members.append(refugee_id)

    def erase_label(self, meta: dict[str, Any], refugee_id: UUID) -> bool:
        """R18: a member was erased; the family's key goes too (the text names the family), once.
        Answers whether an event was recorded."""
        if self.label_erased:
            return False
        self._label_erased(meta=meta, refugee_id=refugee_id, members=list(self.members))
        return True

    @event("FamilyLabelErased")
    def _label_erased(self, meta: dict[str, Any], refugee_id: UUID, members: list[UUID]) -> None:
        self.label_erased = True
        self.family_id = None
