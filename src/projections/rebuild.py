"""Blue/green rebuild: a new generation of tables is built from position 0 while the old one serves.

The bulk path folds the whole log in memory, writes the rows in large batches (COPY on PostgreSQL),
builds indexes afterwards, catches up with the live log, compares itself with the serving generation
(row count and checksum per table) and is swapped in by updating one state row.
"""

from __future__ import annotations

import gc
import hashlib
import operator
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import TEXT, Boolean, Connection, Engine, Table, cast, except_, func, select

from projections.base import STATE, MemoryRows, Projection
from projections.catalog import (
    create_generation,
    drop_generation,
    finish_generation,
    install,
    select_projections,
)
from projections.runner import Dispatch, decode, fold_into, lock_states
from projections.store import dumps, read_transaction, write_transaction

PAGE = 10_000
WRITE_CHUNK = 20_000

Progress = Callable[[int, int], None]  # (events folded so far, events to fold)


@dataclass
class TableComparison:
    """One table of the old and the new generation side by side.

    ``only_old`` and ``only_new`` count the rows one generation has and the other lacks (a set
    difference computed by the database both ways): an exact check where a checksum is a probable one.
    """

    table: str
    old_rows: int
    new_rows: int
    only_old: int
    only_new: int

    @property
    def equal(self) -> bool:
        return self.old_rows == self.new_rows and self.only_old == 0 and self.only_new == 0


@dataclass
class ProjectionRebuild:
    """What a rebuild did to one projection."""

    name: str
    old_generation: int | None
    new_generation: int
    position: int
    rows: int
    comparisons: list[TableComparison] = field(default_factory=list)

    @property
    def differences(self) -> list[TableComparison]:
        return [c for c in self.comparisons if not c.equal]


@dataclass
class RebuildReport:
    """The whole rebuild: per projection, and the time each phase took."""

    events: int
    projections: list[ProjectionRebuild]
    seconds: dict[str, float]

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())

    @property
    def equal(self) -> bool:
        return all(not p.differences for p in self.projections)


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.replace(tzinfo=UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def table_rows(conn: Connection, table: Table, key: Iterable[str]) -> Iterable[list[Any]]:
    """A table's rows in key order with values in a backend-independent form (for checksums, tests)."""
    result = conn.execution_options(stream_results=True, yield_per=5000).execute(
        select(table).order_by(*(table.c[k] for k in key))
    )
    for row in result:
        yield [_canonical(v) for v in row]


def checksum(conn: Connection, table: Table, key: Iterable[str]) -> tuple[int, str]:
    """Row count and SHA-256 over the canonical rows of a table (for reports and tests)."""
    digest = hashlib.sha256()
    count = 0
    for row in table_rows(conn, table, key):
        digest.update(dumps(row).encode())
        digest.update(b"\n")
        count += 1
    return count, digest.hexdigest()


def _comparable(table: Table, dialect: str) -> Any:
    # PostgreSQL's json type has no equality; our JSON text is canonical, so its text compares.
    columns = [
        cast(c, TEXT) if dialect == "postgresql" and c.type._type_affinity.__name__ == "JSON" else c
        for c in table.columns
    ]
    return select(*columns)


def compare(conn: Connection, projection: Projection, old: int, new: int) -> list[TableComparison]:
    """Row counts and row-by-row differences of every table of two generations, in one snapshot."""
    dialect = conn.dialect.name
    olds = projection.sql_tables(old, conn.dialect)
    news = projection.sql_tables(new, conn.dialect)
    comparisons = []
    for spec in projection.tables:
        a, b = olds[spec.name], news[spec.name]
        counts = [conn.execute(select(func.count()).select_from(t)).scalar_one() for t in (a, b)]

        def only_in(x: Table, y: Table) -> int:
            difference = except_(_comparable(x, dialect), _comparable(y, dialect)).subquery()
            return conn.execute(select(func.count()).select_from(difference)).scalar_one()

        only_old = only_in(a, b)
        # Rows are unique (keyed): with equal counts and nothing only in the old, nothing is only
        # in the new either, and the second pass over the largest tables is saved.
        only_new = 0 if counts[0] == counts[1] and only_old == 0 else only_in(b, a)
        comparisons.append(TableComparison(spec.name, counts[0], counts[1], only_old, only_new))
    return comparisons


def _bulk_write(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        columns = [c.name for c in table.columns]
        json_columns = {c.name for c in table.columns if c.type._type_affinity.__name__ == "JSON"}
        raw = conn.connection.dbapi_connection
        assert raw is not None
        with raw.cursor() as cursor, cursor.copy(
            f'COPY "{table.name}" ({", ".join(columns)}) FROM STDIN'
        ) as copy:
            for row in rows:
                copy.write_row(
                    [dumps(row[c]) if c in json_columns and row[c] is not None else row[c] for c in columns]
                )
    else:
        # The driver's executemany on tuples the column types prepared: SQLAlchemy's per-row
        # bookkeeping would cost more than SQLite's insert itself.
        columns = list(table.columns)
        names = [c.name for c in columns]
        values_of = operator.itemgetter(*names)
        # Only dates, instants and JSON need converting; SQLite takes the other values as they are.
        conversions = [
            (i, f) for i, c in enumerate(columns)
            if not isinstance(c.type, Boolean)
            and (f := c.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)) is not None
        ]
        if conversions:
            prepared = []
            for row in rows:
                values = list(values_of(row))
                for i, f in conversions:
                    if values[i] is not None:
                        values[i] = f(values[i])
                prepared.append(values)
        else:
            prepared = [values_of(row) for row in rows]
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        cursor.executemany(
            f'INSERT INTO "{table.name}" ({", ".join(names)}) VALUES ({", ".join("?" * len(names))})', prepared
        )
        cursor.close()


def _tail(app: Any, after: int, until: int) -> list[tuple[int, Any]]:
    events: list[tuple[int, Any]] = []
    while after < until:
        page = app.recorder.select_notifications(after + 1, PAGE, stop=until)
        if not page:
            break
        events += decode(app, page)
        after = page[-1].id
    return events


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while it lasts; reference counting still frees everything.

    A rebuild holds millions of long-lived rows and makes no reference cycles, and the collector's
    repeated full scans of those rows took half the fold (126k events: fold 6.0 s with, 3.1 s without).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def rebuild(
    app: Any,
    engine: Engine,
    names: Iterable[str] | None = None,
    *,
    progress: Progress | None = None,
    grace_seconds: float = 1.0,
) -> RebuildReport:
    """Rebuilds the named projections (all by default) without stopping reads, and swaps them in."""
    with gc_paused():
        return _rebuild(app, engine, names, progress=progress, grace_seconds=grace_seconds)


def _rebuild(
    app: Any,
    engine: Engine,
    names: Iterable[str] | None,
    *,
    progress: Progress | None,
    grace_seconds: float,
) -> RebuildReport:
    projections = select_projections(names)
    install(engine, projections)
    seconds: dict[str, float] = {}
    started = time.perf_counter()

    # 1. Fold the log up to its current head, in memory.
    head = app.recorder.max_notification_id() or 0
    memories = {p.name: MemoryRows(p) for p in projections}
    dispatch = Dispatch([(p, memories[p.name]) for p in projections])
    done, after = 0, 0
    while after < head:
        page = app.recorder.select_notifications(after + 1, PAGE, stop=head)
        if not page:
            break
        dispatch.fold(decode(app, page))
        after = page[-1].id
        done += len(page)
        if progress:
            progress(done, head)
    seconds["fold"] = time.perf_counter() - started

    # 2. Write a new generation beside the serving one, in chunks so that writers are never held up long.
    started = time.perf_counter()
    with engine.connect() as conn:
        old = {row.name: row for row in conn.execute(select(STATE))}
    generations = {p.name: old[p.name].generation + 1 for p in projections}
    counts: dict[str, int] = {}
    for projection in projections:
        generation = generations[projection.name]
        with write_transaction(engine) as conn:
            drop_generation(conn, projection, generation)  # an interrupted earlier rebuild's tables
            create_generation(conn, projection, generation, indexes=False)
        tables = projection.sql_tables(generation, engine.dialect)
        counts[projection.name] = 0
        for spec in projection.tables:
            rows = memories[projection.name].all_rows(spec.name)
            counts[projection.name] += len(rows)
            for start in range(0, len(rows), WRITE_CHUNK):
                with write_transaction(engine) as conn:
                    _bulk_write(conn, tables[spec.name], rows[start : start + WRITE_CHUNK])
        memories[projection.name] = MemoryRows(projection)  # let the folded rows go
        with write_transaction(engine) as conn:
            finish_generation(conn, projection, generation)
    seconds["write"] = time.perf_counter() - started

    # 3. Catch up with the log, compare with the serving generation in one snapshot, swap.
    started = time.perf_counter()
    positions = {p.name: head for p in projections}
    results = [
        ProjectionRebuild(p.name, old[p.name].generation, generations[p.name], head, counts[p.name])
        for p in projections
    ]
    for projection, result in zip(projections, results, strict=True):
        result.comparisons = _catch_up_and_compare(app, engine, projection, result, positions)
    seconds["compare"] = time.perf_counter() - started

    started = time.perf_counter()
    with write_transaction(engine) as conn:
        states = lock_states(conn, positions)
        for projection, result in zip(projections, results, strict=True):
            serving = states[projection.name]
            target = max(serving.position, positions[projection.name])
            events = _tail(app, positions[projection.name], target)
            fold_into(conn, projection, result.new_generation, events, positions[projection.name])
            result.position = target
            conn.execute(
                STATE.update()
                .where(STATE.c.name == projection.name)
                .values(generation=result.new_generation, version=projection.version, position=target,
                        updated_at=datetime.now(UTC))
            )
    seconds["swap"] = time.perf_counter() - started

    # 4. Readers that looked up the old generation just before the swap finish within the grace.
    time.sleep(grace_seconds)
    for projection, result in zip(projections, results, strict=True):
        if result.old_generation is not None:
            with write_transaction(engine) as conn:
                drop_generation(conn, projection, result.old_generation)
    return RebuildReport(head, results, seconds)


def _catch_up_and_compare(
    app: Any, engine: Engine, projection: Projection, result: ProjectionRebuild, positions: dict[str, int]
) -> list[TableComparison]:
    """Brings the new generation to the serving one's position and compares both in one snapshot.

    The serving generation may be moving (a live runner); when it moved between catching up and
    the snapshot, the step repeats. When nothing serves it yet (position 0), there is nothing to compare.
    """
    name = projection.name
    for _ in range(20):
        with engine.connect() as conn:
            serving = conn.execute(select(STATE).where(STATE.c.name == name)).one()
        if serving.position == 0 and not _has_rows(engine, projection, serving.generation):
            return []
        if serving.position < positions[name]:
            # Nobody advanced the serving generation past the rebuild's head: do the runner's work.
            with write_transaction(engine) as conn:
                state = lock_states(conn, [name])[name]
                events = _tail(app, state.position, positions[name])
                fold_into(conn, projection, state.generation, events, state.position)
                conn.execute(STATE.update().where(STATE.c.name == name).values(position=positions[name]))
            continue
        if serving.position > positions[name]:
            with write_transaction(engine) as conn:
                events = _tail(app, positions[name], serving.position)
                fold_into(conn, projection, result.new_generation, events, positions[name])
            positions[name] = serving.position
        with read_transaction(engine, snapshot=True) as conn:
            state = conn.execute(select(STATE).where(STATE.c.name == name)).one()
            if state.position != positions[name]:
                continue
            return compare(conn, projection, state.generation, result.new_generation)
    raise RuntimeError(f"The {name} view kept moving; its rebuild could not be compared.")


def _has_rows(engine: Engine, projection: Projection, generation: int) -> bool:
    with engine.connect() as conn:
        tables = projection.sql_tables(generation, conn.dialect)
        return any(conn.execute(select(t).limit(1)).first() for t in tables.values())
