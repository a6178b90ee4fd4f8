"""R14: read records past the retention period stop naming their persons, by the service itself.

The process that runs the projections (``settlement serve`` with its embedded runner, or
``settlement projections run``) calls :func:`expire_reads` at start and then periodically
(:func:`periodic_read_expiry`, a step of the runner between its batches); ``settlement keys expire``
calls the same function. Each call:

1. takes the store's read-expiry lock (PostgreSQL: an advisory lock per schema; SQLite: a lock file
   beside the database), so that two processes never do the work at once; a process that finds it
   held skips this round;
2. deletes the month keys of read records wholly before the retention period
   (``settlement_domain.read_retention.expire_read_keys``; never the current month's, R14);
3. rebuilds the audit trail (blue/green, reads go on) when it deleted a key now, or when the months
   the latest deletion deleted are still named in the audit trail: a run interrupted between the
   deletion and the rebuild (a crash, a stop) is finished by the next one. Without it the audit
   search by person would still find the expired reads, and a rebuild would differ from the view.

The work happens only when a month has passed the limit; otherwise a round is two small queries.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, text

from projections import audit_trail
from projections.engine.generations import lock_key
from projections.engine.projection import Projection
from projections.engine.rebuild import rebuild
from projections.engine.runner import Periodic
from settlement_domain.bulk import paused_garbage_collector
from settlement_domain.errors import RuleViolation
from settlement_domain.personal_keys import app_keys
from settlement_domain.read_retention import PREFIX, expire_read_keys, month_span

log = logging.getLogger(__name__)

EXPIRY_LOCK = "read-expiry"  # the advisory lock (per schema) held while one process expires


@dataclass(frozen=True)
class ExpiryOutcome:
    """What one round did: the month keys deleted now, whether the audit trail was rebuilt, and
    whether another process held the lock (nothing done)."""

    expired: list[str] = field(default_factory=list)
    rebuilt: bool = False
    busy: bool = False


@contextlib.contextmanager
def exclusive(engine: Engine, *, wait: bool) -> Iterator[bool]:
    """Whether this process may expire now: one process at a time per store. ``wait``: block until
    the lock is free (the command line) rather than skip (the runner's rounds)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            key = lock_key(conn, EXPIRY_LOCK)
            if wait:
                conn.execute(text("select pg_advisory_lock(:k)"), {"k": key})
                got = True
            else:
                got = bool(conn.execute(text("select pg_try_advisory_lock(:k)"), {"k": key}).scalar_one())
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("select pg_advisory_unlock(:k)"), {"k": key})
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield True  # a store of one process
        return
    fd = os.open(f"{database}.read-expiry.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _unfinished(app: Any, engine: Engine) -> bool:
    """Whether the audit trail still names the persons of a month the latest deletion expired."""
    keys = app_keys(app)
    if keys is None:
        return False
    return any(
        audit_trail.names_persons_read_between(engine, *month_span(key_id))
        for key_id in keys.deleted_last(PREFIX)
    )


def expire_reads(
    app: Any, engine: Engine, *, today: date, years: int, now: date, wait: bool = False
) -> ExpiryOutcome:
    """One round (module doc) at ``today``: the month keys before ``years`` of retention are deleted;
    ``now`` is the month read records are written in now, whose key is never deleted (R14: a
    ``today`` that would delete it is refused with a RuleViolation, nothing deleted)."""
    keys = app_keys(app)
    if keys is None:
        return ExpiryOutcome()  # a store that keeps no keys (in memory)
    with exclusive(engine, wait=wait) as mine:
        if not mine:
            return ExpiryOutcome(busy=True)
        expired = expire_read_keys(keys, today, years, now=now)
        stale = bool(expired) or _unfinished(app, engine)
        if stale:
            with paused_garbage_collector():
                rebuild(app, engine, [audit_trail.PROJECTION])
        return ExpiryOutcome(expired, stale)


def periodic_read_expiry(
    app: Any,
    engine: Engine,
    years: int,
    every_seconds: float,
    *,
    real_today: Callable[[], date] = lambda: datetime.now(UTC).date(),
) -> Periodic:
    """The runner's step that expires read records (R14) at start and then every ``every_seconds``.
    "Today" is the application's clock; the month read records are written in now is the real date's
    (their time is the event's), so a clock set ahead never deletes its key."""

    def step() -> ExpiryOutcome:
        today = app.clock()
        try:
            outcome = expire_reads(app, engine, today=today, years=years, now=real_today())
        except RuleViolation as refused:
            # Only a clock set far ahead gets here: nothing was deleted.
            log.warning("read records not expired: %s (%s)", refused.rule, refused.message)
            return ExpiryOutcome()
        if outcome.expired or outcome.rebuilt:
            log.info(
                "R14: %s month keys of read records deleted; the audit trail was rebuilt",
                len(outcome.expired),
            )
        return outcome

    return Periodic("read expiry (R14)", every_seconds, step)


def read_expiry_steps(
    app: Any, engine: Engine, projections: Iterable[Projection], *, years: int, minutes: float
) -> list[Periodic]:
    """The periodic steps of a runner for R14: the read expiry every ``minutes`` (0: off), for a runner
    that keeps the audit trail (which the expiry rebuilds)."""
    if minutes <= 0 or audit_trail.PROJECTION.name not in {p.name for p in projections}:
        return []
    return [periodic_read_expiry(app, engine, years, minutes * 60)]
