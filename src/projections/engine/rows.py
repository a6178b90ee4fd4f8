"""The rows a projection reads and writes while it folds events: in memory, or in a transaction."""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, func, select

from projections.engine.bulk_write import bulk_delete, bulk_write
from settlement_domain.personal_keys import UNBOUND, ViewKeys

if TYPE_CHECKING:
    from projections.engine.projection import Projection

Row = dict[str, Any]
Key = tuple[Any, ...]


class Rows(ABC):
    """The rows a projection reads and writes while it folds events (in memory or in a transaction).

    ``keys``: the key store of the store whose log is folded, which the projection seals personal
    values with (R18, ``personal_keys.seal_view``); set by :class:`~projections.engine.runner.Dispatch`.
    """

    keys: ViewKeys = UNBOUND

    @abstractmethod
    def get(self, table: str, key: Key) -> Row | None:
        """The row of ``table`` with this key, or None."""

    @abstractmethod
    def put(self, table: str, row: Row) -> None:
        """Inserts or replaces the row (by its key)."""

    @abstractmethod
    def delete(self, table: str, key: Key) -> None:
        """Removes the row with this key, if any."""

    @abstractmethod
    def append(self, table: str, row: Row) -> None:
        """Adds a row that is known to be new (an insert-only table: no read, no key bookkeeping)."""


class DatabaseRows(Rows):
    """Rows of one generation read lazily inside the batch's transaction and written back at flush.

    The live runner keeps one of these per read model from batch to batch (``rebind`` hands it the
    next batch's connection), so rows it read or wrote stay known in memory; the runner drops it
    whenever anyone else may have written the tables (see ``Runner``). Tables in ``complete`` are
    known whole: a key not in memory is a row that does not exist, with no query.
    """

    def __init__(
        self, conn: Connection, projection: Projection, generation: int, *, load_limit: int | None = None
    ) -> None:
        self.conn = conn
        self.projection = projection
        self.generation = generation
        self.tables = projection.sql_tables(generation, conn.dialect)
        self.cache: dict[str, dict[Key, Row | None]] = {name: {} for name in self.tables}
        self.dirty: dict[str, set[Key]] = {name: set() for name in self.tables}
        self.appended: dict[str, list[Row]] = {name: [] for name in self.tables}
        # Keys whose row is stored (as of the last flush), and keys written without being looked up
        # first in a table not known whole: only those need deleting before their new row goes in.
        self.stored: dict[str, set[Key]] = {name: set() for name in self.tables}
        self.unknown: dict[str, set[Key]] = {name: set() for name in self.tables}
        # Tables known whole. With a ``load_limit``, a table's first lookup that misses reads the
        # table whole when it has at most that many rows (an empty one costs nothing to know whole).
        self.complete: set[str] = set()
        self.load_limit = load_limit
        self._considered: set[str] = set()

    def _loaded_whole(self, table: str) -> bool:
        """Reads ``table`` whole on its first lookup when it is small enough; whether it did."""
        if self.load_limit is None or table in self._considered:
            return False
        self._considered.add(table)
        count = self.conn.execute(select(func.count()).select_from(self.tables[table])).scalar_one()
        if count > self.load_limit:
            return False
        self.load(table)
        return True

    def load(self, table: str) -> None:
        """Reads ``table`` whole into memory: from now on it is known whole (``complete``)."""
        cache, stored = self.cache[table], self.stored[table]
        key_of = self.projection.key_of
        for found in self.conn.execute(select(self.tables[table])).mappings():
            row = dict(found)
            key = key_of(table, row)
            if key not in cache:  # a row changed in memory and not yet flushed stays as it is
                cache[key] = row
            stored.add(key)
        self.complete.add(table)

    def rebind(self, conn: Connection) -> None:
        """Works in ``conn`` (the next batch's transaction) from now on."""
        self.conn = conn

    def size(self) -> int:
        """How many keys are known in memory."""
        return sum(len(keys) for keys in self.cache.values())

    def get(self, table: str, key: Key) -> Row | None:
        cache = self.cache[table]
        if key in cache:
            return cache[key]
        if table in self.complete or self._loaded_whole(table):
            return cache.setdefault(key, None)
        sql_table = self.tables[table]
        columns = self.projection.spec(table).key
        found = (
            self.conn.execute(
                select(sql_table).where(
                    and_(*(sql_table.c[c] == v for c, v in zip(columns, key, strict=True)))
                )
            )
            .mappings()
            .first()
        )
        row = dict(found) if found is not None else None
        cache[key] = row
        if row is not None:
            self.stored[table].add(key)
        return row

    def _written(self, table: str, key: Key) -> None:
        if key not in self.cache[table] and table not in self.complete:
            self.unknown[table].add(key)
        self.dirty[table].add(key)

    def put(self, table: str, row: Row) -> None:
        key = self.projection.key_of(table, row)
        self._written(table, key)
        self.cache[table][key] = row

    def delete(self, table: str, key: Key) -> None:
        self._written(table, key)
        self.cache[table][key] = None

    def append(self, table: str, row: Row) -> None:
        self.appended[table].append(row)

    def flush(self) -> None:
        """Writes the batch's changes: changed rows are replaced, appended rows inserted."""
        for name, keys in self.dirty.items():
            if not keys:
                continue
            table = self.tables[name]
            columns = self.projection.spec(name).key
            stored, unknown, cache = self.stored[name], self.unknown[name], self.cache[name]
            ordered = sorted(keys, key=repr)
            bulk_delete(self.conn, table, columns, [k for k in ordered if k in stored or k in unknown])
            kept = []
            for k in ordered:
                row = cache[k]
                if row is None:
                    stored.discard(k)
                else:
                    kept.append(row)
                    stored.add(k)
            bulk_write(self.conn, table, kept)
            keys.clear()
            unknown.clear()
        for name, rows in self.appended.items():
            if rows:
                bulk_write(self.conn, self.tables[name], rows)
                rows.clear()


class MemoryRows(Rows):
    """All rows of a projection in memory: the rebuild's bulk path folds here, then writes once."""

    def __init__(self, projection: Projection) -> None:
        self.projection = projection
        self.data: dict[str, dict[Key, Row]] = {spec.name: {} for spec in projection.tables}
        self.appended: dict[str, list[Row]] = {spec.name: [] for spec in projection.tables}
        # A key function per table, made once: put() runs for almost every event of a rebuild.
        self._key_of = {
            spec.name: (
                (lambda row, k=spec.key[0]: (row[k],))
                if len(spec.key) == 1
                else operator.itemgetter(*spec.key)
            )
            for spec in projection.tables
        }

    def get(self, table: str, key: Key) -> Row | None:
        return self.data[table].get(key)

    def put(self, table: str, row: Row) -> None:
        self.data[table][self._key_of[table](row)] = row

    def delete(self, table: str, key: Key) -> None:
        self.data[table].pop(key, None)

    def append(self, table: str, row: Row) -> None:
        self.appended[table].append(row)

    def all_rows(self, table: str) -> list[Row]:
        return [*self.data[table].values(), *self.appended[table]]
