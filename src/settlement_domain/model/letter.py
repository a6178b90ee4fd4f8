"""Letter (brev): request, selection and decision letters, and their delivery (R9)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from settlement_domain.model.ids import natural_id

if TYPE_CHECKING:
    from settlement_domain.model.dynamic import DynamicEvent


class LetterKind(StrEnum):
    REQUEST = "request"  # anmodningsbrev, R1
    SELECTION = "selection"  # utsøkingsbrev, R4
    DECISION_MUNICIPALITY = "decision_municipality"  # vedtaksbrev to the municipality, R5
    DECISION_PERSON = "decision_person"  # vedtaksbrev to the person, R5


class Channel(StrEnum):
    DIGITAL = "digital"  # SvarUT / Altinn
    POST = "post"


class Letter(Aggregate):
    """One letter, issued exactly once for the event that caused it (R9).

    Its id derives from the causing aggregate, version and kind, so that a retry cannot issue a
    second letter for the same cause.
    """

    if TYPE_CHECKING:  # the classes @event("...") makes below (settlement_domain/model/dynamic.py)

        class LetterIssued(DynamicEvent): ...

    @staticmethod
    def create_id(cause_id: UUID, cause_version: int, kind: str) -> UUID:
        return natural_id("letter", cause_id, cause_version, kind)

    @event("LetterIssued")
    def __init__(
        self,
        meta: dict[str, Any],
        cause_id: UUID,
        cause_version: int,
        kind: str,
        municipality: str,
        channel: str,
        person_ids: list[UUID],
        year: int | None,
    ) -> None:
        self.kind = kind
        self.municipality = municipality
        self.channel = channel
        self.person_ids = person_ids
        self.year = year
