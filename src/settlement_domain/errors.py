"""The errors the write side raises; each refusal names the rule of docs/domain.md that refused.

A refusal's message is a template in English with named values (``"Person %(person)s is not
registered."``, ``params={"person": ...}``): ``message`` is the English text (for logs and tests), and an
edge renders ``template`` and ``params`` in the reader's language through its message catalog. A value
that is itself words (a status, a kind of figure) is a :class:`Text`, which the edge translates too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class Text:
    """Words inside a message, to be translated where the message is shown (an English template)."""

    template: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return fill(self.template, self.params)


def fill(template: str, params: Mapping[str, Any]) -> str:
    """The English text: ``template`` with ``params`` filled in (lists joined with commas)."""
    if not params:
        return template
    return template % {key: _english(value) for key, value in params.items()}


def _english(value: Any) -> str:
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(str(item) for item in value)
    return str(value)


class Refusal(StrEnum):
    """Why a command was refused, which decides how an edge reports it."""

    INPUT = "input"  # the command itself is malformed or out of bounds (HTTP 422)
    STATE = "state"  # the command is fine but the current state forbids it (HTTP 409)
    FORBIDDEN = "forbidden"  # the actor's role may not do this (HTTP 403)


class DomainError(Exception):
    """Base class of every error the write side raises on purpose."""

    def __init__(self, message: str, params: Mapping[str, Any] | None = None) -> None:
        text = fill(message, params or {})
        super().__init__(text)
        self.template = message
        self.params: dict[str, Any] = dict(params or {})
        self.message = text


class RuleViolation(DomainError):
    """A command refused by one of the numbered rules of docs/domain.md (or the role table, rule ``roles``)."""

    def __init__(
        self,
        rule: str,
        message: str,
        *,
        refusal: Refusal = Refusal.STATE,
        field: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, params)
        self.rule = rule
        self.refusal = refusal
        self.field = field

    def __str__(self) -> str:
        return f"{self.rule}: {self.message}"


class FactConflict(RuleViolation):
    """R15: an imported fact differs from the one stored for the same thing (a conflict, not a bad row)."""

    def __init__(
        self, message: str, *, field: str | None = None, params: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__("R15", message, field=field, params=params)


class NotFound(DomainError):
    """The thing does not exist, or the actor may not know that it exists (tenancy)."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__("No %(kind)s %(key)s.", {"kind": Text(kind), "key": str(key)})
        self.kind = kind
        self.key = str(key)


class ConcurrencyConflict(DomainError):
    """Another command changed the same aggregate first; reload and try again."""


class IdempotencyKeyReused(DomainError):
    """The idempotency key was used before for a different command or body."""


class ReadNotRecorded(DomainError):
    """R6/R14: the record of a read could not be stored (its group's transaction failed), so the read
    is not answered; try again shortly. Nothing of the read was shown."""
