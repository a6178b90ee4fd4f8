"""Export: one export for a records system (R17), an aggregate of its own so that it never conflicts."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

if TYPE_CHECKING:
    from settlement_domain.model.dynamic import DynamicEvent


class Export(Aggregate):
    """One export for a records system (R17), recorded in the audit trail (R14): a person's case
    file (``kind`` ``case_file``, naming the person) or a municipality's letters (``letters``)."""

    if TYPE_CHECKING:  # the classes @event("...") makes below (settlement_domain/model/dynamic.py)

        class ExportMade(DynamicEvent): ...

    @event("ExportMade")
    def __init__(
        self,
        meta: dict[str, Any],
        kind: str,
        refugee_id: UUID | None,
        municipality: str | None,
        format: str,
        since: date | None,
        letter_ids: list[UUID],
    ) -> None:
        self.kind = kind
        self.refugee_id = refugee_id
        self.municipality = municipality
        self.format = format
        self.since = since
        self.letter_ids = letter_ids
