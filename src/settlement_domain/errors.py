"""The errors the write side raises; each refusal names the rule of docs/domain.md that refused."""

from __future__ import annotations

from enum import StrEnum


class Refusal(StrEnum):
    """Why a command was refused, which decides how an edge reports it."""

    INPUT = "input"  # the command itself is malformed or out of bounds (HTTP 422)
    STATE = "state"  # the command is fine but the current state forbids it (HTTP 409)
    FORBIDDEN = "forbidden"  # the actor's role may not do this (HTTP 403)


class DomainError(Exception):
    """Base class of every error the write side raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RuleViolation(DomainError):
    """A command refused by one of the numbered rules of docs/domain.md (or the role table, rule ``roles``)."""

    def __init__(
        self, rule: str, message: str, *, refusal: Refusal = Refusal.STATE, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.rule = rule
        self.refusal = refusal
        self.field = field

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


class FactConflict(RuleViolation):
    """R15: an imported fact differs from the one stored for the same thing (a conflict, not a bad row)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__("R15", message, field=field)


class NotFound(DomainError):
    """The thing does not exist, or the actor may not know that it exists (tenancy)."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"No {kind} {key}.")
        self.kind = kind
        self.key = str(key)


class ConcurrencyConflict(DomainError):
    """Another command changed the same aggregate first; reload and try again."""


class IdempotencyKeyReused(DomainError):
    """The idempotency key was used before for a different command or body."""
