"""Support case (melde inn sak): a question or problem a municipality files to IMDi (R16)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eventsourcing.domain import Aggregate, event

from settlement_domain import rules
from settlement_domain.errors import RuleViolation

if TYPE_CHECKING:
    from settlement_domain.model.dynamic import DynamicEvent


class SupportCase(Aggregate):
    """A municipality's support case; IMDi answers it and closes it (R16)."""

    if TYPE_CHECKING:  # the classes @event("...") makes below (settlement_domain/model/dynamic.py)

        class SupportCaseFiled(DynamicEvent): ...

        class SupportCaseAnswered(DynamicEvent): ...

    @classmethod
    def file(cls, meta: dict[str, Any], municipality: str, subject: str, text: str) -> SupportCase:
        """R16: a case needs a subject and a text."""
        return cls(
            meta=meta,
            municipality=municipality,
            subject=rules.check_text("R16", subject, "subject", max_length=300),
            text=rules.check_text("R16", text, "text"),
        )

    @event("SupportCaseFiled")
    def __init__(self, meta: dict[str, Any], municipality: str, subject: str, text: str) -> None:
        self.municipality = municipality
        self.subject = subject
        self.closed = False
        self.answers = 0

    def answer(self, meta: dict[str, Any], text: str, close: bool) -> None:
        """R16: IMDi answers an open case, and may close it."""
        text = rules.check_text("R16", text, "text")
        if self.closed:
            raise RuleViolation("R16", "The support case is closed.")
        self._answered(meta=meta, text=text, closed=bool(close))

    @event("SupportCaseAnswered")
    def _answered(self, meta: dict[str, Any], text: str, closed: bool) -> None:
        self.answers += 1
        self.closed = closed
