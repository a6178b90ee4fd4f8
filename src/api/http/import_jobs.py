"""The HTTP imports' jobs as every server process of the store sees them (R15).

An upload is imported by a thread of the process that received it; with several API processes behind
a load balancer (``serve --workers N``, docs/operations.md) the next request for the same import may
reach another process. Each job is therefore written to ``settlement_import_jobs`` in the store's
database when it starts, as it goes (its progress, at most once a second, and a heartbeat), and when it
ends; a process that does not hold a job reads it there.

The report (which lists bad rows with the file's values in their reasons) and the revision's reason are
sealed with a key of the store (``store:import-reports`` in the key table, wrapped by the master key,
R18), never kept in the clear. A process claims a file's row in one transaction (a second process
posting the same file meanwhile is answered with the first one's job); each row names the process that
owns it. A running job whose process stopped (no heartbeat for :data:`STALE_SECONDS`, or marked so at
the process's shutdown) is shown as failed, and the file can be posted again. The table is on the
store's primary database (never a read replica) and keeps the newest :data:`KEPT` finished jobs; an
import that was recorded is found in the ``imports`` read model for ever.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from projections.engine.store import read_transaction, write_transaction
from settlement_domain.personal_keys import PersonalKeys, open_bytes, seal_bytes

log = logging.getLogger(__name__)

KEY_ID = "store:import-reports"
KEPT = 200  # finished jobs kept in the table (the recorded ones stay in the imports read model)
STALE_SECONDS = 90.0  # a running job without a heartbeat this long: its process stopped
HEARTBEAT_SECONDS = 15.0
PROGRESS_SECONDS = 1.0  # progress written at most this often

_metadata = MetaData()
JOBS = Table(
    "settlement_import_jobs",
    _metadata,
    Column("import_id", String(36), primary_key=True),
    Column("state", String(20), nullable=False),
    Column("file_name", Text, nullable=False),
    Column("checksum", String(64), nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("skip_invalid", Boolean, nullable=False),
    Column("submitted_by", Text, nullable=False),
    Column("owner", Text, nullable=False),  # the process that runs it: host, pid and a random tag
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("message", Text),
    Column("figures_done", Integer, nullable=False, default=0),
    Column("figures", Integer, nullable=False, default=0),
    Column("sealed", LargeBinary),  # {"revise": ..., "report": ...} sealed with the store's key
)


State = Literal["running", "imported", "already_imported", "refused", "validated", "failed"]


@dataclass
class ImportJob:
    """One upload's import: its options, its state and, when done, its report; ``owner``: the process
    that runs it (as the shared table names it)."""

    id: str
    file_name: str
    checksum: str
    dry_run: bool
    skip_invalid: bool
    revise: str | None
    submitted_by: str
    started_at: datetime
    state: State = "running"
    finished_at: datetime | None = None
    message: str | None = None
    report: dict[str, Any] | None = None
    progress: dict[str, int] = field(default_factory=lambda: {"figures_done": 0, "figures": 0})
    owner: str | None = None

    def same_request(self, other: ImportJob) -> bool:
        return (self.dry_run, self.skip_invalid, self.revise) == (
            other.dry_run,
            other.skip_invalid,
            other.revise,
        )


class SharedJobs:
    """``settlement_import_jobs``: written by the process that runs a job, read by every process."""

    def __init__(
        self, engine: Engine, keys: PersonalKeys | None, now: Callable[[], datetime] | None = None
    ) -> None:
        self.engine = engine
        self.keys = keys
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.now = now or (lambda: datetime.now(UTC))
        self._installed = False
        self._lock = threading.Lock()
        self._progress_written: dict[str, float] = {}

    def install(self) -> None:
        with self._lock:
            if not self._installed:
                with write_transaction(self.engine) as conn:
                    _metadata.create_all(conn, checkfirst=True)
                self._installed = True

    # Writing (the process that runs the job) ----------------------------------------------------------

    def claim(self, job: ImportJob) -> ImportJob | None:
        """Writes ``job``'s row as this process's, in one transaction, unless another live process runs
        the same file: then its job is answered (and nothing is written). A finished row, or a running
        one whose process stopped, is replaced."""
        self.install()
        now = self.now()
        row = {
            "import_id": job.id, "state": job.state, "file_name": job.file_name, "checksum": job.checksum,
            "dry_run": job.dry_run, "skip_invalid": job.skip_invalid, "submitted_by": job.submitted_by,
            "owner": self.owner, "started_at": job.started_at, "finished_at": None, "updated_at": now,
            "message": None, "figures_done": 0, "figures": 0,
            "sealed": self._seal({"revise": job.revise, "report": None}),
        }  # fmt: skip
        for attempt in range(3):
            try:
                with write_transaction(self.engine) as conn:  # SQLite: the write lock from here on
                    query = select(JOBS).where(JOBS.c.import_id == job.id)
                    if conn.dialect.name == "postgresql":
                        query = query.with_for_update()
                    found = conn.execute(query).mappings().first()
                    if found is not None and found["state"] == "running" and found["owner"] != self.owner:
                        other = self._job(found)
                        if other.state == "running":  # not stale: its process is alive
                            return other
                    conn.execute(delete(JOBS).where(JOBS.c.import_id == job.id))
                    conn.execute(insert(JOBS).values(row))
                break
            except IntegrityError:  # PostgreSQL: another process inserted the same file's row at once
                if attempt == 2:
                    raise
        self._prune()
        return None

    def abandoned(self, import_ids: list[str]) -> None:
        """This process stops with these jobs unfinished (its shutdown's wait ran out): failed at once."""
        if import_ids:
            self._quietly(
                update(JOBS)
                .where(
                    JOBS.c.import_id.in_(import_ids), JOBS.c.owner == self.owner, JOBS.c.state == "running"
                )
                .values(state="failed", message=STOPPED, finished_at=self.now(), updated_at=self.now())
            )

    def progressed(self, import_id: str, done: int, total: int) -> None:
        """The job's progress, written at most once per :data:`PROGRESS_SECONDS` (and its heartbeat)."""
        moment = time.monotonic()
        if moment - self._progress_written.get(import_id, 0.0) < PROGRESS_SECONDS:
            return
        self._progress_written[import_id] = moment
        self._quietly(
            update(JOBS)
            .where(JOBS.c.import_id == import_id, JOBS.c.state == "running")
            .values(figures_done=done, figures=total, updated_at=self.now())
        )

    def beat(self, import_id: str) -> None:
        """The heartbeat of a running job (its process is alive)."""
        self._quietly(
            update(JOBS)
            .where(JOBS.c.import_id == import_id, JOBS.c.state == "running")
            .values(updated_at=self.now())
        )

    def finished(self, job: ImportJob) -> None:
        self._progress_written.pop(job.id, None)
        self._quietly(
            update(JOBS)
            .where(JOBS.c.import_id == job.id)
            .values(
                state=job.state,
                finished_at=job.finished_at,
                updated_at=self.now(),
                message=job.message,
                figures_done=job.progress.get("figures_done", 0),
                figures=job.progress.get("figures", 0),
                sealed=self._seal({"revise": job.revise, "report": job.report}),
            )
        )

    def _quietly(self, statement: Any) -> None:
        """A write that must not fail the import itself: the job in this process stays right, and other
        processes see it a moment later (or, if the database is gone, not at all)."""
        try:
            self.install()
            with write_transaction(self.engine) as conn:
                conn.execute(statement)
        except SQLAlchemyError as error:  # the type only: a statement's parameters may hold a report
            log.warning("An import job could not be written for other processes: %s", type(error).__name__)

    def _prune(self) -> None:
        try:
            self._prune_now()
        except SQLAlchemyError as error:  # the next claim prunes again
            log.warning("Finished import jobs could not be pruned: %s", type(error).__name__)

    def _prune_now(self) -> None:
        with write_transaction(self.engine) as conn:
            finished = conn.execute(select(func.count()).select_from(JOBS).where(JOBS.c.state != "running"))
            extra = int(finished.scalar_one()) - KEPT
            if extra > 0:
                oldest = (
                    select(JOBS.c.import_id)
                    .where(JOBS.c.state != "running")
                    .order_by(JOBS.c.started_at)
                    .limit(extra)
                )
                conn.execute(delete(JOBS).where(JOBS.c.import_id.in_(oldest.scalar_subquery())))

    # Reading (every process) --------------------------------------------------------------------------

    def get(self, import_id: str) -> ImportJob | None:
        """The file's job as the table holds it; None when there is none, or the table cannot be read
        now (the process's own jobs and the recorded imports still answer)."""
        try:
            self.install()
            with read_transaction(self.engine) as conn:
                row = conn.execute(select(JOBS).where(JOBS.c.import_id == import_id)).mappings().first()
        except SQLAlchemyError as error:
            log.warning("The import jobs of other processes could not be read: %s", type(error).__name__)
            return None
        return self._job(row) if row is not None else None

    def all(self) -> list[ImportJob]:
        try:
            self.install()
            with read_transaction(self.engine) as conn:
                rows = conn.execute(select(JOBS).order_by(JOBS.c.started_at.desc())).mappings().all()
        except SQLAlchemyError as error:
            log.warning("The import jobs of other processes could not be read: %s", type(error).__name__)
            return []
        return [self._job(row) for row in rows]

    def _job(self, row: Any) -> ImportJob:
        opened = self._open(row["sealed"])
        state, message = row["state"], row["message"]
        if state == "running" and self._stale(row["updated_at"]):
            state, message = "failed", STOPPED
        return ImportJob(
            id=row["import_id"], state=state, file_name=row["file_name"], checksum=row["checksum"],
            dry_run=row["dry_run"], skip_invalid=row["skip_invalid"], revise=opened.get("revise"),
            submitted_by=row["submitted_by"], started_at=_aware(row["started_at"]) or row["started_at"],
            finished_at=_aware(row["finished_at"]), message=message, report=opened.get("report"),
            progress={"figures_done": row["figures_done"], "figures": row["figures"]}, owner=row["owner"],
        )  # fmt: skip

    def _stale(self, updated_at: datetime) -> bool:
        moment = _aware(updated_at) or updated_at
        return self.now() - moment > timedelta(seconds=STALE_SECONDS)

    # Sealing ------------------------------------------------------------------------------------------

    def _seal(self, value: dict[str, Any]) -> bytes | None:
        if self.keys is None:  # no key store (an application without one): nothing kept for others
            return None
        plain = json.dumps(value, default=str).encode()
        return seal_bytes(self.keys.store_key(KEY_ID), KEY_ID, plain)

    def _open(self, sealed: bytes | None) -> dict[str, Any]:
        if sealed is None or self.keys is None:
            return {}
        try:
            opened = json.loads(open_bytes(self.keys.store_key(KEY_ID), KEY_ID, bytes(sealed)))
        except Exception:  # a key of another master, or deleted: the job without its report
            return {}
        return opened if isinstance(opened, dict) else {}


STOPPED = (
    "The server that ran this import stopped before it finished; it is not recorded as imported. Post "
    "the file again (what a large file stored already is found and kept)."
)


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes: they were written in UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
