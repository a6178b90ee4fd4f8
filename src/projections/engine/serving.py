"""Reads in one statement: the serving generations known in memory, checked by the statement itself.

A query function of a read model first looks up the generation of tables that serves it (a statement
on the state table), then queries those tables. The hottest reads of the API skip that first round
trip: :class:`ServingGenerations` remembers the generation and code version serving each read model,
and a :class:`OneStatementRead` builds one statement over the remembered generations' tables that also
reads the state rows of the read models it touches. When a rebuild (in this process or any other) has
swapped a generation since, the statement's own state columns say so in the same round trip: the
memory learns the new generation and the statement runs once more on the new tables, so that a reader
sees a swap at once. A statement on tables already dropped (an old generation after its grace) fails
with "no such table"; the memory is then reloaded from the state table and the statement retried.

Running the statement is up to the caller (:meth:`OneStatementRead.run` on a SQLAlchemy connection;
the HTTP API runs the compiled text on an asynchronous psycopg pool instead), which hands the rows
back to :meth:`OneStatementRead.check`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, Subquery, Table, case, func, or_, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError

from projections.engine.projection import Projection
from projections.engine.state import STATE

Generations = tuple[tuple[str, int, int], ...]  # (name, generation, version) per read model, sorted
Builder = Callable[[Mapping[str, Mapping[str, Table]], str], Select[Any]]
MAX_ATTEMPTS = 4  # a statement runs again only after a swap; four swaps within one read are absurd


class NotServing(LookupError):
    """A read model this read needs is not installed, or its serving tables were built by another
    version of its code (a rebuild for an upgrade is under way): the caller answers "not ready"."""


class Stale(Exception):
    """The statement ran on tables that no longer serve: run it again (the memory has been updated)."""


class ServingGenerations:
    """The generation and code version that serve each read model, as last seen (one per process)."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def get(self, names: Iterable[str]) -> Generations | None:
        """The remembered generations of ``names``, or None when one of them is not known yet."""
        known = self._known
        found = []
        for name in sorted(names):
            seen = known.get(name)
            if seen is None:
                return None
            found.append((name, *seen))
        return tuple(found)

    def learn(self, name: str, generation: int, version: int) -> None:
        with self._lock:
            self._known[name] = (generation, version)

    def forget(self) -> None:
        with self._lock:
            self._known.clear()

    def load_statement(self) -> Select[Any]:
        return select(STATE.c.name, STATE.c.generation, STATE.c.version)

    def load_rows(self, rows: Iterable[Any]) -> None:
        """Remembers every read model's generation from rows of :meth:`load_statement`."""
        with self._lock:
            self._known = {row[0]: (int(row[1]), int(row[2])) for row in rows}

    def load(self, conn: Connection) -> None:
        self.load_rows(conn.execute(self.load_statement()))


def state_column(name: str, what: str) -> str:
    return f"_{what}_{name}"


class OneStatementRead:
    """One read over the serving tables of ``projections`` in one statement (see the module).

    ``build(tables, variant)`` answers the statement over ``tables`` (projection name -> its tables
    by logical name) for one ``variant`` of the read (say, with or without a year); the state columns
    are added to it here. Every statement must answer at least one row whatever it finds (start from
    the state table's one row and join the rest to it), so that the state is always read.
    """

    def __init__(self, projections: Sequence[Projection], build: Builder) -> None:
        self.projections = {p.name: p for p in projections}
        self.build = build
        self._statements: dict[tuple[Generations, str, str], Select[Any]] = {}
        self._texts: dict[tuple[Generations, str, str], Compiled] = {}

    def statement(self, generations: Generations, variant: str, dialect: str) -> Select[Any]:
        """The statement over these generations' tables (the state columns come from ``build``'s
        use of :func:`state_row`)."""
        key = (generations, variant, dialect)
        found = self._statements.get(key)
        if found is None:
            tables = {
                name: self.projections[name].sql_tables(generation, dialect)
                for name, generation, _ in generations
            }
            found = self._statements[key] = self.build(tables, variant)
        return found

    def compiled(self, generations: Generations, variant: str, dialect: Dialect) -> Compiled:
        """The statement's SQL text for ``dialect`` with named parameters (``%(name)s`` for psycopg),
        and the values of the parameters it binds itself (the caller's parameters go beside them)."""
        key = (generations, variant, dialect.name)
        found = self._texts.get(key)
        if found is None:
            found = self._texts[key] = compiled(self.statement(generations, variant, dialect.name), dialect)
        return found

    def generations(self, serving: ServingGenerations) -> Generations | None:
        return serving.get(self.projections)

    def known_or_refuse(self, serving: ServingGenerations) -> Generations:
        """The generations after a load of the state table: NotServing when one is not installed."""
        generations = self.generations(serving)
        if generations is None:
            missing = sorted(name for name in self.projections if serving.get([name]) is None)
            raise NotServing(
                f"The {', '.join(missing)} read model is not installed; run `settlement projections run`."
            )
        return generations

    def check(self, serving: ServingGenerations, generations: Generations, rows: Sequence[Any]) -> None:
        """Raises :class:`Stale` (after learning the new generations) when the rows were read from
        tables that no longer serve, :class:`NotServing` when a read model cannot answer at all."""
        if not rows:
            raise RuntimeError("a one-statement read must answer at least one row (its state)")
        first = rows[0]
        stale = False
        for name, generation, version in generations:
            seen_generation = first[state_column(name, "generation")]
            seen_version = first[state_column(name, "version")]
            if seen_generation is None:
                raise NotServing(f"The {name} read model is not installed; run `settlement projections run`.")
            if (seen_generation, seen_version) != (generation, version):
                serving.learn(name, int(seen_generation), int(seen_version))
                stale = True
            if int(seen_version) != self.projections[name].version:
                raise NotServing(
                    f"The {name} read model is being rebuilt for a new version of the service; "
                    "try again shortly."
                )
        if stale:
            raise Stale()

    def run(
        self, conn: Connection, serving: ServingGenerations, variant: str, params: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """Runs the read on a SQLAlchemy connection (autocommit or a read transaction): its rows."""
        for _ in range(MAX_ATTEMPTS):
            generations = self.generations(serving)
            if generations is None:
                serving.load(conn)
                generations = self.known_or_refuse(serving)
            statement = self.statement(generations, variant, conn.dialect.name)
            try:
                rows = [dict(r) for r in conn.execute(statement, params).mappings()]
            except (ProgrammingError, OperationalError) as error:
                if not missing_table(error):
                    raise
                if conn.in_transaction() and conn.dialect.name == "postgresql":
                    conn.rollback()  # the failed statement aborted the transaction
                serving.forget()
                continue
            try:
                self.check(serving, generations, rows)
            except Stale:
                continue
            return rows
        raise NotServing("The read models were swapped again and again during this read; try again.")


@dataclass(frozen=True)
class Compiled:
    """A statement as SQL text for one driver, with the values of the literals it binds itself."""

    text: str
    defaults: dict[str, Any]
    order: tuple[str, ...] | None  # the parameters' names by position ($1, $2...), None for named ones

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for ``params`` (the caller's) and the statement's own literals."""
        assert self.order is not None, "a statement with named parameters takes a mapping"
        values = {**self.defaults, **params}
        return [values[name] for name in self.order]


def compiled(statement: Select[Any], dialect: Dialect) -> Compiled:
    """``statement`` as SQL text for a driver, and the values of its own bound literals."""
    done = statement.compile(dialect=dialect)
    defaults = {name: value for name, value in done.params.items() if value is not None}
    order = tuple(done.positiontup) if done.positional and done.positiontup is not None else None
    return Compiled(str(done), defaults, order)


def missing_table(error: BaseException) -> bool:
    """Whether a database error says a table does not exist (an old generation dropped after a swap)."""
    original = error.orig if isinstance(error, DBAPIError) else error
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate is not None:
        return bool(sqlstate == "42P01")  # PostgreSQL: undefined_table
    return isinstance(original, sqlite3.Error) and "no such table" in str(original)


def state_row(names: Iterable[str]) -> Subquery:
    """A one-row subquery with ``_generation_<name>`` and ``_version_<name>`` for each read model
    (NULL for one not installed): the left-most table of a one-statement read."""
    columns = []
    for name in sorted(names):
        for what, column in (("generation", STATE.c.generation), ("version", STATE.c.version)):
            columns.append(func.max(case((STATE.c.name == name, column))).label(state_column(name, what)))
    # Equalities rather than IN: an IN list compiles to a parameter expanded only at execution.
    return (
        select(*columns)
        .where(or_(*(STATE.c.name == name for name in sorted(names))))
        .subquery("serving_state")
    )
