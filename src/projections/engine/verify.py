"""Verifying the read models against the log: a replay in memory, compared row by row with the views.

:func:`verify` folds the log into fresh in-memory rows (the rebuild's fold) and compares them, table by
table, with the rows of each read model's serving generation, at that generation's own position. It
writes nothing, neither the serving tables nor the state table, so it is safe on a live store.

The serving generation's position and its rows are read in one snapshot transaction. The log is
folded up to exactly that position (the events up to it never change), so a live runner moving on
meanwhile causes no false differences.

Each differing row is reported with the log position of the last event whose handler wrote or deleted
its key in the replay: the event that explains it. The report names read models, tables, key values,
column names and positions; it shows a differing column's values only for columns that cannot hold
personal data (see :func:`values_shown`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from uuid import UUID

from sqlalchemy import Column, Connection, Engine, Table, inspect, select

from projections.engine.compare import _canonical
from projections.engine.projection import Projection, TableSpec
from projections.engine.rows import Key, MemoryRows, Row
from projections.engine.runner import Dispatch, decode
from projections.engine.state import STATE, STATE_TABLE
from projections.engine.store import affinity, dumps, read_transaction
from settlement_domain.personal_keys import app_keys

PAGE = 10_000
LISTED = 50  # differing rows listed per table (the counts are always exact)

Progress = Callable[[int, int], None]  # (events folded so far, position folded to at the end)

MISSING, EXTRA, CHANGED = "missing", "extra", "changed"

# Column types whose values are shown when they differ: counts, flags, instants, and short codes and
# ids (a declared length of at most this many characters). Free text, JSON and calendar dates (birth
# dates) may hold personal data and are never shown.
SHORT_STRING = 60


def values_shown(column: Column[Any]) -> bool:
    """Whether a differing value of ``column`` may be printed: not free text, JSON or a calendar date."""
    kind = affinity(column)
    if kind in ("Integer", "Boolean", "DateTime", "Numeric", "Float"):
        return True
    if kind == "String":
        length = getattr(column.type, "length", None)
        return length is not None and length <= SHORT_STRING
    return False


class _Clock:
    """The position of the event being folded, shared by every projection's rows."""

    position = 0


class TracingRows(MemoryRows):
    """Memory rows that remember, per key, the position of the last event that wrote or deleted it."""

    def __init__(self, projection: Projection, clock: _Clock) -> None:
        super().__init__(projection)
        self.clock = clock
        self.touched: dict[str, dict[Key, int]] = {spec.name: {} for spec in projection.tables}
        self.appended_at: dict[str, list[int]] = {spec.name: [] for spec in projection.tables}

    def put(self, table: str, row: Row) -> None:
        key = self._key_of[table](row)
        self.data[table][key] = row
        self.touched[table][key] = self.clock.position

    def delete(self, table: str, key: Key) -> None:
        self.data[table].pop(key, None)
        self.touched[table][key] = self.clock.position

    def append(self, table: str, row: Row) -> None:
        self.appended[table].append(row)
        self.appended_at[table].append(self.clock.position)


@dataclass(frozen=True)
class ColumnDifference:
    """One column of a changed row: its value in the view and in the replay (None when hidden)."""

    column: str
    view: Any
    log: Any
    hidden: bool

    def as_dict(self) -> dict[str, Any]:
        if self.hidden:
            return {"column": self.column, "hidden": True}
        return {"column": self.column, "view": self.view, "log": self.log}


@dataclass(frozen=True)
class RowDifference:
    """A row the view lacks (missing), has but the log does not make (extra), or holds otherwise (changed)."""

    read_model: str
    table: str
    kind: str
    key: tuple[tuple[str, Any], ...]  # (column, value) of the table's key
    position: int | None  # the last event of the replay that wrote or deleted this key
    columns: tuple[ColumnDifference, ...] = ()

    @property
    def explanation(self) -> str:
        if self.position is None:
            return "no event in the log makes this row"
        if self.kind == EXTRA:
            return f"the event at position {self.position} deleted this row"
        return f"last event at position {self.position}"

    def describe(self) -> str:
        """One line: ``places.quotas key=(0301, 2025): changed settled_persons view=3 log=2 (...)``."""
        key = ", ".join(str(value) for _, value in self.key)
        what = self.kind
        if self.columns:
            what += " " + ", ".join(
                f"{c.column} (values hidden)" if c.hidden else f"{c.column} view={c.view} log={c.log}"
                for c in self.columns
            )
        return f"{self.read_model}.{self.table} key=({key}): {what} ({self.explanation})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "read_model": self.read_model,
            "table": self.table,
            "kind": self.kind,
            "key": dict(self.key),
            "columns": [c.as_dict() for c in self.columns],
            "position": self.position,
            "explanation": self.explanation,
        }


@dataclass
class TableVerdict:
    """One table: rows in the view, rows in the replay, and how many differ in each way."""

    table: str
    view_rows: int = 0
    log_rows: int = 0
    missing: int = 0
    extra: int = 0
    changed: int = 0

    @property
    def equal(self) -> bool:
        return self.missing == 0 and self.extra == 0 and self.changed == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "view_rows": self.view_rows,
            "log_rows": self.log_rows,
            "missing": self.missing,
            "extra": self.extra,
            "changed": self.changed,
        }


@dataclass
class ReadModelVerdict:
    """One read model, compared at its serving generation's position (or why it could not be)."""

    name: str
    code_version: int
    version: int | None = None
    generation: int | None = None
    position: int | None = None
    problem: str | None = None  # not installed, or built by another version: not comparable
    tables: list[TableVerdict] = field(default_factory=list)
    differences: list[RowDifference] = field(default_factory=list)  # the listed ones

    @property
    def equal(self) -> bool:
        return self.problem is None and all(t.equal for t in self.tables)

    def total(self, attribute: str) -> int:
        return sum(getattr(t, attribute) for t in self.tables)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "equal": self.equal,
            "problem": self.problem,
            "version": self.version,
            "code_version": self.code_version,
            "generation": self.generation,
            "position": self.position,
            "tables": [t.as_dict() for t in self.tables],
        }


@dataclass
class VerifyReport:
    """Every read model verified: the log's head when it started, events folded, the verdicts."""

    head: int
    events: int
    seconds: float
    read_models: list[ReadModelVerdict]

    @property
    def equal(self) -> bool:
        return all(r.equal for r in self.read_models)

    @property
    def differences(self) -> list[RowDifference]:
        return [d for r in self.read_models for d in r.differences]

    def as_dict(self) -> dict[str, Any]:
        return {
            "equal": self.equal,
            "head": self.head,
            "events": self.events,
            "seconds": round(self.seconds, 3),
            "read_models": [r.as_dict() for r in self.read_models],
            "differences": [d.as_dict() for d in self.differences],
        }


def verify(
    app: Any,
    engine: Engine,
    projections: Iterable[Projection],
    *,
    progress: Progress | None = None,
    listed: int = LISTED,
) -> VerifyReport:
    """Replays the log in memory and compares every table of ``projections`` with its serving rows.

    Read-only. The fold holds every row in memory and makes no reference cycles: a caller verifying a
    large log pauses the cyclic garbage collector around it (``settlement_domain.bulk.paused_garbage_collector``).
    """
    started = time.perf_counter()
    projections = list(projections)
    head = app.recorder.max_notification_id() or 0
    verdicts = {p.name: ReadModelVerdict(p.name, p.version) for p in projections}
    events = 0
    # One snapshot for every state row and every serving table: each read model is compared at the
    # position its rows were at; the log up to that position is folded meanwhile.
    with read_transaction(engine, snapshot=True) as conn:
        states = _states(conn, [p.name for p in projections])
        pending: list[tuple[Projection, Any]] = []
        for projection in projections:
            verdict = verdicts[projection.name]
            state = states.get(projection.name)
            if state is None:
                verdict.problem = "not installed (run settlement projections run)"
                continue
            verdict.version, verdict.generation, verdict.position = (
                state.version,
                state.generation,
                state.position,
            )
            if state.version != projection.version:
                verdict.problem = (
                    f"not comparable: version {state.version}, code version {projection.version} "
                    f"(rebuild it: settlement projections rebuild {projection.name})"
                )
                continue
            pending.append((projection, state))

        pending.sort(key=lambda item: item[1].position)
        target = pending[-1][1].position if pending else 0
        clock = _Clock()
        memories = {p.name: TracingRows(p, clock) for p, _ in pending}
        after = 0
        while pending:
            stop = pending[0][1].position
            if after < stop:
                dispatch = Dispatch([(p, memories[p.name]) for p, _ in pending], keys=app_keys(app))
                events = _fold(app, dispatch, clock, after, stop, events, target, progress)
                after = stop
            while pending and pending[0][1].position <= after:
                projection, state = pending.pop(0)
                _compare(conn, projection, state.generation, memories.pop(projection.name), verdicts, listed)
    return VerifyReport(head, events, time.perf_counter() - started, [verdicts[p.name] for p in projections])


def _states(conn: Connection, names: Sequence[str]) -> dict[str, Any]:
    if not inspect(conn).has_table(STATE_TABLE):
        return {}
    return {row.name: row for row in conn.execute(select(STATE).where(STATE.c.name.in_(list(names))))}


def _fold(
    app: Any,
    dispatch: Dispatch,
    clock: _Clock,
    after: int,
    stop: int,
    done: int,
    target: int,
    progress: Progress | None,
) -> int:
    """Folds the events after ``after`` up to ``stop`` (inclusive); answers the events folded so far."""
    fold = dispatch.fold
    while after < stop:
        page = app.recorder.select_notifications(after + 1, PAGE, stop=stop)
        if not page:
            break
        for item in decode(app, page):
            clock.position = item[0]
            fold([item])
        after = page[-1].id
        done += len(page)
        if progress:
            progress(done, target)
    return done


def _canonicalizer(columns: Sequence[Column[Any]]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """Values in a backend-independent form: datetimes as UTC ISO text, UUIDs as text, JSON as its
    canonical text; what SQLite and PostgreSQL return then equals what the fold made. Only the
    columns whose type needs it are converted (counts and flags compare as they are)."""
    conversions = [(i, f) for i, c in enumerate(columns) if (f := _conversion(c)) is not None]

    def canonical(values: Sequence[Any]) -> tuple[Any, ...]:
        out = list(values)
        for i, convert in conversions:
            value = out[i]
            if value is not None:
                out[i] = convert(value)
        return tuple(out)

    return canonical


def _conversion(column: Column[Any]) -> Callable[[Any], Any] | None:
    kind = affinity(column)
    if kind in ("Integer", "Boolean"):
        return None
    if kind == "JSON":
        return dumps
    if kind == "String":
        return _text
    return _canonical


def _text(value: Any) -> Any:
    if type(value) is str:
        return value
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value


def _compare(
    conn: Connection,
    projection: Projection,
    generation: int,
    memory: TracingRows,
    verdicts: dict[str, ReadModelVerdict],
    listed: int,
) -> None:
    verdict = verdicts[projection.name]
    tables = projection.sql_tables(generation, conn.dialect)
    for spec in projection.tables:
        result, differences = _compare_table(conn, projection, spec, tables[spec.name], memory, listed)
        verdict.tables.append(result)
        verdict.differences.extend(differences)


def _compare_table(
    conn: Connection, projection: Projection, spec: TableSpec, table: Table, memory: TracingRows, listed: int
) -> tuple[TableVerdict, list[RowDifference]]:
    """One table of the view against the replay's rows (which it lets go of)."""
    columns = list(table.columns)
    names = [c.name for c in columns]
    shown = [values_shown(c) for c in columns]
    canonical = _canonicalizer(columns)
    at = [names.index(k) for k in spec.key]
    touched = memory.touched[spec.name]

    # The replay's rows by canonical key, with the position that last wrote each.
    replayed: dict[Key, tuple[Any, ...]] = {}
    written: dict[Key, int] = {}
    for raw_key, row in memory.data[spec.name].items():
        values = canonical([row.get(n) for n in names])
        key = tuple(values[i] for i in at)
        replayed[key] = values
        written[key] = touched[raw_key]
    for row, position in zip(memory.appended[spec.name], memory.appended_at[spec.name], strict=True):
        values = canonical([row.get(n) for n in names])
        key = tuple(values[i] for i in at)
        replayed[key] = values
        written[key] = position
    memory.data[spec.name], memory.appended[spec.name] = {}, []  # let the folded rows go

    result = TableVerdict(spec.name, log_rows=len(replayed))
    found: dict[str, list[RowDifference]] = {MISSING: [], EXTRA: [], CHANGED: []}

    def note(kind: str, key: Key, position: int | None, changes: tuple[ColumnDifference, ...] = ()) -> None:
        if len(found[kind]) < listed:
            named = tuple(zip(spec.key, key, strict=True))
            found[kind].append(RowDifference(projection.name, spec.name, kind, named, position, changes))

    extras: list[Key] = []
    view = conn.execution_options(stream_results=True, yield_per=5000).execute(select(table))
    for sql_row in view:
        result.view_rows += 1
        values = canonical(sql_row)
        key = tuple(values[i] for i in at)
        expected = replayed.pop(key, None)
        if expected is None:
            result.extra += 1
            if len(extras) < listed:
                extras.append(key)
        elif expected != values:
            result.changed += 1
            changes = tuple(
                ColumnDifference(names[i], values[i], expected[i], False)
                if shown[i]
                else ColumnDifference(names[i], None, None, True)
                for i in range(len(names))
                if values[i] != expected[i]
            )
            note(CHANGED, key, written[key], changes)
    for key in replayed:
        result.missing += 1
        note(MISSING, key, written[key])
    if extras:
        # An extra key the replay knows was deleted by the event that touched it last (a key it
        # still held would have matched); any other, no event makes.
        key_of = _canonicalizer([columns[i] for i in at])
        wanted = set(extras)
        deleted = {k: position for raw_key, position in touched.items() if (k := key_of(raw_key)) in wanted}
        for key in extras:
            note(EXTRA, key, deleted.get(key))
    differences = [*found[CHANGED], *found[MISSING], *found[EXTRA]]
    differences.sort(key=lambda d: (d.position is None, d.position or 0, repr(d.key)))
    return result, differences
