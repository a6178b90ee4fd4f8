"""Support case (melde inn sak): a question or problem a municipality files to IMDi (R16)."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate, event

from settlement_domain.errors import RuleViolation


class SupportCase(Aggregate):
    """A municipality's support case; IMDi answers it and closes it (R16)."""

    @event("SupportCaseFiled")
    def __init__(self, meta: dict[str, Any], municipality: str, subject: str, text: str) -> None:
        self.municipality = municipality
        self.subject = subject
        self.closed = False
        self.answers = 0

    @event("SupportCaseAnswered")
    def answer(self, meta: dict[str, Any], text: str, closed: bool) -> None:
        self.answers += 1
        self.closed = closed

    def check_open(self) -> None:
        if self.closed:
            raise RuleViolation("R16", "The support case is closed.")
