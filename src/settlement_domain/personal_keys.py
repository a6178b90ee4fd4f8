"""A data key per person (R18): the personal part of every event is sealed with its person's own key.

Each person gets a random 256-bit data key the first time an event about them carries personal data.
The key is wrapped (AES-256-GCM) by the master key and kept in its own table,
``settlement_person_keys``, beside the log but never in it. Keys are created in the same transaction
as the events they seal (the recorder writes the pending keys first), so a crash never leaves an
event whose key is missing. Erasure deletes the wrapped key in the same transaction as the
``PersonalDataErased`` event; the row stays as a tombstone, so that "erased" is told apart from "lost".

The read models seal what they keep with the same key (deterministically, so that a rebuild writes
the same bytes); see :func:`seal_view` and :func:`open_view`.

Bulk work stays batched: unwrapped keys are cached per process (briefly, so that an erasure made by
another process is honoured within :data:`CACHE_SECONDS`), and a key not in the cache is fetched
together with the keys created after it (the order a rebuild meets persons in).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent

KEYS_TABLE = "settlement_person_keys"
CACHE_SECONDS = 60.0  # how long an unwrapped key is trusted before the table is asked again
PREFETCH = 1_000  # keys fetched with a missing one: those created after it
CACHE_LIMIT = 200_000  # unwrapped keys kept per process (about 50 MB)
MIN_MASTER_KEY_LENGTH = 32
ERASED_NAME = "slettet"  # what a person's name reads as once erased (R18)


class KeyStoreError(RuntimeError):
    """A sealed value cannot be opened: its key is missing (not erased) or the master key is wrong."""


# Master keys -----------------------------------------------------------------------------------


def master_key_from_text(text: str) -> bytes:
    """A master key from its configured text (at least 32 characters, e.g. ``openssl rand -base64 32``)."""
    text = text.strip()
    if len(text) < MIN_MASTER_KEY_LENGTH:
        raise ValueError(f"a master key has at least {MIN_MASTER_KEY_LENGTH} characters")
    return hashlib.sha256(b"settlement-master-key\0" + text.encode()).digest()


def master_key_id(key: bytes) -> str:
    """A short, public fingerprint of a master key: which one wrapped a data key."""
    return hashlib.sha256(b"settlement-master-id\0" + key).hexdigest()[:16]


def read_or_create_key_file(path: Path) -> str:
    """The text of a key file, created once (mode 0600, in a 0700 directory) when absent."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        # O_EXCL: two processes starting at once must not each write a different key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        text = path.read_text().strip()
        if len(text) < MIN_MASTER_KEY_LENGTH:
            raise ValueError(f"the key file {path} is empty or too short") from None
        return text
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def previous_keys_file(key_file: Path) -> Path:
    """The file beside the key file that keeps the retired master keys a rotation left, one a line."""
    return key_file.with_name(key_file.name + ".previous")


def _key_texts(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def master_keys_from_env(get: Callable[[str], str | None]) -> list[bytes]:
    """The master keys of the environment, the current one first (it wraps the new data keys):
    ``SETTLEMENT_MASTER_KEY``, else the file ``SETTLEMENT_MASTER_KEY_FILE`` (default ``var/master-key``,
    created once). Then the keys that only unwrap (a rotation under way, see docs/privacy.md):
    ``SETTLEMENT_NEW_MASTER_KEY`` and the file's ``.new`` twin (the next key), then
    ``SETTLEMENT_MASTER_KEY_PREVIOUS`` (old keys, comma-separated) and the file's ``.previous`` twin
    (old keys, one a line)."""
    keys: list[bytes] = []
    file = Path(get("SETTLEMENT_MASTER_KEY_FILE") or "var/master-key")
    given = get("SETTLEMENT_MASTER_KEY")
    keys.append(master_key_from_text(given) if given else master_key_from_text(read_or_create_key_file(file)))
    new = get("SETTLEMENT_NEW_MASTER_KEY")
    if new:
        keys.append(master_key_from_text(new))
    twin = file.with_name(file.name + ".new")
    if not given and twin.exists():
        keys.append(master_key_from_text(twin.read_text()))
    keys.extend(
        master_key_from_text(text) for text in _key_texts(get("SETTLEMENT_MASTER_KEY_PREVIOUS") or "")
    )
    previous = previous_keys_file(file)
    if not given and previous.exists():
        keys.extend(master_key_from_text(text) for text in _key_texts(previous.read_text()))
    return keys


# Sealing ---------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"))


def wrap(master: bytes, key_id: str, data_key: bytes) -> bytes:
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(master).encrypt(nonce, data_key, b"settlement-key\0" + key_id.encode())


def unwrap(master: bytes, key_id: str, wrapped: bytes) -> bytes:
    return AESGCM(master).decrypt(wrapped[:12], wrapped[12:], b"settlement-key\0" + key_id.encode())


def seal_bytes(key: bytes, key_id: str, plain: bytes, *, deterministic: bool = False) -> bytes:
    """AES-256-GCM; the nonce is random, or (``deterministic``, for the read models) derived from the
    key and the plain text, so that the same value sealed twice gives the same bytes."""
    if deterministic:
        nonce = hmac.new(key, b"settlement-view-nonce\0" + plain, hashlib.sha256).digest()[:12]
    else:
        nonce = secrets.token_bytes(12)
    return nonce + AESGCM(key).encrypt(nonce, plain, key_id.encode())


def open_bytes(key: bytes, key_id: str, sealed: bytes) -> bytes:
    return AESGCM(key).decrypt(sealed[:12], sealed[12:], key_id.encode())


# The key store -----------------------------------------------------------------------------------


class PersonalKeys:
    """The data keys of one store, in the table :data:`KEYS_TABLE` of its database (see module doc)."""

    def __init__(
        self,
        datastore: Any,
        masters: Sequence[bytes],
        *,
        postgres: bool,
        reload: Callable[[], Sequence[bytes]] | None = None,
    ) -> None:
        if not masters:
            raise ValueError("a key store needs a master key")
        self.datastore = datastore
        self.postgres = postgres
        self.masters = {master_key_id(m): m for m in masters}
        self.current_master = master_key_id(masters[0])
        # Where the master keys come from, asked again when a data key is wrapped by a master key this
        # process does not know (another process rotated) and, before wrapping a new data key, at most
        # every CACHE_SECONDS: a running process takes up a rotated key file within a minute.
        self._reload = reload
        self._reloaded_at = time.monotonic()
        table = f'"{datastore.schema}".{KEYS_TABLE}' if postgres else KEYS_TABLE
        self.table = table
        self.mark = "%s" if postgres else "?"
        self._cache: dict[
            str, tuple[bytes | None, float]
        ] = {}  # key id -> (data key or None if erased, since)
        self._unopenable: dict[str, str] = {}  # key id -> why it did not unwrap (see _remember)
        self._lock = threading.Lock()
        self._local = threading.local()
        self.create_table()

    # Schema --------------------------------------------------------------------------------------

    def create_table(self) -> None:
        if self.postgres:
            ddl = (
                f"CREATE TABLE IF NOT EXISTS {self.table} (seq BIGSERIAL PRIMARY KEY, "
                "key_id TEXT NOT NULL UNIQUE, master_id TEXT, wrapped BYTEA, "
                "created_at TEXT NOT NULL, erased_at TEXT)"
            )
        else:
            ddl = (
                f"CREATE TABLE IF NOT EXISTS {self.table} (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                "key_id TEXT NOT NULL UNIQUE, master_id TEXT, wrapped BLOB, "
                "created_at TEXT NOT NULL, erased_at TEXT)"
            )
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(ddl)

    # Reading -------------------------------------------------------------------------------------

    @staticmethod
    def _tuples(rows: Iterable[Any]) -> list[tuple[Any, ...]]:
        return [tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in rows]

    def reload_masters(self) -> None:
        """Asks again for the master keys (the key files may have changed: a rotation); keeps the
        ones known already, so that a key wrapped by any of them still opens."""
        self._reloaded_at = time.monotonic()
        if self._reload is None:
            return
        masters = list(self._reload())
        if not masters:
            return
        for master in masters:
            self.masters[master_key_id(master)] = master
        self.current_master = master_key_id(masters[0])

    def _remember(self, rows: list[tuple[Any, ...]]) -> None:
        """Caches the fetched keys. A key that cannot be unwrapped (a master key this process does not
        have, or a wrong one) is left out: :meth:`lookup` raises for it when it is the key asked for,
        and a batch of other persons' keys is not lost for it."""
        if any(w is not None and master_id not in self.masters for _, master_id, w in rows):
            self.reload_masters()  # another process may have rotated the master key
        now = time.monotonic()
        with self._lock:
            if len(self._cache) + len(rows) > CACHE_LIMIT:
                self._cache.clear()  # a bound on memory: the keys are fetched again as needed
            for key_id, master_id, wrapped in rows:
                if wrapped is None:
                    self._cache[key_id] = (None, now)
                    continue
                master = self.masters.get(master_id)
                if master is None:
                    self._unopenable[key_id] = (
                        "A data key is wrapped by a master key this process does not have "
                        "(SETTLEMENT_MASTER_KEY, SETTLEMENT_MASTER_KEY_PREVIOUS or the master key files)."
                    )
                    continue
                try:
                    self._cache[key_id] = (unwrap(master, key_id, bytes(wrapped)), now)
                except InvalidTag:
                    self._unopenable[key_id] = "A data key cannot be unwrapped: the master key is wrong."
                    continue
                self._unopenable.pop(key_id, None)

    def _fetch(self, key_id: str) -> None:
        """Fetches ``key_id`` and the keys created after it (see the module doc)."""
        m = self.mark
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT seq FROM {self.table} WHERE key_id = {m}", (key_id,))
            found = self._tuples(cursor.fetchall())
            if not found:
                return
            cursor.execute(
                f"SELECT key_id, master_id, wrapped FROM {self.table} WHERE seq >= {m} ORDER BY seq LIMIT {m}",
                (found[0][0], PREFETCH),
            )
            rows = self._tuples(cursor.fetchall())
        self._remember(rows)

    def prefetch(self, key_ids: Iterable[str]) -> None:
        """Fetches the keys of ``key_ids`` not cached, in a few queries (lists of persons)."""
        now = time.monotonic()
        wanted = sorted({k for k in key_ids if not self._fresh(k, now)})
        m = self.mark
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            with self.datastore.transaction(commit=False) as cursor:
                cursor.execute(
                    f"SELECT key_id, master_id, wrapped FROM {self.table} "
                    f"WHERE key_id IN ({', '.join([m] * len(chunk))})",
                    tuple(chunk),
                )
                rows = self._tuples(cursor.fetchall())
            self._remember(rows)

    def _fresh(self, key_id: str, now: float) -> bool:
        cached = self._cache.get(key_id)
        return cached is not None and now - cached[1] < CACHE_SECONDS

    def _pending(self) -> dict[str, tuple[bytes, str, bytes]]:
        """The keys made for the events being saved on this thread: (data key, master id, wrapped)."""
        pending: dict[str, tuple[bytes, str, bytes]] | None = getattr(self._local, "created", None)
        if pending is None:
            pending = self._local.created = {}
        return pending

    def _pending_erasures(self) -> set[str]:
        erasing: set[str] | None = getattr(self._local, "erased", None)
        if erasing is None:
            erasing = self._local.erased = set()
        return erasing

    def lookup(self, key_id: str) -> tuple[bool, bytes | None]:
        """(whether a key was ever made, the data key or None when erased)."""
        if key_id in self._pending_erasures():
            return True, None
        pending = self._pending().get(key_id)
        if pending is not None:
            return True, pending[0]
        if not self._fresh(key_id, time.monotonic()):
            self._unopenable.pop(key_id, None)
            self._fetch(key_id)
        cached = self._cache.get(key_id)
        if cached is None:
            why = self._unopenable.pop(key_id, None)
            if why is not None:
                raise KeyStoreError(why)
            return False, None
        return True, cached[0]

    def key_to_open(self, key_id: str) -> bytes | None:
        """The data key that opens ``key_id``'s sealed values; None when the person was erased."""
        known, key = self.lookup(key_id)
        if not known:
            raise KeyStoreError(
                "A sealed value's data key is missing from the key store (a store restored without its keys?)."
            )
        return key

    def key_to_seal(self, key_id: str, *, new: bool = False) -> bytes | None:
        """The data key to seal with, made now (stored with the events being saved) when there is none;
        None when the person was erased: nothing personal is stored about them any more. ``new``: the
        caller knows no key can exist yet (a person's first event), so the table is not asked."""
        pending = self._pending().get(key_id)
        if pending is not None:
            return pending[0]
        if time.monotonic() - self._reloaded_at > CACHE_SECONDS:
            self.reload_masters()  # a rotated key file is taken up within a minute
        if not new:
            known, key = self.lookup(key_id)
            if known:
                return key
            # A key others may be making at the same moment (a month's read records, R14; a person
            # of a store older than per-person keys): stored at once, the first one made wins.
            return self._create_shared(key_id)
        data_key = AESGCM.generate_key(bit_length=256)
        master = self.masters[self.current_master]
        self._pending()[key_id] = (data_key, self.current_master, wrap(master, key_id, data_key))
        return data_key

    def key_for_view(self, key_id: str) -> bytes | None:
        """The data key a read model seals with: made and stored at once when none exists (a person of a
        store older than per-person keys); None when erased."""
        known, key = self.lookup(key_id)
        if known:
            return key
        return self._create_shared(key_id)

    def store_key(self, key_id: str) -> bytes:
        """A key of the store itself (not a person's, e.g. the idempotency records' fingerprints),
        made once by whichever process needs it first."""
        known, key = self.lookup(key_id)
        if not known:
            key = self._create_shared(key_id)
        if key is None:
            raise KeyStoreError(f"The store's key {key_id} was deleted.")
        return key

    def _create_shared(self, key_id: str) -> bytes | None:
        """Makes ``key_id``'s key in its own short transaction unless another process made it first
        (``ON CONFLICT DO NOTHING``), then reads back the one stored: two processes making the same key
        at once both get the same one, and neither save fails on the unique key id."""
        data_key = AESGCM.generate_key(bit_length=256)
        master = self.masters[self.current_master]
        m = self.mark
        conflict = " ON CONFLICT (key_id) DO NOTHING"
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"INSERT INTO {self.table} (key_id, master_id, wrapped, created_at) VALUES ({m}, {m}, {m}, {m})"
                + conflict,
                (key_id, self.current_master, wrap(master, key_id, data_key), _now()),
            )
        self.evict(key_id)
        return self.key_to_open(key_id)

    def evict(self, key_id: str) -> None:
        with self._lock:
            self._cache.pop(key_id, None)

    # Writing with the events -----------------------------------------------------------------------

    def erase_with_next_save(self, key_id: str) -> None:
        """The key is deleted by the transaction that stores the event being encoded now."""
        self._pending_erasures().add(key_id)

    def write_pending(self, cursor: Any) -> None:
        """Inside the events' transaction: the keys made for them, and the erasures they record."""
        m = self.mark
        created = self._pending()
        if created:
            cursor.executemany(
                f"INSERT INTO {self.table} (key_id, master_id, wrapped, created_at) VALUES ({m}, {m}, {m}, {m})",
                [(k, master_id, wrapped, _now()) for k, (_, master_id, wrapped) in created.items()],
            )
        erasing = self._pending_erasures()
        if erasing:
            now = _now()
            for key_id in sorted(erasing):
                cursor.execute(
                    f"INSERT INTO {self.table} (key_id, created_at) VALUES ({m}, {m}) ON CONFLICT (key_id) DO NOTHING",
                    (key_id, now),
                )
                # A key erased already keeps the moment of its first erasure (a store's move replays
                # the erasure events over the tombstones it copied).
                cursor.execute(
                    f"UPDATE {self.table} SET wrapped = NULL, master_id = NULL, erased_at = {m} "
                    f"WHERE key_id = {m} AND (wrapped IS NOT NULL OR erased_at IS NULL)",
                    (now, key_id),
                )

    @contextmanager
    def pending_for_one_save(self) -> Iterator[None]:
        """Around one save: starts with no pending key or erasure on this thread and leaves none
        behind, whether the save's encoding or its transaction failed or not."""
        self.settle_pending(stored=False)
        try:
            yield
        finally:
            self.settle_pending(stored=False)  # after a stored save: already settled, nothing left

    def settle_pending(self, *, stored: bool) -> None:
        """After the events' transaction: keep what it stored in the cache, forget what it did not."""
        created, erasing = self._pending(), self._pending_erasures()
        now = time.monotonic()
        with self._lock:
            if stored:
                for key_id, (data_key, _, _) in created.items():
                    self._cache[key_id] = (data_key, now)
                for key_id in erasing:
                    self._cache[key_id] = (None, now)
        self._local.created = {}
        self._local.erased = set()

    # Operations ----------------------------------------------------------------------------------

    def rotate_master(self, new_master: bytes) -> int:
        """Re-wraps every data key not wrapped by ``new_master`` with it, in short transactions of
        :data:`PREFETCH` keys, again until none is left under another master key (a process still
        running with the old key may wrap new ones meanwhile); answers how many. The log is not touched.

        Each row is re-wrapped only if it is still the row that was read (``wrapped`` not null, the
        same master): an erasure committed meanwhile is never undone (R18)."""
        new_id = master_key_id(new_master)
        self.masters[new_id] = new_master
        m = self.mark
        count = 0
        unopenable: set[str] = set()
        while True:
            with self.datastore.transaction(commit=True) as cursor:
                skip = sorted(unopenable)
                cursor.execute(
                    f"SELECT key_id, master_id, wrapped FROM {self.table} "
                    f"WHERE wrapped IS NOT NULL AND (master_id IS NULL OR master_id <> {m})"
                    + (f" AND key_id NOT IN ({', '.join([m] * len(skip))})" if skip else "")
                    + f" ORDER BY seq LIMIT {m}",
                    (new_id, *skip, PREFETCH),
                )
                rows = self._tuples(cursor.fetchall())
                if not rows:
                    break
                for key_id, master_id, wrapped in rows:
                    master = self.masters.get(master_id)
                    if master is None:
                        self.reload_masters()
                        master = self.masters.get(master_id)
                    if master is None:
                        unopenable.add(key_id)
                        continue
                    data_key = unwrap(master, key_id, bytes(wrapped))
                    cursor.execute(
                        f"UPDATE {self.table} SET master_id = {m}, wrapped = {m} "
                        f"WHERE key_id = {m} AND master_id = {m} AND wrapped IS NOT NULL",
                        (new_id, wrap(new_master, key_id, data_key), key_id, master_id),
                    )
                    count += _rowcount(cursor)  # 0: erased (or re-wrapped) meanwhile
        if unopenable:
            raise KeyStoreError(
                f"{len(unopenable)} data keys are wrapped by a master key this process does not have: "
                "give it as SETTLEMENT_MASTER_KEY_PREVIOUS (or in the .previous key file) and rotate again."
            )
        self.current_master = new_id
        return count

    def wrapped_by_others(self) -> int:
        """How many data keys are wrapped by a master key other than the current one."""
        m = self.mark
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT COUNT(*) AS n FROM {self.table} WHERE wrapped IS NOT NULL "
                f"AND (master_id IS NULL OR master_id <> {m})",
                (self.current_master,),
            )
            return int(self._tuples(cursor.fetchall())[0][0])

    def delete_keys(self, key_ids: Iterable[str]) -> int:
        """Deletes keys now (tombstones stay): for keys that seal no event of their own (R14 retention)."""
        ids = sorted(set(key_ids))
        m = self.mark
        now = _now()
        with self.datastore.transaction(commit=True) as cursor:
            for key_id in ids:
                cursor.execute(
                    f"UPDATE {self.table} SET wrapped = NULL, master_id = NULL, erased_at = {m} "
                    f"WHERE key_id = {m} AND wrapped IS NOT NULL",
                    (now, key_id),
                )
        for key_id in ids:
            self.evict(key_id)
        return len(ids)

    def key_ids(self, prefix: str) -> list[tuple[str, bool]]:
        """The key ids starting with ``prefix``, each with whether it still holds a key."""
        m = self.mark
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT key_id, wrapped IS NOT NULL AS alive FROM {self.table} WHERE key_id LIKE {m} ORDER BY key_id",
                (prefix + "%",),
            )
            return [(str(k), bool(alive)) for k, alive in self._tuples(cursor.fetchall())]

    def deleted_last(self, prefix: str) -> list[str]:
        """The key ids starting with ``prefix`` that the latest deletion among them deleted (one
        :meth:`delete_keys` gives its keys one moment): what an interrupted expiry left to finish."""
        m = self.mark
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT key_id FROM {self.table} WHERE key_id LIKE {m} AND wrapped IS NULL AND erased_at = "
                f"(SELECT MAX(erased_at) FROM {self.table} WHERE key_id LIKE {m} AND wrapped IS NULL) "
                "ORDER BY key_id",
                (prefix + "%", prefix + "%"),
            )
            return [str(row[0]) for row in self._tuples(cursor.fetchall())]

    def export_rows(self, after: int = 0, limit: int = PREFETCH) -> list[tuple[Any, ...]]:
        """The rows of the key table after ``seq`` ``after``, in the order they were made: (seq, key id,
        master id, wrapped key or None, created at, erased at). For a move into a new store, whose
        table takes them as they are (:meth:`import_rows`): the keys stay wrapped throughout."""
        m = self.mark
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT seq, key_id, master_id, wrapped, created_at, erased_at FROM {self.table} "
                f"WHERE seq > {m} ORDER BY seq LIMIT {m}",
                (after, limit),
            )
            return self._tuples(cursor.fetchall())

    def import_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Takes rows of another store's key table (:meth:`export_rows`), in one transaction: each key
        as it was wrapped, each erased key as its tombstone (so that nothing personal is sealed for an
        erased person again, R18, nor for an expired month of read records, R14)."""
        m = self.mark
        with self.datastore.transaction(commit=True) as cursor:
            cursor.executemany(
                f"INSERT INTO {self.table} (key_id, master_id, wrapped, created_at, erased_at) "
                f"VALUES ({m}, {m}, {m}, {m}, {m})",
                [
                    (key_id, master_id, wrapped, created, erased)
                    for _, key_id, master_id, wrapped, created, erased in rows
                ],
            )
        for row in rows:
            self.evict(str(row[1]))

    def counts(self) -> tuple[int, int]:
        """(keys held, keys erased)."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT COUNT(*) AS total, COUNT(wrapped) AS held FROM {self.table}")
            total, held = self._tuples(cursor.fetchall())[0]
        return int(held), int(total) - int(held)


def _rowcount(cursor: Any) -> int:
    """The rows the last statement changed (the library's SQLite cursor wraps sqlite3's)."""
    inner = getattr(cursor, "sqlite_cursor", cursor)
    return max(int(inner.rowcount), 0)


def _now() -> str:
    return datetime.now(UTC).isoformat()


# The key store of a read store ------------------------------------------------------------------
#
# Never a process-wide "current" key store: with two stores in one process each read model seals and
# opens with the keys of the store it serves. The folds get them from the application whose log they
# fold (``Dispatch``/``fold_into`` set ``rows.keys``); the read functions from the read store (the
# engine) they read, bound by the runner, a rebuild or a verification of that store's application.


class Unbound:
    """No key store was given: a read model refuses to seal, and to open what is sealed."""

    def __repr__(self) -> str:
        return "Unbound"


UNBOUND = Unbound()
ViewKeys = PersonalKeys | None | Unbound  # None: a store that keeps no keys (in memory): values as they are

_read_stores: weakref.WeakKeyDictionary[Any, PersonalKeys | None] = weakref.WeakKeyDictionary()
_read_stores_lock = threading.Lock()


def bind_read_store(engine: Any, keys: PersonalKeys | None) -> None:
    """The read store ``engine`` holds the read models of the store whose key store is ``keys``."""
    with _read_stores_lock:
        _read_stores[engine] = keys


def read_store_keys(engine: Any) -> ViewKeys:
    """The key store of the store whose read models ``engine`` holds (:data:`UNBOUND` when unknown)."""
    with _read_stores_lock:
        return _read_stores.get(engine, UNBOUND)


def app_keys(app: Any) -> PersonalKeys | None:
    """The key store of an application (None: an in-memory store, which keeps no keys)."""
    keys: PersonalKeys | None = getattr(app, "personal_keys", None)
    return keys


# Values the read models keep ---------------------------------------------------------------------

VIEW_PREFIX = "pd1:"
ERASED_VIEW = "erased"  # what a read model keeps for a sealed value of an erased person


class Erased:
    """A sealed value whose person was erased (R18)."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "Erased"


ERASED = Erased()


def _json_default(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(type(value).__name__)


def seal_view(keys: ViewKeys, key_id: str | UUID, value: Any) -> Any:
    """What a read model keeps of a personal value: sealed with the person's key from ``keys``, the key
    store of the store the read model serves (the same bytes for the same value); None stays None; an
    erased value or person keeps :data:`ERASED_VIEW`. A store that keeps no keys (``keys`` None: the
    in-memory store of the unit tests) keeps the value as it is; no key store given raises: a value
    is never stored in the clear by mistake."""
    if value is None:
        return None
    if isinstance(value, Erased) or (isinstance(value, dict) and value.get("erased") is True):
        return ERASED_VIEW
    if isinstance(keys, Unbound):
        raise KeyStoreError("A read model sealed a personal value without its store's key store.")
    if keys is None:
        return value
    key_id = str(key_id)
    key = keys.key_for_view(key_id)
    if key is None:
        return ERASED_VIEW
    plain = json.dumps(value, default=_json_default, sort_keys=True, separators=(",", ":")).encode()
    return VIEW_PREFIX + _b64(seal_bytes(key, key_id, plain, deterministic=True))


def open_view(keys: ViewKeys, key_id: str | UUID, stored: Any) -> Any:
    """A read model's personal value as it was sealed (dates come back as ISO text), :data:`ERASED` for
    an erased person, None for None."""
    if stored is None:
        return None
    if stored == ERASED_VIEW:
        return ERASED
    if not (isinstance(stored, str) and stored.startswith(VIEW_PREFIX)):
        return stored  # kept as it was (no key store)
    if keys is None or isinstance(keys, Unbound):
        raise KeyStoreError("A sealed value is read without the store's keys.")
    key_id = str(key_id)
    key = keys.key_to_open(key_id)
    if key is None:
        return ERASED
    try:
        return json.loads(open_bytes(key, key_id, _unb64(stored[len(VIEW_PREFIX) :])))
    except InvalidTag:
        raise KeyStoreError("A sealed value of a read model does not open with its person's key.") from None


def open_view_date(keys: ViewKeys, key_id: str | UUID, stored: Any) -> date | Erased | None:
    value = open_view(keys, key_id, stored)
    if isinstance(value, str):
        return date.fromisoformat(value)
    if value is None or isinstance(value, (Erased, date)):
        return value
    raise KeyStoreError("A sealed date of a read model is not a date.")


def opened_name(keys: ViewKeys, key_id: str | UUID, stored: Any) -> Any:
    """A sealed name as read: ``slettet`` once the person is erased (R18)."""
    value = open_view(keys, key_id, stored)
    return ERASED_NAME if isinstance(value, Erased) else value


def opened_date(keys: ViewKeys, key_id: str | UUID, stored: Any) -> date | None:
    """A sealed date as read: None once the person is erased."""
    value = open_view_date(keys, key_id, stored)
    return None if isinstance(value, Erased) else value


def opened(keys: ViewKeys, key_id: str | UUID, stored: Any) -> Any:
    """A sealed value as read: None once the person is erased."""
    value = open_view(keys, key_id, stored)
    return None if isinstance(value, Erased) else value


def prefetch_view_keys(keys: ViewKeys, key_ids: Iterable[str | UUID]) -> None:
    """Fetches the keys of a list's persons in a few queries before their values are opened."""
    if isinstance(keys, PersonalKeys):
        keys.prefetch(str(k) for k in key_ids)


# The mapper that seals events --------------------------------------------------------------------

SEALED_BY = "sealed_by"
SEALED = "sealed"

# The events whose fields hold personal data, by class name: field -> what the field reads as once
# its person is erased. Free text about a person (deviations, a decline's reason, a correction's
# reason) is sealed with the person's key too.
_REFUGEE_FIELDS: dict[str, dict[str, Any]] = {
    "RefugeeRegistered": {"personal": {"erased": True}},
    "MappingRecorded": {"personal": {"erased": True}},
    "DeviationOpened": {"description": ""},
    "DeviationResolved": {"note": ""},
    "RefugeeDeclined": {"reason": ""},
    "SettlementDateCorrected": {"reason": ""},
    # Erased, an override's reason still says there was one (places count it, summaries name it).
    "SettlementDecided": {"override_reason": ERASED_NAME},
}


# Free text that is not one person's, sealed with a key of its own aggregate (``<prefix>:<id>``, in the
# same key table): event -> (key prefix, field -> what it reads as once the key is deleted). A family's
# ``family_id`` text names the family; a support case's texts, a withdrawn list's or capacity report's
# reason may name a person. The key is made with the aggregate's first sealed event (same transaction).
_AGGREGATE_FIELDS: dict[str, tuple[str, dict[str, Any]]] = {
    "Family.FamilyFormed": ("family", {"family_id": ERASED_NAME}),
    "SupportCase.SupportCaseFiled": ("case", {"subject": ERASED_NAME, "text": ""}),
    "SupportCase.SupportCaseAnswered": ("case", {"text": ""}),
    "DistributionList.DistributionListWithdrawn": ("list", {"reason": ""}),
    "MinorCapacity.MinorCapacityWithdrawn": ("capacity", {"reason": ""}),
}
# The events that delete an aggregate's key in their own transaction (R18): its texts read as erased.
_AGGREGATE_ERASURES: dict[str, str] = {
    "Family.FamilyLabelErased": "family",
    "SupportCase.SupportCaseTextsErased": "case",
}
# The events whose aggregate's key is certainly new (the aggregate's first sealed event): made with it.
_NEW_AGGREGATE_KEYS = frozenset(
    {
        "Family.FamilyFormed",
        "SupportCase.SupportCaseFiled",
        "DistributionList.DistributionListWithdrawn",
        "MinorCapacity.MinorCapacityWithdrawn",
    }
)


def aggregate_key_id(prefix: str, aggregate_id: Any) -> str:
    """The key id of an aggregate's own key: ``family:<id>``, ``case:<id>``, ``list:<id>``, ``capacity:<id>``."""
    return f"{prefix}:{aggregate_id}"


# R14: the persons a read record names, sealed with the key of its month (read_retention.py).
_READ_FIELDS = {
    "FolderRead.PersonFolderViewed": "refugee_id",
    "ListingRead.PersonalDataListed": "refugee_ids",
}


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 2 and SEALED_BY in value and SEALED in value


class SealingMapper(Mapper[UUID]):
    """The library's mapper, with each event's personal part sealed by its person's key (module doc)."""

    keys: PersonalKeys | None = None
    # A move of an older store into this one (api/store_move.py): the key ids this store holds. A key
    # not among them is made with the events being saved (one writer: no other process makes keys
    # here), and a person's first event may find a key already (made for a view of the older store).
    moving_keys: set[str] | None = None

    def _seal(self, key_id: str, value: Any, *, new: bool = False) -> Any:
        assert self.keys is not None
        if self.moving_keys is not None:
            new = key_id not in self.moving_keys
            self.moving_keys.add(key_id)
        key = self.keys.key_to_seal(key_id, new=new)
        if key is None:
            return None  # the person was erased: nothing personal is stored about them again
        plain = self.transcoder.encode(value)
        return {SEALED_BY: key_id, SEALED: _b64(seal_bytes(key, key_id, plain))}

    def _open(self, value: Any, erased: Any) -> Any:
        if not is_sealed(value):
            return erased if value is None and erased is not None else value
        assert self.keys is not None
        key_id = str(value[SEALED_BY])
        key = self.keys.key_to_open(key_id)
        if key is None:
            return erased
        try:
            return self.transcoder.decode(open_bytes(key, key_id, _unb64(value[SEALED])))
        except InvalidTag:
            raise KeyStoreError("A sealed part of an event does not open with its person's key.") from None

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        keys = self.keys
        name = type(domain_event).__qualname__
        if name in _READ_FIELDS and keys is not None:
            return super().to_stored_event(self._sealed_read(domain_event))
        if keys is not None and (name in _AGGREGATE_FIELDS or name in _AGGREGATE_ERASURES):
            return super().to_stored_event(self._sealed_aggregate(domain_event))
        if keys is None or not name.startswith(("Refugee.", "Letter.", "DistributionList.", "QuotaYear.")):
            return super().to_stored_event(domain_event)
        event_name = name.split(".", 1)[1]
        state = dict(vars(domain_event))
        person = str(domain_event.originator_id)
        if name.startswith("Refugee."):
            if event_name == "PersonalDataErased":
                keys.erase_with_next_save(person)
            # A registration is the person's first event (version 1, unique): no key can exist yet.
            new = event_name == "RefugeeRegistered" and domain_event.originator_version == 1
            if event_name == "RefugeeRegistered" and state.get("family_id") is not None:
                # The family's text is the person's data too: kept inside the sealed personal part.
                state["personal"] = {**(state.get("personal") or {}), "family_id": state["family_id"]}
                state["family_id"] = None
            if event_name == "RefugeeRegistered" and state.get("family_ref") is not None:
                # The read models seal the family's text with the family's key: made with the first
                # registration that names the family (a family formed before it was sealed has none).
                family_key = aggregate_key_id("family", state["family_ref"])
                if not keys.lookup(family_key)[0]:
                    keys.key_to_seal(family_key, new=True)
            for field, erased in _REFUGEE_FIELDS.get(event_name, {}).items():
                if state.get(field) is not None:
                    sealed_value = self._seal(person, state[field], new=new)
                    # An erased person's field keeps what it reads as once erased, never the value.
                    state[field] = erased if sealed_value is None else sealed_value
        elif event_name == "LetterIssued":
            state["personal"] = self._seal_letter(state.get("personal") or {}, state.get("person_ids") or [])
        elif event_name == "SettlementPlaceTaken":
            if state.get("override_reason") is not None:
                sealed_reason = self._seal(str(state["refugee_id"]), state["override_reason"])
                state["override_reason"] = ERASED_NAME if sealed_reason is None else sealed_reason
        elif event_name == "DistributionListApproved":
            state["declined"] = [
                {
                    **d,
                    "reason": self._seal(str(d["refugee_id"]), d["reason"])
                    if d.get("reason")
                    else d.get("reason"),
                }
                for d in state.get("declined") or []
            ]
        else:
            return super().to_stored_event(domain_event)
        sealed = object.__new__(type(domain_event))
        object.__setattr__(sealed, "__dict__", state)
        return super().to_stored_event(sealed)

    def _sealed_aggregate(self, domain_event: DomainEventProtocol[UUID]) -> Any:
        """Free text sealed with its aggregate's own key; or that key deleted (see _AGGREGATE_FIELDS)."""
        assert self.keys is not None
        name = type(domain_event).__qualname__
        state = dict(vars(domain_event))
        if name in _AGGREGATE_ERASURES:
            self.keys.erase_with_next_save(
                aggregate_key_id(_AGGREGATE_ERASURES[name], domain_event.originator_id)
            )
            return domain_event
        prefix, fields = _AGGREGATE_FIELDS[name]
        key_id = aggregate_key_id(prefix, domain_event.originator_id)
        # A first sealed event makes the key with itself (same transaction), unless one exists already.
        new = name in _NEW_AGGREGATE_KEYS and not self.keys.lookup(key_id)[0]
        for field, erased in fields.items():
            if state.get(field) is not None:
                sealed_value = self._seal(key_id, state[field], new=new)
                state[field] = erased if sealed_value is None else sealed_value
        sealed = object.__new__(type(domain_event))
        object.__setattr__(sealed, "__dict__", state)
        return sealed

    def _sealed_read(self, domain_event: DomainEventProtocol[UUID]) -> Any:
        """R14: a read record's persons sealed with the key of its month (read_retention.py)."""
        state = dict(vars(domain_event))
        moment = state["timestamp"]
        month = f"reads:{moment.year:04d}-{moment.month:02d}"
        field = _READ_FIELDS[type(domain_event).__qualname__]
        if state.get(field) is not None:
            sealed_value = self._seal(month, state[field])
            # The month's key deleted (R14; only when an older store is moved): what it reads as then.
            state[field] = ([] if field == "refugee_ids" else None) if sealed_value is None else sealed_value
        sealed = object.__new__(type(domain_event))
        object.__setattr__(sealed, "__dict__", state)
        return sealed

    def _seal_letter(self, personal: dict[str, Any], person_ids: list[Any]) -> dict[str, Any]:
        sealed: dict[str, Any] = dict(personal)
        persons = []
        for entry in personal.get("persons") or []:
            person_id = str(entry.get("id"))
            value = self._seal(person_id, entry)
            persons.append(value if value is not None else {"id": person_id, "erased": True})
        if "persons" in personal:
            sealed["persons"] = persons
        if personal.get("recipient") is not None and person_ids:
            sealed["recipient"] = self._seal(str(person_ids[0]), personal["recipient"]) or {"erased": True}
        return sealed

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        return self.open_event(super().to_domain_event(stored_event))

    def open_event(self, event: Any) -> Any:
        """Opens the sealed parts of an event the library's mapper decoded (the read side's decoder,
        ``projections/engine/decoding.py``, decodes like the library and then calls this)."""
        keys = self.keys
        if keys is None:
            return event
        name = type(event).__qualname__
        if name in _AGGREGATE_ERASURES:
            keys.evict(aggregate_key_id(_AGGREGATE_ERASURES[name], event.originator_id))
        elif name in _AGGREGATE_FIELDS:
            state = vars(event)
            prefix, fields = _AGGREGATE_FIELDS[name]
            stored_clear = False
            for field, erased in fields.items():
                if is_sealed(state.get(field)):
                    state[field] = self._open(state[field], erased)
                elif state.get(field) is not None:
                    stored_clear = True
            if stored_clear:
                # Stored before these texts were sealed: the read models seal them with the aggregate's
                # key, made now (a short transaction of its own) rather than inside a view's fold.
                keys.key_for_view(aggregate_key_id(prefix, event.originator_id))
        elif name in _READ_FIELDS:
            state = vars(event)
            field = _READ_FIELDS[name]
            if is_sealed(state.get(field)):
                state[field] = self._open(state[field], [] if field == "refugee_ids" else None)
        elif name.startswith("Refugee."):
            event_name = name.split(".", 1)[1]
            if event_name == "PersonalDataErased":
                keys.evict(str(event.originator_id))
            state = vars(event)
            for field, erased in _REFUGEE_FIELDS.get(event_name, {}).items():
                if is_sealed(state.get(field)):
                    state[field] = self._open(state[field], erased)
            personal = state.get("personal")
            if event_name == "RefugeeRegistered" and isinstance(personal, dict) and "family_id" in personal:
                # The family's text kept inside the sealed personal part (older events: beside it).
                personal = dict(personal)
                state["family_id"] = personal.pop("family_id")
                state["personal"] = personal
        elif name == "QuotaYear.SettlementPlaceTaken":
            state = vars(event)
            if is_sealed(state.get("override_reason")):
                state["override_reason"] = self._open(state["override_reason"], ERASED_NAME)
        elif name == "DistributionList.DistributionListApproved":
            state = vars(event)
            state["declined"] = [
                {**d, "reason": self._open(d.get("reason"), "")} if is_sealed(d.get("reason")) else d
                for d in state.get("declined") or []
            ]
        elif name == "Letter.LetterIssued":
            state = vars(event)
            personal = state.get("personal")
            if isinstance(personal, dict):
                opened = dict(personal)
                if "persons" in personal:
                    opened["persons"] = [
                        self._open(p, {"id": p.get(SEALED_BY), "erased": True}) if is_sealed(p) else p
                        for p in personal["persons"]
                    ]
                if is_sealed(personal.get("recipient")):
                    opened["recipient"] = self._open(personal["recipient"], {"erased": True})
                state["personal"] = opened
        return event


def keyed_recorder_class(base: type[Any]) -> type[Any]:
    """``base`` (the library's SQLite or PostgreSQL application recorder) storing the pending keys of
    :class:`PersonalKeys` in the same transaction as the events."""

    class KeyedRecorder(base):
        personal_keys: PersonalKeys | None = None

        def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
            keys = self.personal_keys
            if keys is None:
                return super().insert_events(stored_events, **kwargs)
            try:
                result = super().insert_events(stored_events, **kwargs)
            except BaseException:
                keys.settle_pending(stored=False)
                raise
            keys.settle_pending(stored=True)
            return result

        def _insert_events(self, cursor: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
            if self.personal_keys is not None:
                self.personal_keys.write_pending(cursor)
            return super()._insert_events(cursor, stored_events, **kwargs)

    KeyedRecorder.__name__ = KeyedRecorder.__qualname__ = "Keyed" + base.__name__
    return KeyedRecorder
