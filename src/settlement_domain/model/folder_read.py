"""Recorded reads of personal data: a person folder (R6, R14), or a list or report showing names or
birth dates (R14)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

if TYPE_CHECKING:
    from settlement_domain.model.dynamic import DynamicEvent


class FolderRead(Aggregate):
    """One read of a person folder, an aggregate of its own so that reads never conflict with writes.

    Its event keeps the name it was first stored under, ``PersonFolderViewed``.
    """

    if TYPE_CHECKING:  # the classes @event("...") makes below (settlement_domain/model/dynamic.py)

        class PersonFolderViewed(DynamicEvent): ...

    @event("PersonFolderViewed")
    def __init__(self, meta: dict[str, Any], refugee_id: UUID, municipality: str | None) -> None:
        self.refugee_id = refugee_id
        self.municipality = municipality


class ListingRead(Aggregate):
    """One request that showed persons' names or birth dates in a list or report (R14): the persons
    shown, and what showed them. An aggregate per request, like :class:`FolderRead`."""

    if TYPE_CHECKING:  # the classes @event("...") makes below (settlement_domain/model/dynamic.py)

        class PersonalDataListed(DynamicEvent): ...

    @event("PersonalDataListed")
    def __init__(
        self, meta: dict[str, Any], what: str, refugee_ids: list[UUID], municipality: str | None
    ) -> None:
        self.what = what
        self.refugee_ids = refugee_ids
        self.municipality = municipality
