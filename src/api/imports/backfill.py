"""Running an import: validate the whole file, then record it in one bulk run, or nothing (R15).

Every row is checked before anything is written. A file with bad rows, or with figures that contradict
what is stored, imports nothing unless told otherwise (``skip_invalid``: the good rows; ``revise``: the
contradicting figures as revisions, with the reason given). The same file again appends nothing: its
checksum names its import record, and figures already stored are left as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.sqlite import SQLiteAggregateRecorder
from psycopg.sql import SQL, Identifier

from api.imports import imdi_long, person_history
from api.imports.counties import county_of
from settlement_domain import commands as c
from settlement_domain.application import SettlementApp
from settlement_domain.bulk import BulkRun
from settlement_domain.context import Actor, CommandContext, Role
from settlement_domain.errors import FactConflict, NotFound, RuleViolation
from settlement_domain.handlers import history
from settlement_domain.rules import FIRST_YEAR
from settlement_domain.values import ImportSource

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Conflict:
    line: int
    municipality: str
    year: int
    kind: str
    message: str


@dataclass
class ImportReport:
    """What an import did, or would do (``dry_run``), for the operator and the API."""

    file_name: str
    checksum: str
    file_format: str
    dry_run: bool
    rows: int = 0
    figures: int = 0
    recorded: int = 0  # figures appended as events
    unchanged: int = 0  # figures the store already had
    revised: int = 0  # figures recorded as revisions of other stored ones (--revise)
    derived_rows: int = 0
    other_levels: int = 0
    missing_figures: int = 0
    municipalities_registered: list[str] = field(default_factory=list)
    bad_rows: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    already_imported: bool = False
    imported: bool = False
    position: int = 0  # the log position the import reached (0: nothing appended)

    @property
    def refused(self) -> bool:
        """Nothing was imported because of bad rows or conflicts (the caller's input, not the store)."""
        return not self.imported and not self.already_imported and bool(self.bad_rows or self.conflicts)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "refused": self.refused}


def import_context(file_name: str, checksum: str) -> CommandContext:
    """The import as actor: every event it records names the file (R14, R15)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", file_name)[:80] or "file"
    return CommandContext(actor=Actor(f"import:{safe}", Role.IMDI), correlation_id=f"import-{checksum[:32]}")


def import_imdi_long(
    app: SettlementApp,
    content: bytes,
    file_name: str,
    *,
    dry_run: bool = False,
    skip_invalid: bool = False,
    revise_reason: str | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Imports a file of IMDi's statistics in long format (see :mod:`api.imports.imdi_long`)."""
    parsed = imdi_long.parse(content, file_name)
    mismatches = parsed.mismatches()  # of the file as it is, before any row is set aside
    _check_years(parsed, app.clock().year)
    report = ImportReport(
        file_name=file_name, checksum=parsed.checksum, file_format=imdi_long.FORMAT, dry_run=dry_run,
        rows=parsed.rows, figures=len(parsed.figures), derived_rows=parsed.derived_rows,
        other_levels=parsed.other_levels, missing_figures=parsed.missing_figures,
        bad_rows=[asdict(b) for b in parsed.bad_rows], mismatches=[asdict(m) for m in mismatches],
    )  # fmt: skip
    if app.imported(parsed.checksum) is not None:
        report.already_imported = True
        return report
    if parsed.bad_rows and not skip_invalid:
        return report
    ctx = import_context(file_name, parsed.checksum)
    run = BulkRun(app)
    _register_municipalities(run, ctx, {f.number for f in parsed.figures}, report)
    for done, figure in enumerate(parsed.figures, start=1):
        source = ImportSource(file_name, parsed.checksum, figure.line)
        command = c.RecordHistoricalFigure(figure.number, figure.year, figure.kind, figure.persons, source)
        try:
            result, revised = run.handle(ctx, command), False
        except RuleViolation as error:
            # R15 conflicts name the figure's kind when a revision may settle them, else "persons".
            if error.rule != "R15" or error.field not in (figure.kind, "persons"):
                raise
            result, revised = None, False
            if revise_reason is not None and error.field == figure.kind:
                result, revised = run.handle(ctx, _revision(command, revise_reason)), True
            if result is None:
                report.conflicts.append(
                    asdict(Conflict(figure.line, figure.number, figure.year, figure.kind, error.message))
                )
                continue
        assert result is not None  # a figure refused without a revision went on to the next above
        report.revised += revised
        report.recorded += result.extra["recorded"] and not revised
        report.unchanged += not result.extra["recorded"]
        if progress and (done % 500 == 0 or done == len(parsed.figures)):
            progress(done, len(parsed.figures))
    if report.conflicts and not skip_invalid:
        report.recorded = report.unchanged = report.revised = 0
        return report  # the bulk run is dropped unflushed: nothing of the file is stored
    return _record(run, ctx, report, skipped=len(parsed.bad_rows) + len(report.conflicts))


def _record(run: BulkRun, ctx: CommandContext, report: ImportReport, *, skipped: int) -> ImportReport:
    """The file's import record last, then (unless a dry run) everything stored (R15)."""
    run.handle(
        ctx,
        c.RecordImport(
            report.file_name, report.checksum, report.file_format, rows=report.rows, recorded=report.recorded,
            unchanged=report.unchanged, skipped=skipped, revised=report.revised,
        ),
    )  # fmt: skip
    if report.dry_run:
        return report
    report.position = run.flush()
    report.imported = True
    return report


def _check_years(parsed: imdi_long.ParsedFile, this_year: int) -> None:
    """A figure of a year the statistics cannot be of is a bad row (R15: past years from 2000 on)."""
    kept = []
    for figure in parsed.figures:
        if FIRST_YEAR <= figure.year < this_year:
            kept.append(figure)
        else:
            parsed.bad_rows.append(
                imdi_long.BadRow(
                    figure.line, f"the year {figure.year} is not a past year from {FIRST_YEAR} on"
                )
            )
    parsed.figures = kept
    parsed.bad_rows.sort(key=lambda bad: bad.line)


def _revision(command: c.RecordHistoricalFigure, reason: str) -> c.RecordHistoricalFigure:
    return c.RecordHistoricalFigure(
        command.number, command.year, command.kind, command.persons, command.source, revise_reason=reason
    )


def _register_municipalities(
    run: BulkRun, ctx: CommandContext, numbers: set[str], report: ImportReport
) -> None:
    """Registers each municipality of the file that the store does not know, named ``kommune NNNN``
    (until ``settlement municipality rename``/``names`` names it), in the county its number gives
    (numbers from before 2020 included)."""
    for number in sorted(numbers):
        try:
            run.handle(ctx, c.RegisterMunicipality(number, f"kommune {number}", county_of(number)))
        except RuleViolation as error:
            if error.rule != "registry":
                raise
            continue  # registered already
        report.municipalities_registered.append(number)


def import_person_history(
    app: SettlementApp,
    content: bytes,
    file_name: str,
    *,
    dry_run: bool = False,
    skip_invalid: bool = False,
    revise_reason: str | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Imports a person-level history (see :mod:`api.imports.person_history`): every fact is run
    against the store as it would be after the earlier lines, and only a file without bad rows and
    conflicts is recorded (or, with ``skip_invalid``, its good facts): in one transaction up to 5,000
    events, else in transactions of whole facts, the import record last (see ``BulkRun.flush``)."""
    parsed = person_history.parse(content, file_name)
    report = ImportReport(
        file_name=file_name, checksum=parsed.checksum, file_format=person_history.FORMAT, dry_run=dry_run,
        rows=parsed.rows, figures=len(parsed.facts), bad_rows=[asdict(b) for b in parsed.bad_rows],
    )  # fmt: skip
    if app.imported(parsed.checksum) is not None:
        report.already_imported = True
        return report
    if parsed.bad_rows and not skip_invalid:
        return report
    ctx = import_context(file_name, parsed.checksum)
    # Without --skip-invalid a refused fact drops the whole run, so nothing needs putting back.
    run = BulkRun(app, undo=skip_invalid)
    refused = 0
    run.assume_absent(_not_stored(app, _ids_of(parsed)))
    places = (c.RecordHistoricalSelection, c.RecordHistoricalDecision)
    numbers = {f.municipality for f in parsed.facts if isinstance(f, places)}
    _register_municipalities(run, ctx, {n for n in numbers if imdi_long.NUMBER.match(n)}, report)
    for done, fact in enumerate(parsed.facts, start=1):
        line = fact.source.line  # type: ignore[attr-defined]
        if revise_reason is not None and isinstance(fact, c.RecordHistoricalSettlementDate):
            fact = c.RecordHistoricalSettlementDate(
                fact.person, fact.settlement_date, fact.source, revise_reason
            )
        try:
            result = run.handle(ctx, fact)
        except FactConflict as error:
            report.conflicts.append(
                {"line": line, "person": fact.person, "field": error.field, "message": error.message}  # type: ignore[attr-defined]
            )
            continue
        except (RuleViolation, NotFound) as error:
            where = f"{error.field}: " if isinstance(error, RuleViolation) and error.field else ""
            report.bad_rows.append({"line": line, "reason": f"{where}{error.message}"})
            refused += 1
            continue
        recorded = bool(result.extra.get("recorded"))
        report.recorded += recorded
        report.unchanged += not recorded
        if progress and (done % 1000 == 0 or done == len(parsed.facts)):
            progress(done, len(parsed.facts))
    report.bad_rows.sort(key=lambda bad: bad["line"])
    if (report.conflicts or refused) and not skip_invalid:
        report.recorded = report.unchanged = 0
        return report  # the bulk run is dropped unflushed: nothing of the file is stored
    return _record(run, ctx, report, skipped=len(report.bad_rows) + len(report.conflicts))


def _ids_of(parsed: person_history.ParsedHistory) -> set[UUID]:
    """The persons a history may create (a family's id comes from the store's key: looked up as usual)."""
    return {history.person_id(person) for person in parsed.persons}


def _not_stored(app: SettlementApp, ids: set[UUID]) -> set[UUID]:
    """Which of ``ids`` no stored event names: one query per 1,000 ids, where loading each would ask twice."""
    recorder: Any = app.recorder
    table = recorder.events_table_name
    wanted = sorted(ids)
    stored: set[UUID] = set()
    with recorder.datastore.transaction(commit=False) as cursor:
        for start in range(0, len(wanted), 1000):
            chunk = wanted[start : start + 1000]
            if isinstance(recorder, SQLiteAggregateRecorder):
                marks = ",".join("?" * len(chunk))
                cursor.execute(
                    f"SELECT DISTINCT originator_id FROM {table} WHERE originator_id IN ({marks})",
                    [i.hex for i in chunk],  # the library stores ids as 32 hex digits
                )
            else:
                statement = SQL("SELECT DISTINCT originator_id FROM {}.{} WHERE originator_id = ANY(%s)")
                cursor.execute(
                    statement.format(Identifier(recorder.datastore.schema), Identifier(table)), (chunk,)
                )
            stored |= {UUID(str(row["originator_id"])) for row in cursor.fetchall()}  # hex or uuid
    return ids - stored


def import_file(app: SettlementApp, content: bytes, file_name: str, **options: Any) -> ImportReport:
    """Imports a file in any format this service reads: a person-level history (JSON lines) or IMDi's
    statistics in long format (CSV)."""
    if person_history.looks_like(content, file_name):
        return import_person_history(app, content, file_name, **options)
    return import_imdi_long(app, content, file_name, **options)
