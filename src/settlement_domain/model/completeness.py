"""Data completeness (datagrunnlag): whether IMDi has marked a year's data, or one municipality's, as complete (R19)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from settlement_domain.model.ids import natural_id

if TYPE_CHECKING:
    from settlement_domain.model.dynamic import DynamicEvent


class DataCompleteness(Aggregate):
    """The completeness marks of one year: for the whole year, and for single municipalities (R19).

    Until IMDi marks a municipality-year (or its whole year) complete, its places, reports and exports
    say "Datagrunnlaget er ikke komplett". A municipality's own mark stands before the year's.
    """

    if TYPE_CHECKING:  # the classes @event("...") makes below (settlement_domain/model/dynamic.py)

        class DataCompletenessOpened(DynamicEvent): ...

        class CompletenessMarked(DynamicEvent): ...

    @staticmethod
    def create_id(year: int) -> UUID:
        return natural_id("completeness", year)

    @event("DataCompletenessOpened")
    def __init__(self, meta: dict[str, Any], year: int) -> None:
        self.year = year
        self.whole_year: bool | None = None
        self.municipalities: dict[str, bool] = {}

    def is_complete(self, municipality: str) -> bool:
        own = self.municipalities.get(municipality)
        return own if own is not None else bool(self.whole_year)

    def mark(self, meta: dict[str, Any], municipality: str | None, complete: bool) -> bool:
        """R19: marks the year (``municipality`` None) or one municipality-year complete or not; the same
        mark again changes nothing (answers False)."""
        current = self.whole_year if municipality is None else self.municipalities.get(municipality)
        if current is complete:
            return False
        self._marked(meta=meta, year=self.year, municipality=municipality, complete=complete)
        return True

    @event("CompletenessMarked")
    def _marked(self, meta: dict[str, Any], year: int, municipality: str | None, complete: bool) -> None:
        if municipality is None:
            self.whole_year = complete
        else:
            self.municipalities[municipality] = complete
