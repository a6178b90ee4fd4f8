"""Municipality (kommune): registered by IMDi, keeps its own contact information current."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from settlement_domain import rules
from settlement_domain.model.ids import natural_id
from settlement_domain.values import ContactInformation

if TYPE_CHECKING:
    from settlement_domain.model.dynamic import DynamicEvent


class Municipality(Aggregate):
    """Municipality (kommune), identified by its 4-digit kommunenummer."""

    if TYPE_CHECKING:  # the classes @event("...") makes below (settlement_domain/model/dynamic.py)

        class ContactInformationUpdated(DynamicEvent): ...

        class MunicipalityRenamed(DynamicEvent): ...

    @staticmethod
    def create_id(number: str) -> UUID:
        return natural_id("municipality", number)

    class MunicipalityRegistered(Aggregate.Created):
        """Lifecycle 1: the number, name and county; version 2 added ``organisation_number`` (R9)."""

        class_version = 2

        meta: dict[str, Any]
        number: str
        name: str
        county: str
        organisation_number: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["organisation_number"] = None

    @classmethod
    def register(
        cls, meta: dict[str, Any], number: str, name: str, county: str, organisation_number: str | None = None
    ) -> Municipality:
        """Lifecycle 1: a new municipality, its number of 4 ASCII digits, name and county given; its
        organisation number (R9, 9 digits) may follow with the contact information."""
        rules.check_municipality_number(number)
        return cls(
            meta=meta,
            number=number,
            name=rules.check_text("registry", name, "name", max_length=200),
            county=rules.check_text("registry", county, "county", max_length=200),
            organisation_number=rules.check_organisation_number(organisation_number),
        )

    @event(MunicipalityRegistered)
    def __init__(
        self, meta: dict[str, Any], number: str, name: str, county: str, organisation_number: str | None
    ) -> None:
        self.number = number
        self.name = name
        self.county = county
        self.registered_organisation_number = organisation_number
        self.contact: dict[str, Any] | None = None

    @property
    def organisation_number(self) -> str | None:
        """R9: the digital address for letters: the contact information's, else the one registered."""
        return (self.contact or {}).get("organisation_number") or self.registered_organisation_number

    @property
    def postal_address(self) -> dict[str, Any] | None:
        """The postal address of the contact information (the postmottak), if any."""
        return (self.contact or {}).get("postal_address")

    def rename(self, meta: dict[str, Any], name: str) -> bool:
        """Lifecycle 1: IMDi names the municipality anew (one registered by an import as "kommune NNNN",
        or renamed by a reform); its number stays. The name it has already records nothing (a retry)."""
        name = rules.check_text("registry", name, "name", max_length=200)
        if name == self.name:
            return False
        self._renamed(meta=meta, number=self.number, name=name, previous_name=self.name)
        return True

    @event("MunicipalityRenamed")
    def _renamed(self, meta: dict[str, Any], number: str, name: str, previous_name: str) -> None:
        self.name = name

    def update_contact(self, meta: dict[str, Any], contact: ContactInformation) -> None:
        """Lifecycle 1: the contact information (checked when it was made) replaces the previous one."""
        self._contact_updated(meta=meta, contact=contact.as_dict())

    @event("ContactInformationUpdated")
    def _contact_updated(self, meta: dict[str, Any], contact: dict[str, Any]) -> None:
        self.contact = contact
