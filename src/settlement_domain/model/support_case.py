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

        class SupportCaseTextsErased(DynamicEvent): ...

    texts_erased = False  # R18: the case's key was deleted (a class default for older cases)

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
        if self.texts_erased:
            raise RuleViolation("R18", "The support case's texts were erased.")
        if self.closed:
            raise RuleViolation("R16", "The support case is closed.")
        self._answered(meta=meta, text=text, closed=bool(close))

    @event("SupportCaseAnswered")
    def _answered(self, meta: dict[str, Any], text: str, closed: bool) -> None:
        self.answers += 1
        self.closed = closed

    def erase_texts(self, meta: dict[str, Any], legal_basis: str, reason: str) -> None:
        """R18: IMDi deletes the case's key (its subject, text and answers may name a person); the event
        holds the legal basis and the reason, which name no person. Once only."""
        legal_basis = rules.check_text("R18", legal_basis, "legal_basis", max_length=200)
        reason = rules.check_text("R18", reason, "reason", max_length=1000)
        if self.texts_erased:
            raise RuleViolation("R18d", "The support case's texts were erased already.")
        self._texts_erased(meta=meta, legal_basis=legal_basis, reason=reason)

    @event("SupportCaseTextsErased")
    def _texts_erased(self, meta: dict[str, Any], legal_basis: str, reason: str) -> None:
        self.texts_erased = True
        self.subject = ""
