"""Then-steps: the command was refused by a rule (or found nothing), and nothing was appended."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from settlement_domain.application import SettlementApp
from settlement_domain.errors import NotFound, Refusal, RuleViolation
from tests.given.builders import events_since


@contextmanager
def refused(app: SettlementApp, rule: str, refusal: Refusal | None = None) -> Iterator[Any]:
    """Then: the command in the block is refused by ``rule`` (of kind ``refusal``) and appends nothing.

    Yields pytest's ``ExceptionInfo``; ``caught.value`` is the :class:`RuleViolation` (its field, message).
    Value objects refuse malformed input when they are made: make them inside the block.
    """
    before = app.position()
    with pytest.raises(RuleViolation) as caught:
        yield caught
    assert caught.value.rule == rule, caught.value
    if refusal is not None:
        assert caught.value.refusal is refusal, caught.value
    assert app.position() == before, "a refused command appended events"


@contextmanager
def not_found(app: SettlementApp) -> Iterator[Any]:
    """Then: the command in the block finds nothing it may know of (404) and appends nothing."""
    before = app.position()
    with pytest.raises(NotFound) as caught:
        yield caught
    assert app.position() == before, "a command that found nothing appended events"


def events_named(app: SettlementApp, name: str, since: int = 0) -> list[Any]:
    """The events of type ``name`` appended after ``since``, in log order."""
    return [e for e in events_since(app, since) if type(e).__name__ == name]
