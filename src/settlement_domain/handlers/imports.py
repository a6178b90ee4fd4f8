"""Handlers for imports of IMDi's history (R15), and the marks that a year's data is complete (R19)."""

from __future__ import annotations

from settlement_domain import commands as c
from settlement_domain.errors import RuleViolation
from settlement_domain.handlers.scope import Handler, Outcome, Scope
from settlement_domain.model import DataCompleteness, Import
from settlement_domain.rules import check_municipality_number, check_year

KINDS = ("request", "decision", "settled")


def record_historical_figure(scope: Scope, cmd: c.RecordHistoricalFigure) -> Outcome:
    check_municipality_number(cmd.number)
    check_year("R15", cmd.year, scope.today)
    if cmd.year >= scope.today.year:
        # Statistics describe years gone by; this year's requests and decisions are made here (R1, R2).
        raise RuleViolation(
            "R15",
            "IMDi's statistics are of past years, not %(year)s.",
            field="year",
            params={"year": cmd.year},
        )
    if cmd.kind not in KINDS:
        raise RuleViolation(
            "R15", "A figure is one of %(kinds)s.", field="kind", params={"kinds": list(KINDS)}
        )
    scope.municipality(cmd.number)
    quota = scope.quota_year(cmd.number, cmd.year)
    recorded = quota.record_historical(
        scope.meta, cmd.kind, cmd.persons, cmd.source.as_dict(), cmd.revise_reason
    )
    return Outcome(quota, extra={"recorded": recorded})


def record_import(scope: Scope, cmd: c.RecordImport) -> Outcome:
    if scope.find(Import, Import.create_id(cmd.checksum)) is not None:
        raise RuleViolation(
            "R15",
            "The file with checksum %(checksum)s is already imported.",
            field="file",
            params={"checksum": cmd.checksum},
        )
    record = Import(
        meta=scope.meta, file_name=cmd.file_name, checksum=cmd.checksum, file_format=cmd.file_format,
        rows=cmd.rows, recorded=cmd.recorded, unchanged=cmd.unchanged, skipped=cmd.skipped, revised=cmd.revised,
    )  # fmt: skip
    return Outcome(record)


def mark_completeness(scope: Scope, cmd: c.MarkCompleteness) -> Outcome:
    check_year("R19", cmd.year, scope.today)
    if cmd.municipality is not None:
        check_municipality_number(cmd.municipality, "municipality")
        scope.municipality(cmd.municipality)
    marks = scope.find(DataCompleteness, DataCompleteness.create_id(cmd.year)) or DataCompleteness(
        meta=scope.meta, year=cmd.year
    )
    changed = marks.mark(scope.meta, cmd.municipality, bool(cmd.complete))
    return Outcome(marks, extra={"changed": changed})


HANDLERS: dict[type[c.Command], Handler] = {
    c.RecordHistoricalFigure: record_historical_figure,
    c.RecordImport: record_import,
    c.MarkCompleteness: mark_completeness,
}
