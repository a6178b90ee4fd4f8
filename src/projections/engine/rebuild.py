"""Blue/green rebuild: a new generation of tables is built from position 0 while the old one serves.

The bulk path folds the whole log in memory, writes the rows in large batches (COPY on PostgreSQL),
builds indexes afterwards, catches up with the live log, compares itself with the serving generation
(row count and row-by-row differences per table) and is swapped in by updating one state row.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select, text

from projections.engine.bulk_write import bulk_write
from projections.engine.compare import TableComparison, compare
from projections.engine.decoding import EventDecoder
from projections.engine.generations import (
    create_generation,
    drop_generation,
    finish_generation,
    install,
    lock_key,
)
from projections.engine.projection import Projection
from projections.engine.rows import MemoryRows
from projections.engine.runner import Dispatch, fold_into, handled_by
from projections.engine.state import STATE, lock_states
from projections.engine.store import read_transaction, write_transaction
from settlement_domain.personal_keys import app_keys, bind_read_store

PAGE = 10_000
WRITE_CHUNK = 20_000

Progress = Callable[[int, int], None]  # (events folded so far, events to fold)


@dataclass
class ProjectionRebuild:
    """What a rebuild did to one projection."""

    name: str
    old_generation: int | None
    new_generation: int
    position: int
    rows: int
    comparisons: list[TableComparison] = field(default_factory=list)
    # The version of the code that built the generation replaced, when it was another: a new
    # version's rows differ by design, so they are not compared with the old ones.
    replaced_version: int | None = None

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


def outdated(engine: Engine, projections: Sequence[Projection]) -> list[Projection]:
    """The installed projections whose serving generation was built by another version of their code."""
    with engine.connect() as conn:
        versions = {row.name: row.version for row in conn.execute(select(STATE.c.name, STATE.c.version))}
    return [p for p in projections if p.name in versions and versions[p.name] != p.version]


def rebuild_outdated(
    app: Any, engine: Engine, projections: Iterable[Projection], *, progress: Progress | None = None
) -> RebuildReport | None:
    """Rebuilds the projections a code upgrade changed (see :func:`outdated`), before a runner folds
    new events into tables of the old shape; None when every one is current."""
    projections = list(projections)
    install(engine, projections)
    stale = outdated(engine, projections)
    return rebuild(app, engine, stale, progress=progress) if stale else None


def _tail(app: Any, decoder: EventDecoder, after: int, until: int) -> list[tuple[int, Any]]:
    events: list[tuple[int, Any]] = []
    while after < until:
        page = app.recorder.select_notifications(after + 1, PAGE, stop=until)
        if not page:
            break
        events += decoder.decode(page)
        after = page[-1].id
    return events


def rebuild(
    app: Any,
    engine: Engine,
    projections: Sequence[Projection],
    *,
    progress: Progress | None = None,
    grace_seconds: float = 1.0,
) -> RebuildReport:
    """Rebuilds ``projections`` without stopping reads, and swaps them in.

    The fold holds every row in memory and makes no reference cycles: a caller rebuilding a large log
    pauses the cyclic garbage collector around it (``settlement_domain.bulk.paused_garbage_collector``),
    whose repeated scans of those rows took half the time.
    """
    report = build_and_swap(app, engine, list(projections), progress=progress)
    # 4. Readers that looked up the old generation just before the swap finish within the grace.
    time.sleep(grace_seconds)
    drop_replaced(engine, projections, report)
    return report


def drop_replaced(engine: Engine, projections: Sequence[Projection], report: RebuildReport) -> None:
    """Drops the generations a rebuild's swap replaced (once the readers' grace has passed)."""
    by_name = {p.name: p for p in projections}
    for result in report.projections:
        if result.old_generation is not None:
            with write_transaction(engine) as conn:
                drop_generation(conn, by_name[result.name], result.old_generation)


class RebuildRaced(RuntimeError):
    """Another rebuild swapped one of these read models while this one was building: nothing of this one
    is swapped in (its generation is another's now); run it again if still wanted."""


@contextmanager
def _rebuild_locks(engine: Engine, names: Iterable[str]) -> Iterator[None]:
    """PostgreSQL: one rebuild of a read model at a time across processes (an operator's rebuild, a
    worker's upgrade at start, the read expiry's rebuild of the audit trail, a runner's bulk build), by
    a session advisory lock per read model, taken in name order; the next one waits. SQLite: one
    process writes the store (the server), and a rebuild's swap checks the generation it replaces."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        keys = [lock_key(conn, f"rebuild:{name}") for name in sorted(set(names))]
        conn.commit()
        for key in keys:
            conn.execute(text("select pg_advisory_lock(:k)"), {"k": key})
            conn.commit()
        try:
            yield
        finally:
            for key in reversed(keys):
                conn.execute(text("select pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()


def build_and_swap(
    app: Any,
    engine: Engine,
    projections: list[Projection],
    *,
    progress: Progress | None = None,
    on_page: Callable[[int, Sequence[Any]], None] | None = None,
) -> RebuildReport:
    """Steps 1-3 of a rebuild (fold, write, catch up, compare, swap); the replaced generations are
    left for the caller to drop after the readers' grace (:func:`drop_replaced`). One rebuild of a read
    model at a time (:func:`_rebuild_locks`); a swap that would replace another generation than the
    one this rebuild started from is refused (:class:`RebuildRaced`).

    ``on_page(after, page)``: called with each page of the log the fold reads (from ``after + 1``),
    so that a caller can use the page too (the runner links it into the hash chain)."""
    with _rebuild_locks(engine, [p.name for p in projections]):
        return _build_and_swap(app, engine, projections, progress=progress, on_page=on_page)


def _build_and_swap(
    app: Any,
    engine: Engine,
    projections: list[Projection],
    *,
    progress: Progress | None = None,
    on_page: Callable[[int, Sequence[Any]], None] | None = None,
) -> RebuildReport:
    install(engine, projections)
    bind_read_store(engine, app_keys(app))
    seconds: dict[str, float] = {}
    started = time.perf_counter()

    # 1. Fold the log up to its current head, in memory.
    head = app.recorder.max_notification_id() or 0
    memories = {p.name: MemoryRows(p) for p in projections}
    dispatch = Dispatch([(p, memories[p.name]) for p in projections], keys=app_keys(app))
    decoder = EventDecoder(app, handled_by(projections))
    done, after = 0, 0
    while after < head:
        page = app.recorder.select_notifications(after + 1, PAGE, stop=head)
        if not page:
            break
        if on_page is not None:
            on_page(after, page)
        dispatch.fold(decoder.decode(page))
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
                    bulk_write(conn, tables[spec.name], rows[start : start + WRITE_CHUNK])
        memories[projection.name] = MemoryRows(projection)  # let the folded rows go
        with write_transaction(engine) as conn:
            finish_generation(conn, projection, generation)
    seconds["write"] = time.perf_counter() - started

    # 3. Catch up with the log, compare with the serving generation in one snapshot, swap.
    started = time.perf_counter()
    positions = {p.name: head for p in projections}
    results = [
        ProjectionRebuild(
            p.name,
            old[p.name].generation,
            generations[p.name],
            head,
            counts[p.name],
            replaced_version=old[p.name].version if old[p.name].version != p.version else None,
        )
        for p in projections
    ]
    for projection, result in zip(projections, results, strict=True):
        result.comparisons = _catch_up_and_compare(app, decoder, engine, projection, result, positions)
    seconds["compare"] = time.perf_counter() - started

    started = time.perf_counter()
    with write_transaction(engine) as conn:
        states = lock_states(conn, positions)
        for projection, result in zip(projections, results, strict=True):
            serving = states[projection.name]
            if serving.generation != result.old_generation:
                raise RebuildRaced(
                    f"read model {projection.name!r}: generation {serving.generation} serves now, not "
                    f"{result.old_generation}; another rebuild swapped it meanwhile"
                )
            target = max(serving.position, positions[projection.name])
            events = _tail(app, decoder, positions[projection.name], target)
            fold_into(
                conn,
                projection,
                result.new_generation,
                events,
                positions[projection.name],
                keys=app_keys(app),
            )
            result.position = target
            conn.execute(
                STATE.update()
                .where(STATE.c.name == projection.name)
                .values(
                    generation=result.new_generation,
                    version=projection.version,
                    position=target,
                    updated_at=datetime.now(UTC),
                )
            )
    seconds["swap"] = time.perf_counter() - started
    return RebuildReport(head, results, seconds)


def _catch_up_and_compare(
    app: Any,
    decoder: EventDecoder,
    engine: Engine,
    projection: Projection,
    result: ProjectionRebuild,
    positions: dict[str, int],
) -> list[TableComparison]:
    """Brings the new generation to the serving one's position and compares both in one snapshot.

    The serving generation may be moving (a live runner); when it moved between catching up and
    the snapshot, the step repeats. When nothing serves it yet (position 0), there is nothing to compare.
    """
    name = projection.name
    if result.replaced_version is not None:
        # The serving generation has another version's tables: this code neither folds into them
        # nor compares with them. The swap folds the log's tail into the new generation.
        return []
    for _ in range(20):
        with engine.connect() as conn:
            serving = conn.execute(select(STATE).where(STATE.c.name == name)).one()
        if serving.position == 0 and not _has_rows(engine, projection, serving.generation):
            return []
        if serving.position < positions[name]:
            # Nobody advanced the serving generation past the rebuild's head: do the runner's work.
            with write_transaction(engine) as conn:
                state = lock_states(conn, [name])[name]
                events = _tail(app, decoder, state.position, positions[name])
                fold_into(conn, projection, state.generation, events, state.position, keys=app_keys(app))
                conn.execute(STATE.update().where(STATE.c.name == name).values(position=positions[name]))
            continue
        if serving.position > positions[name]:
            with write_transaction(engine) as conn:
                events = _tail(app, decoder, positions[name], serving.position)
                fold_into(
                    conn, projection, result.new_generation, events, positions[name], keys=app_keys(app)
                )
            positions[name] = serving.position
        with read_transaction(engine, snapshot=True) as conn:
            state = conn.execute(select(STATE).where(STATE.c.name == name)).one()
            if state.position != positions[name]:
                continue
            return compare(conn, projection, state.generation, result.new_generation)
    raise RuntimeError(f"The serving generation of {name} kept moving; its rebuild could not be compared.")


def _has_rows(engine: Engine, projection: Projection, generation: int) -> bool:
    with engine.connect() as conn:
        tables = projection.sql_tables(generation, conn.dialect)
        return any(conn.execute(select(t).limit(1)).first() for t in tables.values())
