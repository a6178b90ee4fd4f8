"""Import (innlesing): one file of IMDi's history loaded into the log (R15)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from settlement_domain.model.ids import natural_id

if TYPE_CHECKING:
    from settlement_domain.model.dynamic import DynamicEvent


class Import(Aggregate):
    """One imported file, identified by its checksum, so that the same file twice appends nothing (R15).

    Recorded after the file's figures, in the same bulk run: a file whose import was interrupted has
    no record yet, and importing it again records only what is missing.
    """

    if TYPE_CHECKING:  # the classes @event("...") makes below (settlement_domain/model/dynamic.py)

        class ImportRecorded(DynamicEvent): ...

    @staticmethod
    def create_id(checksum: str) -> UUID:
        return natural_id("import", checksum)

    @event("ImportRecorded")
    def __init__(
        self,
        meta: dict[str, Any],
        file_name: str,
        checksum: str,
        file_format: str,
        rows: int,
        recorded: int,
        unchanged: int,
        skipped: int,
        revised: int,
    ) -> None:
        self.file_name = file_name
        self.checksum = checksum
        self.file_format = file_format
        self.rows = rows
        self.recorded = recorded
