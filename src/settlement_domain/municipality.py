"""Municipality (kommune): registered by IMDi, keeps its own contact information current."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from settlement_domain.ids import natural_id


class Municipality(Aggregate):
    """Municipality (kommune), identified by its 4-digit kommunenummer."""

    @staticmethod
    def create_id(number: str) -> UUID:
        return natural_id("municipality", number)

    @event("MunicipalityRegistered")
    def __init__(self, meta: dict[str, Any], number: str, name: str, county: str) -> None:
        self.number = number
        self.name = name
        self.county = county
        self.contact: dict[str, Any] | None = None

    @event("ContactInformationUpdated")
    def update_contact(self, meta: dict[str, Any], contact: dict[str, Any]) -> None:
        self.contact = contact
