"""Comparing two generations of a projection's tables: row counts and row-by-row differences."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import TEXT, Connection, Table, cast, except_, func, select

from projections.engine.projection import Projection
from projections.engine.store import affinity, dumps


@dataclass
class TableComparison:
    """One table of the old and the new generation side by side.

    ``only_old`` and ``only_new`` count the rows one generation has and the other lacks (a set
    difference computed by the database both ways): an exact check where a checksum is a probable one.
    """

    table: str
    old_rows: int
    new_rows: int
    only_old: int
    only_new: int

    @property
    def equal(self) -> bool:
        return self.old_rows == self.new_rows and self.only_old == 0 and self.only_new == 0


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.replace(tzinfo=UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def table_rows(conn: Connection, table: Table, key: Iterable[str]) -> Iterable[list[Any]]:
    """A table's rows in key order with values in a backend-independent form (for checksums, tests)."""
    result = conn.execution_options(stream_results=True, yield_per=5000).execute(
        select(table).order_by(*(table.c[k] for k in key))
    )
    for row in result:
        yield [_canonical(v) for v in row]


def checksum(conn: Connection, table: Table, key: Iterable[str]) -> tuple[int, str]:
    """Row count and SHA-256 over the canonical rows of a table (for reports and tests)."""
    digest = hashlib.sha256()
    count = 0
    for row in table_rows(conn, table, key):
        digest.update(dumps(row).encode())
        digest.update(b"\n")
        count += 1
    return count, digest.hexdigest()


def _comparable(table: Table, dialect: str) -> Any:
    # PostgreSQL's json type has no equality; our JSON text is canonical, so its text compares.
    columns = [
        cast(c, TEXT) if dialect == "postgresql" and affinity(c) == "JSON" else c for c in table.columns
    ]
    return select(*columns)


def compare(conn: Connection, projection: Projection, old: int, new: int) -> list[TableComparison]:
    """Row counts and row-by-row differences of every table of two generations, in one snapshot."""
    dialect = conn.dialect.name
    olds = projection.sql_tables(old, conn.dialect)
    news = projection.sql_tables(new, conn.dialect)
    comparisons = []
    for spec in projection.tables:
        a, b = olds[spec.name], news[spec.name]
        counts = [conn.execute(select(func.count()).select_from(t)).scalar_one() for t in (a, b)]

        def only_in(x: Table, y: Table) -> int:
            difference = except_(_comparable(x, dialect), _comparable(y, dialect)).subquery()
            return conn.execute(select(func.count()).select_from(difference)).scalar_one()

        only_old = only_in(a, b)
        # Rows are unique (keyed): with equal counts and nothing only in the old, nothing is only
        # in the new either, and the second pass over the largest tables is saved.
        only_new = 0 if counts[0] == counts[1] and only_old == 0 else only_in(b, a)
        comparisons.append(TableComparison(spec.name, counts[0], counts[1], only_old, only_new))
    return comparisons
