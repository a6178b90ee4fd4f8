"""What every projection is: a named, versioned fold of some event types into its own tables."""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import Column, Connection, Index, Integer, MetaData, String, Table, and_, select, tuple_
from sqlalchemy.engine import Dialect

from projections.store import UTCDateTime

Row = dict[str, Any]
Key = tuple[Any, ...]

STATE_TABLE = "projection_state"


def state_table(metadata: MetaData) -> Table:
    """One row per projection: the generation of tables that serves, its code version and position."""
    return Table(
        STATE_TABLE,
        metadata,
        Column("name", String(64), primary_key=True),
        Column("version", Integer, nullable=False),
        Column("generation", Integer, nullable=False),
        Column("position", Integer, nullable=False),
        Column("updated_at", UTCDateTime, nullable=True),
    )


STATE = state_table(MetaData())


@dataclass(frozen=True)
class TableSpec:
    """One logical table of a projection: its columns, key and indexes, instantiated per generation."""

    name: str
    columns: Callable[[], list[Column[Any]]]
    key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()


class ProjectionError(RuntimeError):
    """A projection failed on an event: it stops there, naming the event, and never skips it."""

    def __init__(self, projection: str, position: int, event_type: str, cause: BaseException) -> None:
        # The cause's type only: a database error's text may quote the row it failed on (personal data).
        # The cause itself stays chained (``__cause__``) for a debugger, never for the logs.
        super().__init__(f"Projection {projection!r} failed on event {position} ({event_type}): {type(cause).__name__}")
        self.projection = projection
        self.position = position
        self.event_type = event_type
        self.cause_type = type(cause).__name__


class Rows(ABC):
    """The rows a projection reads and writes while it folds events (in memory or in a transaction)."""

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


class Projection:
    """A read model: the event types it folds, its tables, and ``apply`` for one event.

    ``version`` changes whenever the fold or the tables change; a rebuild then builds the new version.
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1
    tables: ClassVar[Sequence[TableSpec]]
    handles: ClassVar[frozenset[str]]

    def __init__(self) -> None:
        self._specs = {spec.name: spec for spec in self.tables}
        self._generations: dict[tuple[int, str], dict[str, Table]] = {}

    def apply(self, event: Any, position: int, rows: Rows) -> None:
        handler = self.handler_for(type(event).__name__)
        if handler is not None:
            handler(event, position, rows)

    def handler_for(self, event_type: str) -> Callable[[Any, int, Rows], None] | None:
        """The method folding ``event_type`` (``on_<EventType>``), or None when it is not wanted."""
        return getattr(self, f"on_{event_type}") if event_type in self.handles else None

    def key_of(self, table: str, row: Row) -> Key:
        return tuple(row[c] for c in self._specs[table].key)

    def spec(self, table: str) -> TableSpec:
        return self._specs[table]

    def table_name(self, table: str, generation: int) -> str:
        return f"{self.name}_{table}_g{generation}"

    def sql_tables(self, generation: int, dialect: Dialect | str) -> dict[str, Table]:
        """The SQLAlchemy tables of one generation (the serving one, or one being rebuilt)."""
        dialect_name = dialect if isinstance(dialect, str) else dialect.name
        cached = self._generations.get((generation, dialect_name))
        if cached is None:
            metadata = MetaData()
            cached = {}
            for spec in self.tables:
                table = Table(self.table_name(spec.name, generation), metadata, *spec.columns())
                for columns in spec.indexes:
                    Index(f"ix_{table.name}_{'_'.join(columns)}", *(table.c[c] for c in columns))
                cached[spec.name] = table
            self._generations[(generation, dialect_name)] = cached
        return cached

    def extra_ddl(self, generation: int, dialect: str) -> list[str]:
        """Statements beyond tables and indexes (full-text search), run after a bulk load."""
        return []

    def drop_ddl(self, generation: int, dialect: str) -> list[str]:
        """Statements that remove what ``extra_ddl`` made (before the tables are dropped)."""
        return []


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
        found = self.conn.execute(
            select(sql_table).where(and_(*(sql_table.c[c] == v for c, v in zip(columns, key, strict=True))))
        ).mappings().first()
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
            rows = [self.cache[name][k] for k in ordered if self.cache[name][k] is not None]
            if rows:
                self.conn.execute(table.insert(), rows)
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
                (lambda row, k=spec.key[0]: (row[k],)) if len(spec.key) == 1 else operator.itemgetter(*spec.key)
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
