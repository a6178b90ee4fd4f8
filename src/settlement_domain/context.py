"""Who acts, and on behalf of which request: carried into every event as its metadata."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from settlement_domain.errors import Refusal, RuleViolation

MUNICIPALITY_NUMBER = re.compile(r"^[0-9]{4}\Z")  # ASCII digits only: "٠٣٠١" is no kommunenummer


class Role(StrEnum):
    """The roles of the role table in docs/domain.md (token claim ``role``)."""

    IMDI = "imdi"
    MUNICIPALITY = "municipality"
    RECEPTION = "reception"
    AUDITOR = "auditor"


@dataclass(frozen=True, slots=True)
class Actor:
    """A signed-in user or integration: subject, role and, for municipality users, the municipality."""

    sub: str
    role: Role
    municipality: str | None = None

    def __post_init__(self) -> None:
        if not self.sub:
            raise RuleViolation("roles", "The actor has no subject.", refusal=Refusal.INPUT, field="sub")
        if self.role is Role.MUNICIPALITY and not (
            self.municipality and MUNICIPALITY_NUMBER.match(self.municipality)
        ):
            raise RuleViolation(
                "roles",
                "A municipality user must name a 4-digit municipality number.",
                refusal=Refusal.INPUT,
                field="municipality",
            )
        if self.role is not Role.MUNICIPALITY and self.municipality is not None:
            object.__setattr__(self, "municipality", None)


@dataclass(frozen=True, slots=True)
class CommandContext:
    """One command's context: the actor, the correlation id and an optional idempotency key."""

    actor: Actor
    correlation_id: str
    idempotency_key: str | None = None

    @property
    def idempotency_scope(self) -> str:
        """Whose keys a key is among: the same subject acting in another role or municipality is
        someone else, so a key can never replay an answer across tenants."""
        return f"{self.actor.sub}|{self.actor.role.value}|{self.actor.municipality or ''}"

    def meta(self) -> dict[str, str | None]:
        """The metadata every event records (R14): who, and the request that caused it."""
        return {
            "sub": self.actor.sub,
            "role": self.actor.role.value,
            "municipality": self.actor.municipality,
            "correlation_id": self.correlation_id,
        }
