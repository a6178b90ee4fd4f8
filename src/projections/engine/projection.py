"""What every projection is: a named, versioned fold of some event classes into its own tables."""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import Column, Index, MetaData, Table
from sqlalchemy.engine import Dialect

from projections.engine.rows import Key, Row, Rows

# A handler folds one event (of the class it is mapped to) at its log position into the rows.
Handler = Callable[[Any, int, Rows], None]


@dataclass(frozen=True)
class TableSpec:
    """One logical table of a projection: its columns, key and indexes, instantiated per generation."""

    name: str
    columns: Callable[[], list[Column[Any]]]
    key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()


def _key_function(columns: tuple[str, ...]) -> Callable[[Row], Key]:
    """A row's key as a tuple of ``columns``' values."""
    if len(columns) == 1:
        column = columns[0]
        return lambda row: (row[column],)
    return operator.itemgetter(*columns)


class ProjectionError(RuntimeError):
    """A projection failed on an event: it stops there, naming the event, and never skips it."""

    def __init__(self, projection: str, position: int, event_type: str, cause: BaseException) -> None:
        # The cause's type only: a database error's text may quote the row it failed on (personal data).
        # The cause itself stays chained (``__cause__``) for a debugger, never for the logs.
        super().__init__(
            f"Projection {projection!r} failed on event {position} ({event_type}): {type(cause).__name__}"
        )
        self.projection = projection
        self.position = position
        self.event_type = event_type
        self.cause_type = type(cause).__name__


class Projection(ABC):
    """A read model: the event classes it folds (with the method folding each), and its tables.

    ``handlers`` maps each event class to a method taking ``(event, position, rows)``; the events
    a projection handles are exactly that map's keys. ``version`` changes whenever the fold or the
    tables change; a rebuild then builds the new version.
    """

    name: ClassVar[str]
    version: ClassVar[int] = 1
    tables: ClassVar[Sequence[TableSpec]]

    def __init__(self) -> None:
        self._specs = {spec.name: spec for spec in self.tables}
        # A key function per table, made once: key_of runs for almost every event a runner folds.
        self._keys: dict[str, Callable[[Row], Key]] = {
            spec.name: _key_function(spec.key) for spec in self.tables
        }
        self._generations: dict[tuple[int, str], dict[str, Table]] = {}
        self.handlers: Mapping[type[Any], Handler] = self.handler_map()

    @abstractmethod
    def handler_map(self) -> Mapping[type[Any], Handler]:
        """Event class -> the method folding it."""

    @property
    def handles(self) -> frozenset[type[Any]]:
        return frozenset(self.handlers)

    def handler_for(self, event_class: type[Any]) -> Handler | None:
        """The method folding events of ``event_class``, or None when this projection ignores them."""
        return self.handlers.get(event_class)

    def update(self, rows: Rows, table: str, key: Key, **changes: Any) -> Row:
        """Changes columns of an existing row; a row that was never made is a broken log (never skipped)."""
        found = rows.get(table, key)
        if found is None:
            raise LookupError(f"{self.name}: no {table} row {key}")
        updated = {**found, **changes}
        rows.put(table, updated)
        return updated

    def key_of(self, table: str, row: Row) -> Key:
        return self._keys[table](row)

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
