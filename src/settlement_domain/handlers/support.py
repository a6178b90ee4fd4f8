"""Handlers for support cases (R16)."""

from __future__ import annotations

from settlement_domain import commands as c
from settlement_domain.handlers.scope import Handler, Outcome, Scope
from settlement_domain.model import SupportCase


def file_support_case(scope: Scope, cmd: c.FileSupportCase) -> Outcome:
    return Outcome(SupportCase.file(scope.meta, scope.actor.municipality or "", cmd.subject, cmd.text))


def answer_support_case(scope: Scope, cmd: c.AnswerSupportCase) -> Outcome:
    case = scope.get(SupportCase, cmd.case_id, "support case")
    case.answer(scope.meta, cmd.text, cmd.close)
    return Outcome(case)


def erase_support_case_texts(scope: Scope, cmd: c.EraseSupportCaseTexts) -> Outcome:
    case = scope.get(SupportCase, cmd.case_id, "support case")
    case.erase_texts(scope.meta, cmd.legal_basis, cmd.reason)
    return Outcome(case, extra={"erased": True})


HANDLERS: dict[type[c.Command], Handler] = {
    c.FileSupportCase: file_support_case,
    c.AnswerSupportCase: answer_support_case,
    c.EraseSupportCaseTexts: erase_support_case_texts,
}
