"""The rows a projection reads and writes while it folds events: in memory, or in a transaction."""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, and_, select, tuple_

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


def key_condition(table: Table, key_columns: Sequence[str], keys: Iterable[Key]) -> Any:
    """A WHERE clause matching any of ``keys`` (a row-value IN list; one column needs no tuple)."""
    keys = list(keys)
    if len(key_columns) == 1:
        return table.c[key_columns[0]].in_([k[0] for k in keys])
    return tuple_(*(table.c[c] for c in key_columns)).in_(keys)


class DatabaseRows(Rows):
    """Rows of one generation read lazily inside the batch's transaction and written back at flush."""

    def __init__(self, conn: Connection, projection: Projection, generation: int) -> None:
        self.conn = conn
        self.projection = projection
        self.tables = projection.sql_tables(generation, conn.dialect)
        self.cache: dict[str, dict[Key, Row | None]] = {name: {} for name in self.tables}
        self.dirty: dict[str, set[Key]] = {name: set() for name in self.tables}
        self.appended: dict[str, list[Row]] = {name: [] for name in self.tables}

    def get(self, table: str, key: Key) -> Row | None:
        cache = self.cache[table]
        if key in cache:
            return cache[key]
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
        return row

    def put(self, table: str, row: Row) -> None:
        key = self.projection.key_of(table, row)
        self.cache[table][key] = row
        self.dirty[table].add(key)

    def delete(self, table: str, key: Key) -> None:
        self.cache[table][key] = None
        self.dirty[table].add(key)

    def append(self, table: str, row: Row) -> None:
        self.appended[table].append(row)

    def flush(self) -> None:
        """Writes the batch's changes: changed rows are replaced, appended rows inserted."""
        for name, keys in self.dirty.items():
            if not keys:
                continue
            table = self.tables[name]
            columns = self.projection.spec(name).key
            ordered = sorted(keys, key=repr)
            for start in range(0, len(ordered), 500):
                chunk = ordered[start : start + 500]
                self.conn.execute(table.delete().where(key_condition(table, columns, chunk)))
            kept = [row for k in ordered if (row := self.cache[name][k]) is not None]
            if kept:
                self.conn.execute(table.insert(), kept)
            keys.clear()
        for name, rows in self.appended.items():
            if rows:
                self.conn.execute(self.tables[name].insert(), rows)
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
