"""The batching runner: folds the global log into every read model, one transaction per batch."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from projections.engine import chain as event_chain
from projections.engine.decoding import EventDecoder
from projections.engine.generations import drop_generation, install, lock_key
from projections.engine.projection import Handler, Projection, ProjectionError
from projections.engine.rows import DatabaseRows, Rows
from projections.engine.state import STATE, lock_states
from projections.engine.store import write_transaction
from projections.engine.wakeup import Wakeup
from settlement_domain.bulk import paused_garbage_collector
from settlement_domain.personal_keys import ViewKeys, app_keys, bind_read_store

log = logging.getLogger(__name__)

Decoded = list[tuple[int, Any]]


# A read model's rows kept in memory between batches: at most this many keys while catching up, and
# this many once the runner has reached the head of the log (then it is following, not catching up).
KEPT_CATCHING_UP = 1_000_000
KEPT_AT_HEAD = 20_000
# When the runner starts on a read model (or starts over), it reads a table whole when it has at most
# this many rows per event it is behind: a lookup costs a round trip, a row read in bulk far less.
LOAD_PER_EVENT = 5
# A read model that has folded nothing yet (position 0) while the log holds at least this many events
# is built the rebuild's way (fold in memory, write without indexes, index, swap; see ``Runner``).
BULK_FROM = 10_000
# Seconds a replaced generation outlives its swap, for readers that looked it up just before.
GRACE_SECONDS = 1.0


def decode(app: Any, notifications: Sequence[Any]) -> Decoded:
    """Decodes a page of notifications once with the library's mapper (``audit verify`` and the
    per-event baseline; the runner and the rebuild use the faster :class:`EventDecoder`)."""
    to_domain_event = app.mapper.to_domain_event
    return [(n.id, to_domain_event(n)) for n in notifications]


class Dispatch:
    """Which handlers want each event class, worked out once per class rather than once per event."""

    def __init__(self, targets: Iterable[tuple[Projection, Rows]], *, keys: ViewKeys) -> None:
        """``keys``: the key store of the store whose events are folded (``personal_keys.app_keys``),
        which the projections seal personal values with (R18); never another store's."""
        self.targets = list(targets)
        for _, rows in self.targets:
            rows.keys = keys
        self._by_class: dict[type[Any], list[tuple[Projection, Handler, Rows]]] = {}

    def fold(self, events: Decoded, after: int = 0) -> None:
        by_class = self._by_class
        for position, event in events:
            if position <= after:
                continue
            event_class = type(event)
            handlers = by_class.get(event_class)
            if handlers is None:
                handlers = by_class[event_class] = [
                    (p, h, rows) for p, rows in self.targets if (h := p.handler_for(event_class)) is not None
                ]
            for projection, handler, rows in handlers:
                try:
                    handler(event, position, rows)
                except Exception as error:
                    raise ProjectionError(projection.name, position, event_class.__name__, error) from error


def handled_by(projections: Iterable[Projection]) -> Any:
    """Whether any of ``projections`` folds events of a class (the others are not even decoded)."""
    projections = list(projections)

    def wanted(event_class: type[Any]) -> bool:
        return any(p.handler_for(event_class) is not None for p in projections)

    return wanted


def fold_into(
    conn: Connection, projection: Projection, generation: int, events: Decoded, after: int, *, keys: ViewKeys
) -> None:
    """Applies ``events`` after position ``after`` to one generation's tables, inside ``conn``;
    ``keys``: see :class:`Dispatch`."""
    rows = DatabaseRows(conn, projection, generation)
    Dispatch([(projection, rows)], keys=keys).fold(events, after)
    rows.flush()


@dataclass(frozen=True)
class ProjectionStatus:
    """One projection's state as ``settlement projections status`` and ``/health`` show it."""

    name: str
    version: int
    code_version: int
    generation: int
    position: int
    head: int

    @property
    def lag(self) -> int:
        return max(0, self.head - self.position)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "code_version": self.code_version,
            "generation": self.generation,
            "position": self.position,
            "lag": self.lag,
        }


def status(app: Any, engine: Engine, projections: Iterable[Projection]) -> list[ProjectionStatus]:
    """Each installed projection's version, generation, position and lag behind the log's head."""
    head = app.recorder.max_notification_id() or 0
    with engine.connect() as conn:
        rows = {row.name: row for row in conn.execute(select(STATE))}
    return [
        ProjectionStatus(
            p.name, rows[p.name].version, p.version, rows[p.name].generation, rows[p.name].position, head
        )
        for p in projections
        if p.name in rows
    ]


def caught_up_to(
    engine: Engine,
    position: int,
    *,
    timeout: float = 2.0,
    poll: float = 0.05,
    names: Iterable[str] | None = None,
) -> bool:
    """Read-your-writes across processes: waits until every installed projection (or those ``names``)
    is at ``position`` (False on timeout).

    For a runner in another process (``settlement projections run`` on PostgreSQL); a runner in
    this process answers faster with :meth:`Runner.wait_for`.
    """
    deadline = time.monotonic() + timeout
    while True:
        query = select(func.min(STATE.c.position))
        if names is not None:
            query = query.where(STATE.c.name.in_(list(names)))
        with engine.connect() as conn:
            lowest = conn.execute(query).scalar_one_or_none()
        if lowest is not None and lowest >= position:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)


class OutdatedReadModel(RuntimeError):
    """A read model's tables were built by another version of its code: it must be rebuilt first
    (``rebuild_outdated``, which ``settlement serve`` and ``settlement projections run`` do at start)."""

    def __init__(self, name: str, stored: int, code: int) -> None:
        super().__init__(
            f"Read model {name!r} is version {stored}, the code is version {code}: "
            f"rebuild it (settlement projections rebuild {name})."
        )
        self.name = name


@dataclass
class Periodic:
    """Work the runner does itself between its batches: at start, then again every ``every`` seconds
    (the expiry of read records, R14: ``projections/read_expiry.py``). The live loop runs a step in a
    thread of its own, so that a long one (a rebuild) never holds the read models back; a step still
    running at its next turn skips that turn. A step that fails is logged (its kind only) and tried
    again at its next turn; it never stops the runner."""

    name: str
    every: float
    step: Callable[[], Any]
    due: float | None = field(default=None)  # the monotonic moment of its next turn; None: at start
    thread: threading.Thread | None = field(default=None, repr=False)  # the live loop's run of it


@dataclass
class _Kept:
    """A read model's rows the runner keeps in memory, valid while the state row still shows the
    generation and position this runner's last commit left (nobody else folded into the tables)."""

    generation: int
    position: int
    rows: DatabaseRows
    dispatch: Dispatch


class Runner:
    """Follows the log and keeps the read models current.

    Each batch reads one page of notifications, decodes it once, hands every event to the projections
    that want its type and commits their rows together with their positions. A crash before the
    commit leaves rows and positions as they were, so the batch is simply done again.

    The rows a batch read or wrote stay in memory for the next batch (a catch-up then reads each row
    once, and tables that were empty when the runner began are never queried for rows that do not
    exist). They are dropped when the read model's state row shows another generation or position
    than this runner's last commit left (a rebuild swapped, another worker folded), when a batch
    fails, and when they grow past ``KEPT_CATCHING_UP`` keys (``KEPT_AT_HEAD`` once at the head).

    On PostgreSQL a session advisory lock per projection lets one worker own it; another runner
    started beside it waits for the lock instead of doing the same work.

    Each batch also advances the hash chain over the log (R20, ``engine/chain.py``) unless ``chain``
    is off: the chain follows the log as closely as the read models do. Between batches it runs its
    ``periodic`` steps when their turn has come (:class:`Periodic`).

    A read model that has folded nothing yet while the log holds ``bulk_from`` events or more (a new
    store, a read model added to a store with a history) is built as a rebuild builds one: folded in
    memory, written into a new generation without indexes, indexed, and swapped in together with its
    position in one transaction (``engine/rebuild.py``). Until the swap, the empty generation serves
    (a crash leaves it serving, and the next start builds again); the replaced empty generation is
    dropped once the readers' grace has passed. ``bulk_from=None``: always batch by batch.
    """

    def __init__(
        self,
        app: Any,
        engine: Engine,
        projections: Iterable[Projection],
        *,
        batch_size: int = 1000,
        poll_interval: float = 0.5,
        chain: bool = True,
        wakeup: Wakeup | None = None,
        bulk_from: int | None = BULK_FROM,
        periodic: Sequence[Periodic] = (),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.periodic = list(periodic)
        self.monotonic = monotonic  # the clock of the periodic steps (tests inject one)
        self.keys = app_keys(app)
        bind_read_store(engine, self.keys)  # the read functions of this engine open with these keys
        self.chain = chain
        self.engine = engine
        self.projections = list(projections)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self._owned: list[Projection] = []
        self._chain_owned = False  # whether this runner advances the hash chain (one runner does)
        self._lock_conn: Connection | None = None
        self._stop = threading.Event()
        # Between polls, new events wake the live loop at once (engine/wakeup.py).
        self.wakeup = wakeup or Wakeup()
        self._thread: threading.Thread | None = None
        self._progress = threading.Condition()
        self.position = 0
        self.error: BaseException | None = None
        self._decoder = EventDecoder(app, handled_by(self.projections))
        self._kept: dict[str, _Kept] = {}
        # Read models whose kept rows outgrew the bound while catching up: until the runner reaches the
        # head, their tables are no longer read whole (they would be, again, at every batch).
        self._outgrown: set[str] = set()
        self.bulk_from = bulk_from
        # Generations a bulk build replaced: (when they may go, projection, generation).
        self._replaced: list[tuple[float, Projection, int]] = []
        install(engine, self.projections)
        if chain:
            event_chain.install(engine)

    # Ownership ---------------------------------------------------------------------------------

    def owned(self) -> list[Projection]:
        """The projections this runner may work on (on PostgreSQL, those whose lock it holds)."""
        if self.engine.dialect.name != "postgresql":
            self._chain_owned = self.chain
            return self.projections
        if len(self._owned) < len(self.projections) or (self.chain and not self._chain_owned):
            if self._lock_conn is None:
                self._lock_conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            if self.chain and not self._chain_owned:
                self._chain_owned = self._lock_conn.execute(
                    text("select pg_try_advisory_lock(:k)"),
                    {"k": lock_key(self._lock_conn, event_chain.CHAIN_TABLE)},
                ).scalar_one()
            for projection in self.projections:
                if projection in self._owned:
                    continue
                got = self._lock_conn.execute(
                    text("select pg_try_advisory_lock(:k)"), {"k": lock_key(self._lock_conn, projection.name)}
                ).scalar_one()
                if got:
                    self._owned.append(projection)
        return list(self._owned)

    def release(self) -> None:
        """Gives up the advisory locks (closing their session), so another worker may take over."""
        if self._lock_conn is not None:
            conn, self._lock_conn = self._lock_conn, None
            try:
                # Session locks outlive a connection returned to the pool: let go of them explicitly.
                conn.execute(text("select pg_advisory_unlock_all()"))
                conn.close()
            except SQLAlchemyError:
                # The session is gone already, and the server dropped its locks with it.
                conn.invalidate()
        self._owned = []
        self._chain_owned = False
        self._kept.clear()  # another worker may fold these read models now
        self._drop_replaced(wait=True)

    # Work --------------------------------------------------------------------------------------

    def run_batch(self) -> int:
        """Processes one page of the log; answers how many events it read (0: nothing new)."""
        owned = self.owned()
        if self._replaced:
            self._drop_replaced(wait=False)
        chain_head = event_chain.head_position(self.engine) if self._chain_owned else None
        if not owned:
            return self._advance_chain(chain_head)
        with self.engine.connect() as conn:
            stored = list(conn.execute(select(STATE).where(STATE.c.name.in_([p.name for p in owned]))))
        positions = {row.name: row.position for row in stored}
        versions = {row.name: row.version for row in stored}
        for projection in owned:
            if versions[projection.name] != projection.version:
                raise OutdatedReadModel(projection.name, versions[projection.name], projection.version)
        if self.bulk_from is not None:
            fresh = [p for p in owned if positions[p.name] == 0]
            if fresh and (self.app.recorder.max_notification_id() or 0) >= self.bulk_from:
                return self._build_in_bulk(fresh, chain_head)
        start = min(positions.values())
        notifications = self.app.recorder.select_notifications(
            start + 1, self.batch_size, inclusive_of_start=True
        )
        # The chain and the read models at the same position (following the log): one read of the page,
        # whose links commit with the read models' rows (one commit per batch).
        shared = chain_head is not None and chain_head == start
        chained = 0 if shared else self._advance_chain(chain_head)
        if not notifications:
            self._advanced(start)
            return chained
        # A full page: catching up, batch after batch. The cyclic collector waits until the batch is
        # done (its rows make no reference cycles; its full passes over the kept rows cost the most).
        catching_up = len(notifications) == self.batch_size
        with paused_garbage_collector() if catching_up else nullcontext():
            return self._fold_page(owned, positions, notifications, start, shared, chained)

    def _fold_page(
        self,
        owned: list[Projection],
        positions: dict[str, int],
        notifications: Sequence[Any],
        start: int,
        shared: bool,
        chained: int,
    ) -> int:
        """Folds one page into the owned read models (and links it into the chain when ``shared``), in
        one transaction; answers how many events it read."""
        events = self._decoder.decode(notifications)
        last = notifications[-1].id
        now = datetime.now(UTC)
        folded: list[str] = []
        try:
            with write_transaction(self.engine) as conn:
                if shared:
                    chained = event_chain.link_page(conn, start, notifications)
                states = lock_states(conn, positions)
                # Positions are re-read under the lock: another worker or a rebuild may have moved them.
                for projection in owned:
                    state = states[projection.name]
                    if state.position >= last:
                        continue
                    kept = self._kept_for(conn, projection, state)
                    try:
                        kept.dispatch.fold(events, state.position)
                        kept.rows.flush()
                    except ProjectionError:
                        raise
                    except Exception as error:  # writing the batch's rows failed: no one event to name
                        raise ProjectionError(
                            projection.name, last, f"batch write after {state.position}", error
                        ) from error
                    conn.execute(
                        STATE.update()
                        .where(STATE.c.name == projection.name)
                        .values(position=last, updated_at=now)
                    )
                    folded.append(projection.name)
        except BaseException:
            # The batch rolled back: rows kept in memory may hold its changes.
            self._kept.clear()
            raise
        at_head = len(notifications) < self.batch_size
        for name in folded:
            kept = self._kept[name]
            kept.position = last
            if kept.rows.size() > (KEPT_AT_HEAD if at_head else KEPT_CATCHING_UP):
                del self._kept[name]
                if not at_head:
                    self._outgrown.add(name)
        if at_head:
            self._outgrown.clear()
        self._advanced(last)
        return max(len(notifications), chained)

    def _advance_chain(self, chain_head: int | None) -> int:
        """Advances the hash chain (R20) on its own when this runner owns it (``chain_head`` not None)
        and it does not stand where the read models do: over a page of its own, larger than a batch
        (its rows are small)."""
        if chain_head is None:
            return 0
        return event_chain.advance(self.app, self.engine, limit=max(self.batch_size, event_chain.PAGE))

    def _build_in_bulk(self, projections: list[Projection], chain_head: int | None) -> int:
        """Builds read models that have folded nothing yet the rebuild's way (see the class); answers
        the events folded. The rebuild catches up with, compares with and swaps out whatever serves.
        The hash chain (when this runner owns it, ``chain_head`` not None) links the pages the fold
        reads, from the page that holds the event after its head: one read of the log for both."""
        from projections.engine import rebuild  # the rebuild folds with this module's Dispatch

        linked = [chain_head]

        def link(after: int, page: Sequence[Any]) -> None:
            head = linked[0]
            # The page holds every event after ``after``: those after the chain's head follow it.
            if head is not None and after <= head < page[-1].id:
                event_chain.advance(self.app, self.engine, read=(head, [n for n in page if n.id > head]))
                linked[0] = page[-1].id

        with paused_garbage_collector():  # the rows in memory make no reference cycles (see rebuild)
            report = rebuild.build_and_swap(
                self.app, self.engine, projections, on_page=link if chain_head is not None else None
            )
        for result in report.projections:
            if result.differences:
                # Another worker folded into the serving generation meanwhile, and its rows were not
                # the log's fold: the swapped-in generation is (as after `projections rebuild`).
                log.warning(
                    "bulk build of %s differed from the generation it replaced in %s",
                    result.name,
                    ", ".join(c.table for c in result.differences),
                )
        deadline = time.monotonic() + GRACE_SECONDS
        by_name = {p.name: p for p in projections}
        for result in report.projections:
            self._kept.pop(result.name, None)
            if result.old_generation is not None:
                self._replaced.append((deadline, by_name[result.name], result.old_generation))
        return report.events

    def _drop_replaced(self, *, wait: bool) -> None:
        """Drops the generations bulk builds replaced whose grace has passed (``wait``: all, after it)."""
        pending, self._replaced = self._replaced, []
        for deadline, projection, generation in pending:
            remaining = deadline - time.monotonic()
            if remaining > 0 and not wait:
                self._replaced.append((deadline, projection, generation))
                continue
            if remaining > 0:
                time.sleep(remaining)
            try:
                with write_transaction(self.engine) as conn:
                    drop_generation(conn, projection, generation)
            except SQLAlchemyError as error:
                # Empty tables left behind, nothing served from them: never a reason to stop the runner
                # (or to hide the error a stopping runner is releasing its locks after).
                log.warning(
                    "could not drop the replaced generation %s of %s: %s",
                    generation,
                    projection.name,
                    type(error).__name__,
                )

    def _kept_for(self, conn: Connection, projection: Projection, state: Any) -> _Kept:
        """The rows kept for ``projection`` when still valid for its state row, else fresh ones."""
        kept = self._kept.get(projection.name)
        if kept is not None and (kept.generation, kept.position) == (state.generation, state.position):
            kept.rows.rebind(conn)
            return kept
        lag = (self.app.recorder.max_notification_id() or 0) - state.position
        # Catching up (more than a batch behind), a table looked up is read whole when it is empty, or
        # small beside the work ahead; following the log, lookups go to the database as they come
        # (no count of a large table for a batch of a few events).
        catching_up = lag > self.batch_size and projection.name not in self._outgrown
        load_limit = min(KEPT_CATCHING_UP, LOAD_PER_EVENT * lag) if catching_up else None
        rows = DatabaseRows(conn, projection, state.generation, load_limit=load_limit)
        kept = self._kept[projection.name] = _Kept(
            state.generation, state.position, rows, Dispatch([(projection, rows)], keys=self.keys)
        )
        return kept

    def run_periodic(self, *, wait: bool = True) -> int:
        """Starts the periodic steps whose turn has come (see :class:`Periodic`); answers how many.
        ``wait``: run them here, one after the other (tests, ``projections run --once``); else each in
        a thread of its own (the live loop)."""
        started = 0
        for task in self.periodic:
            now = self.monotonic()
            if task.due is not None and now < task.due:
                continue
            task.due = now + task.every
            if task.thread is not None and task.thread.is_alive():
                continue  # still at its last turn
            started += 1
            if wait:
                self._run_step(task)
            else:
                task.thread = threading.Thread(
                    target=self._run_step, args=(task,), name=f"periodic {task.name}", daemon=True
                )
                task.thread.start()
        return started

    def _run_step(self, task: Periodic) -> None:
        try:
            task.step()
        except Exception as error:
            # The kind of error only: a database error quotes SQL and values.
            log.error("%s failed: %s; tried again in %.0f s", task.name, type(error).__name__, task.every)

    def join_periodic(self, timeout: float | None) -> None:
        """Waits for the periodic steps the live loop started (up to ``timeout`` seconds each). One
        still running when the process ends is cut short: each step must be safe to interrupt (the
        read expiry is: its next turn finishes it)."""
        for task in self.periodic:
            if task.thread is None:
                continue
            task.thread.join(timeout)
            if not task.thread.is_alive():
                task.thread = None
            elif timeout:
                log.warning("%s still running after %s s; its next turn finishes it", task.name, timeout)

    def catch_up(self, until: int | None = None) -> int:
        """Runs batches until the log's head (or ``until``) is reached; answers events read."""
        total = 0
        while True:
            count = self.run_batch()
            total += count
            if count == 0 or (until is not None and self.position >= until):
                return total

    def _advanced(self, position: int) -> None:
        with self._progress:
            self.position = max(self.position, position)
            self._progress.notify_all()

    # Live --------------------------------------------------------------------------------------

    def run_forever(self) -> None:
        """Follows the log until ``stop()``: batches while there is work, polls when there is none."""
        try:
            while not self._stop.is_set():
                self.run_periodic(wait=False)
                if self.run_batch() == 0:
                    self.wakeup.wait(self.poll_interval)
        except BaseException as error:
            self.error = error
            # Never the traceback or the error's text: a database error quotes SQL and the values of
            # the row it failed on (names, birth dates). The kind of error and where it happened only.
            if isinstance(error, ProjectionError):
                log.error(
                    "projection runner stopped: %s in projection %s at event %s (%s)",
                    error.cause_type,
                    error.projection,
                    error.position,
                    error.event_type,
                )
            else:
                log.error("projection runner stopped: %s at position %s", type(error).__name__, self.position)
            raise
        finally:
            self.release()

    def start(self) -> threading.Thread:
        """Runs the live loop in a daemon thread (the server's embedded runner)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self.run_forever, name="projection-runner", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float | None = 60.0) -> None:
        """Stops the live loop after the batch in hand: that batch still commits whole (shutdown waits
        for it up to ``timeout`` seconds; a batch takes well under one)."""
        self._stop.set()
        self.wakeup.wake()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("projection runner still in a batch after %s s; it rolls back on exit", timeout)
            self._thread = None
        self.join_periodic(timeout)

    def wait_for(self, position: int, timeout: float = 2.0) -> bool:
        """Read-your-writes: waits until every owned projection has reached ``position`` (False on timeout)."""
        deadline = time.monotonic() + timeout
        with self._progress:
            while self.position < position:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.error is not None:
                    return False
                self._progress.wait(min(remaining, self.poll_interval))
        return True
