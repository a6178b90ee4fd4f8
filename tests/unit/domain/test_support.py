"""R16: a municipality files a support case (a question or a problem) to IMDi, which answers it and may close it."""

from __future__ import annotations

from uuid import UUID

import pytest

from settlement_domain import commands as c
from settlement_domain.errors import Refusal
from tests.given import AUDITOR, IMDI, OSLO, RECEPTION, events_since, refused


def test_a_municipality_files_a_support_case_and_imdi_answers_and_closes_it(given):
    before = given.position()
    case = UUID(
        given.handle(OSLO, c.FileSupportCase("Missing letter", "We never got the selection letter.")).id
    )
    given.handle(IMDI, c.AnswerSupportCase(case, "Resent through SvarUT.", close=False))
    given.handle(IMDI, c.AnswerSupportCase(case, "Closing.", close=True))
    filed, *answers = events_since(given, before)
    assert (type(filed).__name__, filed.municipality, filed.subject, filed.meta["sub"]) == (
        "SupportCaseFiled",
        "0301",
        "Missing letter",
        "kari",
    )
    assert [(type(a).__name__, a.text, a.closed) for a in answers] == [
        ("SupportCaseAnswered", "Resent through SvarUT.", False),
        ("SupportCaseAnswered", "Closing.", True),
    ]
    with refused(given, "R16", Refusal.STATE):
        given.handle(IMDI, c.AnswerSupportCase(case, "Late", close=True))


def test_only_municipalities_file_and_only_imdi_answers(given):
    for ctx in (IMDI, RECEPTION, AUDITOR):
        with refused(given, "R16", Refusal.FORBIDDEN):
            given.handle(ctx, c.FileSupportCase("s", "t"))
    case = UUID(given.handle(OSLO, c.FileSupportCase("s", "t")).id)
    with refused(given, "R16", Refusal.FORBIDDEN):
        given.handle(OSLO, c.AnswerSupportCase(case, "self-answer", close=True))


@pytest.mark.parametrize(
    ("subject", "text", "field"), [("", "t", "subject"), ("s", "  ", "text"), ("x" * 301, "t", "subject")]
)
def test_a_support_case_needs_a_subject_and_a_text(given, subject, text, field):
    with refused(given, "R16", Refusal.INPUT) as caught:
        given.handle(OSLO, c.FileSupportCase(subject, text))
    assert caught.value.field == field


def test_an_answer_needs_a_text(given):
    case = UUID(given.handle(OSLO, c.FileSupportCase("s", "t")).id)
    with refused(given, "R16", Refusal.INPUT):
        given.handle(IMDI, c.AnswerSupportCase(case, " "))
