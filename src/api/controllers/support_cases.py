"""Support cases (melde inn sak): a municipality asks, IMDi answers and closes (R16)."""

from __future__ import annotations

from litestar import Controller, Response, post
from litestar.params import FromPath, JSONBody

from api.access import IMDI, MUNICIPALITY, allowed
from api.context import Ctx, Settlement, written
from api.schemas import Id, Model, ShortText, Text, Written


class NewSupportCase(Model):
    """A question or problem for IMDi."""

    subject: ShortText
    text: Text


class Answer(Model):
    """IMDi's answer; ``close`` closes the case."""

    text: Text
    close: bool


class SupportCaseController(Controller):
    """Support cases."""

    path = "/support-cases"
    tags = ("support cases",)

    @post("/", operation_id="fileSupportCase", sync_to_thread=True, opt=allowed(MUNICIPALITY))
    def file(self, ctx: Ctx, app: Settlement, data: JSONBody[NewSupportCase]) -> Response[Written]:
        """File a support case to IMDi (municipality, R16)."""
        return written(app.file_support_case(ctx, data.subject, data.text))

    @post("/{case_id:str}/answer", operation_id="answerSupportCase", sync_to_thread=True, opt=allowed(IMDI))
    def answer(self, ctx: Ctx, app: Settlement, case_id: FromPath[Id], data: JSONBody[Answer]) -> Response[Written]:
        """Answer a support case, and close it if ``close`` (imdi, R16)."""
        return written(app.answer_support_case(ctx, case_id, data.text, data.close))
