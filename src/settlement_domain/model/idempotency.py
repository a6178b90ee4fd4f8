"""Idempotency record: remembers a command's answer so that a retry with the same key appends nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from settlement_domain.model.ids import natural_id

if TYPE_CHECKING:
    from settlement_domain.model.dynamic import DynamicEvent


class IdempotencyRecord(Aggregate):
    """The first answer to a command sent with an ``Idempotency-Key``, stored with the command's events."""

    if TYPE_CHECKING:  # the classes @event("...") makes below (settlement_domain/model/dynamic.py)

        class IdempotencyKeyRecorded(DynamicEvent): ...

    @staticmethod
    def create_id(scope: str, key: str) -> UUID:
        return natural_id("idempotency", scope, key)

    @event("IdempotencyKeyRecorded")
    def __init__(
        self, meta: dict[str, Any], scope: str, key: str, fingerprint: str, result: dict[str, Any]
    ) -> None:
        self.fingerprint = fingerprint
        self.result = result
