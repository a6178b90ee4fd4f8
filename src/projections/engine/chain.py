"""Tamper evidence (R20): a hash chain over the stored events in log order, and signed checkpoints of it.

Each event of the log gets one link, kept in ``settlement_chain`` beside the log::

    link(p) = SHA-256(link(previous event) || position p || originator id || version || topic || state)

where the first event's previous link is 32 zero bytes and ``state`` is the event's bytes exactly as
stored (compressed and encrypted when the store is). Erasure deletes a key, never an event, so it
leaves the chain intact.

One writer advances the chain, in log order, in batches: the projection runner after each of its
batches, and ``settlement audit checkpoint`` before it signs. The head is re-read under a lock (the
transaction-scoped advisory lock on PostgreSQL, the write lock on SQLite), so two writers never link
the same event twice or out of order.

A checkpoint is the chain's head (position, link) and the moment it was signed, signed with an
Ed25519 key kept outside the database. It is stored in ``settlement_chain_checkpoints`` and printed as one
line to be kept elsewhere. :func:`verify_chain` walks the log and the chain together and names the
first position where the log was altered, removed, added to or reordered; the checkpoints prove the
chain itself was not rewritten up to their positions.
"""

from __future__ import annotations

import hashlib
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    insert,
    inspect,
    select,
    text,
)

from projections.engine.bulk_write import bulk_write
from projections.engine.store import UTCDateTime, write_transaction

CHAIN_TABLE = "settlement_chain"
CHECKPOINT_TABLE = "settlement_chain_checkpoints"
GENESIS = bytes(32)
PAGE = 5000
LISTED = 20

_metadata = MetaData()
CHAIN = Table(
    CHAIN_TABLE,
    _metadata,
    Column("position", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("link", LargeBinary, nullable=False),
)
CHECKPOINTS = Table(
    CHECKPOINT_TABLE,
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("position", BigInteger, nullable=False),
    Column("link", LargeBinary, nullable=False),
    Column("signed_at", UTCDateTime, nullable=False),
    Column("public_key", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
)

Progress = Callable[[int, int], None]


def install(engine: Engine) -> None:
    """Creates the chain's tables when they are missing (idempotent)."""
    with write_transaction(engine) as conn:
        _metadata.create_all(conn, checkfirst=True)


def link_of(previous: bytes, notification: Any) -> bytes:
    """The link of one stored event (a notification of the library's recorder) after ``previous``."""
    originator = notification.originator_id
    if not isinstance(originator, UUID):
        originator = UUID(str(originator))
    topic = notification.topic.encode()
    digest = hashlib.sha256(previous)
    digest.update(notification.id.to_bytes(8, "big"))
    digest.update(originator.bytes)
    digest.update(notification.originator_version.to_bytes(8, "big", signed=True))
    digest.update(len(topic).to_bytes(4, "big"))
    digest.update(topic)
    digest.update(notification.state)
    return digest.digest()


def _lock_key(conn: Connection) -> int:
    schema = conn.execute(text("select current_schema()")).scalar_one()
    return zlib.crc32(f"settlement:{schema}:{CHAIN_TABLE}:advance".encode()) - 2**31


def head(conn: Connection) -> tuple[int, bytes]:
    """The chain's head: the last linked position and its link ((0, GENESIS) when empty)."""
    row = conn.execute(select(CHAIN).order_by(CHAIN.c.position.desc()).limit(1)).first()
    return (0, GENESIS) if row is None else (row.position, bytes(row.link))


def head_position(engine: Engine) -> int:
    """The last linked position (0: nothing linked yet)."""
    with engine.connect() as conn:
        return head(conn)[0]


def advance(
    app: Any,
    engine: Engine,
    *,
    limit: int = PAGE,
    until: int | None = None,
    read: tuple[int, Sequence[Any]] | None = None,
) -> int:
    """Links the next events of the log after the chain's head (at most ``limit``); answers how many.

    The notifications are read first and the head re-read under the lock: when another writer moved
    it meanwhile, this batch links only what is still after it. ``read``: a head position seen by the
    caller and the page of the log it read from right after it (the runner's batch, read once for the
    chain and the read models); the page must start at that position + 1, as a page read here would.
    """
    if read is not None:
        after, notifications = read
    else:
        after = head_position(engine)
        if until is not None and after >= until:
            return 0
        notifications = app.recorder.select_notifications(after + 1, limit, stop=until)
    if not notifications:
        return 0
    with write_transaction(engine) as conn:
        return link_page(conn, after, notifications)


def link_page(conn: Connection, after: int, notifications: Sequence[Any]) -> int:
    """Links ``notifications``, a page of the log read from right after position ``after`` (a head
    the caller saw), inside ``conn``'s write transaction; answers how many were linked.

    The head is re-read under the lock (the transaction's advisory lock on PostgreSQL, the write lock
    on SQLite): what another writer linked meanwhile is skipped.
    """
    if not notifications:
        return 0
    if conn.dialect.name == "postgresql":
        conn.execute(text("select pg_advisory_xact_lock(:k)"), {"k": _lock_key(conn)})
    position, previous = head(conn)
    if position < after:  # never: the head only moves forward (a page read past a gap is not linked)
        raise RuntimeError(f"the chain's head went back from {after} to {position}")
    rows = []
    for notification in notifications:
        if notification.id <= position:
            continue
        previous = link_of(previous, notification)
        rows.append({"position": notification.id, "link": previous})
    bulk_write(conn, CHAIN, rows)  # the driver's executemany (COPY on PostgreSQL)
    return len(rows)


def advance_to_head(app: Any, engine: Engine, *, until: int | None = None) -> int:
    """Links every event not linked yet (up to ``until``, default the log's head); answers how many."""
    total = 0
    while count := advance(app, engine, until=until):
        total += count
    return total


# Checkpoints ------------------------------------------------------------------------------------


def public_key_text(key: Ed25519PublicKey) -> str:
    """The raw public key as 64 hex digits."""
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def parse_public_key(value: str) -> Ed25519PublicKey:
    """A public key from its 64 hex digits; ValueError naming what is wrong."""
    try:
        raw = bytes.fromhex(value.strip())
    except ValueError:
        raise ValueError("the checkpoint public key is not hex (64 hex digits)") from None
    if len(raw) != 32:
        raise ValueError("the checkpoint public key must be 64 hex digits (an Ed25519 key)")
    return Ed25519PublicKey.from_public_bytes(raw)


@dataclass(frozen=True)
class Checkpoint:
    """A signed head of the chain: one line to keep outside the database."""

    position: int
    link: bytes
    signed_at: datetime
    public_key: str
    signature: str

    PREFIX = "settlement-checkpoint:1"

    @staticmethod
    def message(position: int, link: bytes, signed_at: datetime) -> bytes:
        return f"{Checkpoint.PREFIX}:{position}:{link.hex()}:{signed_at.astimezone(UTC).isoformat()}".encode()

    @classmethod
    def sign(cls, key: Ed25519PrivateKey, position: int, link: bytes, signed_at: datetime) -> Checkpoint:
        signed_at = signed_at.astimezone(UTC).replace(microsecond=0)
        signature = key.sign(cls.message(position, link, signed_at)).hex()
        return cls(position, link, signed_at, public_key_text(key.public_key()), signature)

    def line(self) -> str:
        return (
            f"{self.PREFIX}:{self.position}:{self.link.hex()}:{self.signed_at.isoformat()}"
            f":{self.public_key}:{self.signature}"
        )

    @classmethod
    def parse(cls, line: str) -> Checkpoint:
        """A checkpoint from its printed line; ValueError when it is not one."""
        prefix, _, rest = line.strip().partition(f"{cls.PREFIX}:")
        parts = rest.split(":")
        # The time holds colons itself: position, link, the time's parts, key, signature.
        if prefix or len(parts) < 5:
            raise ValueError(f"not a checkpoint line (it starts with {cls.PREFIX}:)")
        try:
            position = int(parts[0])
            link = bytes.fromhex(parts[1])
            signed_at = datetime.fromisoformat(":".join(parts[2:-2]))
        except ValueError:
            raise ValueError("a checkpoint line's position, link or time is malformed") from None
        if len(link) != 32 or position < 1 or signed_at.tzinfo is None:
            raise ValueError("a checkpoint line's position, link or time is malformed")
        return cls(position, link, signed_at, parts[-2], parts[-1])

    def signed_by(self, key: Ed25519PublicKey) -> bool:
        """Whether ``key`` made this signature over this position, link and time."""
        if self.public_key != public_key_text(key):
            return False
        try:
            key.verify(bytes.fromhex(self.signature), self.message(self.position, self.link, self.signed_at))
        except (InvalidSignature, ValueError):
            return False
        return True


def checkpoint(
    app: Any, engine: Engine, key: Ed25519PrivateKey, *, now: datetime | None = None
) -> Checkpoint:
    """Links the log up to its head, signs the chain's head and stores the checkpoint."""
    advance_to_head(app, engine)
    with write_transaction(engine) as conn:
        position, link = head(conn)
        if position == 0:
            raise ValueError("the log is empty: there is nothing to checkpoint")
        signed = Checkpoint.sign(key, position, link, now or datetime.now(UTC))
        conn.execute(
            insert(CHECKPOINTS).values(
                position=signed.position,
                link=signed.link,
                signed_at=signed.signed_at,
                public_key=signed.public_key,
                signature=signed.signature,
            )
        )
    return signed


def stored_checkpoints(conn: Connection) -> list[Checkpoint]:
    rows = conn.execute(select(CHECKPOINTS).order_by(CHECKPOINTS.c.position, CHECKPOINTS.c.id))
    return [Checkpoint(r.position, bytes(r.link), r.signed_at, r.public_key, r.signature) for r in rows]


# Verification -----------------------------------------------------------------------------------

ALTERED = "altered"  # the event at this position is not the one linked there (changed or moved)
REMOVED = "removed"  # the chain links an event at this position; the log has none
ADDED = "added"  # the log has an event here, inside the linked range, that was never linked

KINDS = {
    ALTERED: "position {p}: the event there is not the one linked there (altered or moved), or its "
    "link was altered",
    REMOVED: "position {p}: the event linked there was removed from the log",
    ADDED: "position {p}: an event was added to the log inside the linked range",
}


@dataclass(frozen=True)
class ChainProblem:
    """One position where the log and its chain disagree."""

    position: int
    kind: str

    def describe(self) -> str:
        return KINDS[self.kind].format(p=self.position)

    def as_dict(self) -> dict[str, Any]:
        return {"position": self.position, "kind": self.kind, "explanation": self.describe()}


@dataclass(frozen=True)
class CheckpointVerdict:
    """One checkpoint: whether its signature holds and the log up to it hashes to its link."""

    checkpoint: Checkpoint
    source: str  # "database" or "given"
    signature: str  # "valid", "invalid", "unknown key", "not checked" (no public key at hand)
    log_matches: bool | None  # None: the position is beyond the log's head

    @property
    def ok(self) -> bool:
        return self.signature in ("valid", "not checked") and self.log_matches is True

    def describe(self) -> str:
        c = self.checkpoint
        what = f"checkpoint at position {c.position} signed {c.signed_at.isoformat()} ({self.source})"
        if self.signature in ("invalid", "unknown key"):
            return f"{what}: signature {self.signature}"
        if self.log_matches is None:
            return f"{what}: the log no longer reaches its position (events removed at the end)"
        if not self.log_matches:
            return f"{what}: the log up to it no longer hashes to the signed link"
        return f"{what}: holds (signature {self.signature})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "position": self.checkpoint.position,
            "signed_at": self.checkpoint.signed_at.isoformat(),
            "source": self.source,
            "signature": self.signature,
            "log_matches": self.log_matches,
            "ok": self.ok,
        }


@dataclass
class ChainReport:
    """The chain walked against the log: counts, the first problems, the checkpoints' verdicts."""

    log_events: int = 0
    linked: int = 0
    unlinked: int = 0  # events after the chain's head, not linked yet
    problems: int = 0
    first: list[ChainProblem] = field(default_factory=list)  # the first ``LISTED`` problems
    checkpoints: list[CheckpointVerdict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def intact(self) -> bool:
        return self.problems == 0 and all(c.ok for c in self.checkpoints)

    @property
    def first_bad_position(self) -> int | None:
        """The first position the chain names (a checkpoint that fails alone says only "at or before")."""
        return min((p.position for p in self.first), default=None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "log_events": self.log_events,
            "linked": self.linked,
            "unlinked": self.unlinked,
            "problems": self.problems,
            "first_bad_position": self.first_bad_position,
            "first_problems": [p.as_dict() for p in self.first],
            "checkpoints": [c.as_dict() for c in self.checkpoints],
            "seconds": round(self.seconds, 3),
        }


def _log_pages(app: Any, stop: int) -> Iterator[Sequence[Any]]:
    after = 0
    while after < stop and (page := app.recorder.select_notifications(after + 1, PAGE, stop=stop)):
        yield page
        after = page[-1].id


def _chain_pages(engine: Engine, stop: int) -> Iterator[Sequence[Any]]:
    after = 0
    while True:
        with engine.connect() as conn:
            page = list(
                conn.execute(
                    select(CHAIN.c.position, CHAIN.c.link)
                    .where(CHAIN.c.position > after, CHAIN.c.position <= stop)
                    .order_by(CHAIN.c.position)
                    .limit(PAGE)
                )
            )
        if not page:
            return
        yield page
        after = page[-1].position


def _flatten(pages: Iterable[Sequence[Any]]) -> Iterator[Any]:
    for page in pages:
        yield from page


def verify_chain(
    app: Any,
    engine: Engine,
    *,
    public_key: Ed25519PublicKey | None = None,
    given: Iterable[Checkpoint] = (),
    progress: Progress | None = None,
    listed: int = LISTED,
) -> ChainReport:
    """Walks the log and the chain together, position by position. Read-only.

    Each event's link is recomputed from the stored link before it, so that every altered, removed
    or added event is named on its own (not only the first); the links recomputed from the log alone
    are compared with the checkpoints, so that a chain rewritten to match an altered log is caught
    too. ``given`` are checkpoints kept outside the database (their printed lines).
    """
    started = time.perf_counter()
    report = ChainReport()
    with engine.connect() as conn:
        installed = inspect(conn).has_table(CHAIN_TABLE)
        chain_head = head(conn)[0] if installed else 0
        stored = stored_checkpoints(conn) if installed else []
    # The walk stops at the log's head as it is now (a live log moves on); linked positions beyond
    # it are events removed from the end of the log.
    total = app.recorder.max_notification_id() or 0
    wanted = [(c, "database") for c in stored] + [(c, "given") for c in given]
    at_position: dict[int, list[tuple[Checkpoint, str]]] = {}
    for item in wanted:
        at_position.setdefault(item[0].position, []).append(item)
    recomputed_at: dict[int, bytes] = {}

    def problem(position: int, kind: str) -> None:
        report.problems += 1
        if len(report.first) < listed:
            report.first.append(ChainProblem(position, kind))

    log = _flatten(_log_pages(app, total))
    chain = _flatten(_chain_pages(engine, max(total, chain_head)) if installed else ())
    event = next(log, None)
    row = next(chain, None)
    running = GENESIS  # links from the log alone
    previous_stored = GENESIS  # the stored link before the current position
    while event is not None or row is not None:
        if row is None or (event is not None and event.id < row.position):
            # An event the chain has no link for: added inside the linked range, or simply new.
            assert event is not None  # the loop goes on while an event or a row is left; no row: an event
            report.log_events += 1
            running = link_of(running, event)
            if event.id < chain_head:
                problem(event.id, ADDED)
            else:
                report.unlinked += 1
            if event.id in at_position:
                recomputed_at[event.id] = running
            event = next(log, None)
        elif event is None or row.position < event.id:
            problem(row.position, REMOVED)
            previous_stored = bytes(row.link)
            row = next(chain, None)
        else:
            report.log_events += 1
            report.linked += 1
            stored_link = bytes(row.link)
            running = link_of(running, event)
            if link_of(previous_stored, event) != stored_link:
                problem(event.id, ALTERED)
            if event.id in at_position:
                recomputed_at[event.id] = running
            previous_stored = stored_link
            event = next(log, None)
            row = next(chain, None)
        if progress and report.log_events % PAGE == 0:
            progress(report.log_events, total)
    for checkpoint, source in wanted:
        if public_key is None:
            signature = "not checked"
        elif checkpoint.public_key != public_key_text(public_key):
            signature = "unknown key"
        else:
            signature = "valid" if checkpoint.signed_by(public_key) else "invalid"
        recomputed = recomputed_at.get(checkpoint.position)
        matches = None if recomputed is None else recomputed == checkpoint.link
        report.checkpoints.append(CheckpointVerdict(checkpoint, source, signature, matches))
    report.seconds = time.perf_counter() - started
    return report
