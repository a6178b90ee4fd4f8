"""Value objects the commands carry: parsed once at the edge, valid by construction.

A value object checks its own shape when it is made (a postal code has four digits, a residence in a
reception centre names the centre), so that every edge (HTTP, command line, imports) gets the same
refusal, naming the field. State-dependent rules stay with the aggregates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from uuid import UUID

from settlement_domain.errors import Refusal, RuleViolation
from settlement_domain.rules import FOUR_DIGITS, check_organisation_number, check_text


class Category(StrEnum):
    """The refugee's category (asylum seeker granted protection, quota refugee, ...)."""

    ASYLUM = "asylum"
    RESETTLEMENT = "resettlement"
    FAMILY_REUNIFICATION = "family_reunification"
    COLLECTIVE_PROTECTION = "collective_protection"


class ResidenceKind(StrEnum):
    """Where the person lived before settlement: a reception centre (mottak) or privately (privatboende)."""

    RECEPTION_CENTRE = "reception_centre"
    PRIVATE = "private"


@dataclass(frozen=True, slots=True)
class PostalAddress:
    """A Norwegian postal address (street, 4-digit postal code, city)."""

    street: str
    postal_code: str
    city: str
    # The rule a malformed address is refused under: a person's registration, or the registry (contact).
    rule: str = field(default="registration", compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "street", check_text(self.rule, self.street, "postal_address.street", max_length=200)
        )
        code = (self.postal_code or "").strip() if isinstance(self.postal_code, str) else ""
        if not FOUR_DIGITS.match(code):
            raise RuleViolation(
                self.rule,
                "A Norwegian postal code has 4 digits.",
                refusal=Refusal.INPUT,
                field="postal_address.postal_code",
            )
        object.__setattr__(self, "postal_code", code)
        object.__setattr__(
            self, "city", check_text(self.rule, self.city, "postal_address.city", max_length=100)
        )

    def as_dict(self) -> dict[str, str]:
        """The stored shape (events keep plain dicts)."""
        return {"street": self.street, "postal_code": self.postal_code, "city": self.city}


@dataclass(frozen=True, slots=True)
class Residence:
    """Where the person lives before settlement; a reception centre is named by its id."""

    kind: ResidenceKind
    centre_id: str | None = None

    def __post_init__(self) -> None:
        try:
            kind = ResidenceKind(self.kind)
        except ValueError:
            raise RuleViolation(
                "registration",
                "The residence is a reception_centre (with centre_id) or private.",
                refusal=Refusal.INPUT,
                field="residence.kind",
            ) from None
        object.__setattr__(self, "kind", kind)
        if kind is ResidenceKind.RECEPTION_CENTRE:
            centre = check_text("registration", self.centre_id, "residence.centre_id", max_length=100)
            object.__setattr__(self, "centre_id", centre)
        else:
            object.__setattr__(self, "centre_id", None)

    @property
    def is_private(self) -> bool:
        return self.kind is ResidenceKind.PRIVATE

    def as_dict(self) -> dict[str, str]:
        if self.kind is ResidenceKind.PRIVATE:
            return {"kind": self.kind.value}
        return {"kind": self.kind.value, "centre_id": self.centre_id or ""}


@dataclass(frozen=True, slots=True)
class ContactInformation:
    """A municipality's contact person, e-mail, phone and postal address (lifecycle 1)."""

    contact_person: str
    email: str
    phone: str
    postal_address: PostalAddress
    # R9: the municipality's digital address for letters (SvarUT); optional, added later.
    organisation_number: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "organisation_number", check_organisation_number(self.organisation_number))
        object.__setattr__(
            self,
            "contact_person",
            check_text("registry", self.contact_person, "contact_person", max_length=200),
        )
        email = check_text("registry", self.email, "email", max_length=320)
        if "@" not in email:
            raise RuleViolation(
                "registry", "The e-mail address needs an @.", refusal=Refusal.INPUT, field="email"
            )
        object.__setattr__(self, "email", email)
        object.__setattr__(self, "phone", check_text("registry", self.phone, "phone", max_length=50))

    def as_dict(self) -> dict[str, Any]:
        return {
            "contact_person": self.contact_person,
            "email": self.email,
            "phone": self.phone,
            "postal_address": self.postal_address.as_dict(),
            # Left out while unset, so that contact stored before the field existed reads the same.
            **({"organisation_number": self.organisation_number} if self.organisation_number else {}),
        }


@dataclass(frozen=True, slots=True)
class Mapping:
    """The reception centre's mapping (kartlegging) of a person: personal data, stored encrypted per person."""

    education: str = ""
    work_experience: str = ""
    languages: tuple[str, ...] = ()
    health_needs: str = ""
    notes: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "education": self.education,
            "work_experience": self.work_experience,
            "languages": list(self.languages),
            "health_needs": self.health_needs,
            "notes": self.notes,
        }


@dataclass(frozen=True, slots=True)
class Decline:
    """A person declined on a distribution list, with the municipality's reason (R4)."""

    refugee_id: UUID
    reason: str


@dataclass(frozen=True, slots=True)
class ImportSource:
    """Where an imported figure comes from (R15): the file's name and SHA-256 checksum, and the line."""

    file_name: str
    checksum: str
    line: int

    def as_dict(self) -> dict[str, Any]:
        return {"file_name": self.file_name, "checksum": self.checksum, "line": self.line}
