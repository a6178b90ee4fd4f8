"""What query functions share: a connection to read in, the serving tables, and keyset pagination.

The only caller input a query function parses itself is a cursor: every malformed or forged cursor
is refused as :class:`BadCursor`, and no other error of a query function means "bad input".
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Select, Table

from projections.engine.projection import Projection
from projections.engine.state import serving_generation
from projections.engine.store import read_transaction
from settlement_domain.personal_keys import ViewKeys, read_store_keys
from settlement_domain.rules import EARLIEST_YEAR, LAST_YEAR

Source = Engine | Connection
MAX_LIMIT = 500


class ReadModelNotReady(LookupError):
    """The read model cannot answer yet: not installed in this database, or its tables were built by
    another version of its code and wait for their rebuild (an upgrade)."""


class BadCursor(ValueError):
    """A pagination cursor that this read model did not hand out (damaged or forged)."""


@contextmanager
def reading(source: Source) -> Iterator[Connection]:
    """A connection to query in: the caller's own, or a fresh read transaction on the engine."""
    if isinstance(source, Connection):
        yield source
    else:
        with read_transaction(source) as conn:
            yield conn


def source_keys(source: Source) -> ViewKeys:
    """The key store that opens the personal values of the read store ``source`` reads (R18): the one
    of the store whose log its read models fold, bound by the runner; never another store's."""
    return read_store_keys(source.engine if isinstance(source, Connection) else source)


def serving_tables(conn: Connection, projection: Projection) -> dict[str, Table]:
    """The tables of the generation that currently serves ``projection`` (blue/green, see rebuild)."""
    serving = serving_generation(conn, projection.name)
    if serving is None:
        raise ReadModelNotReady(
            f"The {projection.name} read model is not installed; run `settlement projections run`."
        )
    generation, version = serving
    if version != projection.version:
        raise ReadModelNotReady(
            f"The {projection.name} read model is being rebuilt for a new version of the service; "
            "try again shortly."
        )
    return projection.sql_tables(generation, conn.dialect)


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


MAX_BIGINT = 2**63 - 1
MIN_YEAR, MAX_YEAR = EARLIEST_YEAR, LAST_YEAR  # the years of the instants the API accepts


def decode_cursor(cursor: str, *kinds: type) -> list[Any]:
    """The cursor's values, one of each of ``kinds`` in order (``int``, ``str`` or ``datetime``).

    Anything else, forged or damaged, is a BadCursor: a string where an int belongs, a float, an
    integer beyond the database's 64 bits, an object or list, a datetime that does not parse.
    ``datetime`` values travel as ISO strings and are returned parsed.
    """
    refused = BadCursor("The cursor is not one this list handed out.")
    if not isinstance(cursor, str):
        raise refused
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError, OverflowError, RecursionError) as error:
        raise refused from error
    if not isinstance(values, list) or len(values) != len(kinds):
        raise refused
    decoded: list[Any] = []
    for value, kind in zip(values, kinds, strict=True):
        if kind is int:
            if type(value) is not int or not -MAX_BIGINT <= value <= MAX_BIGINT:
                raise refused
        elif kind is str:
            if not isinstance(value, str) or "\x00" in value or not _encodable(value):
                raise refused
        elif kind is datetime:
            if not isinstance(value, str):
                raise refused
            try:
                value = datetime.fromisoformat(value)
            except ValueError as error:
                raise refused from error
            if not MIN_YEAR <= value.year <= MAX_YEAR:  # near year 1 or 9999 the shift to UTC overflows
                raise refused
        else:
            raise TypeError(f"A cursor holds int, str or datetime values, not {kind!r}.")
        decoded.append(value)
    return decoded


def _encodable(value: str) -> bool:
    """Whether the database can take the text (JSON may carry lone surrogates, which UTF-8 cannot)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_limit(limit: int) -> int:
    """A page size of 1 to ``MAX_LIMIT``; the API validates limits at its edge, so another is a bug here."""
    if type(limit) is not int or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit is between 1 and {MAX_LIMIT}.")
    return limit


def keyset(
    query: Select[Any],
    first: ColumnElement[Any],
    second: ColumnElement[Any],
    cursor: str | None,
    kinds: tuple[type, type],
    limit: int,
    *,
    newest_first: bool = True,
) -> Select[Any]:
    """``query`` ordered by (``first``, ``second``), resumed after ``cursor``, ``limit + 1`` rows.

    Keyset pagination: the cursor holds the last item's two sort values, so a page costs the same
    however deep it is and a row written meanwhile never shifts the pages.
    """
    if cursor:
        after_first, after_second = decode_cursor(cursor, *kinds)
        if newest_first:
            query = query.where((first < after_first) | ((first == after_first) & (second < after_second)))
        else:
            query = query.where((first > after_first) | ((first == after_first) & (second > after_second)))
    order = (first.desc(), second.desc()) if newest_first else (first, second)
    return query.order_by(*order).limit(limit + 1)


def filtered_page(
    source: Source,
    projection: Projection,
    table_name: str,
    order: tuple[str, str],
    kinds: tuple[type, type],
    *,
    cursor: str | None,
    limit: int,
    newest_first: bool = True,
    **equal: Any,
) -> dict[str, Any]:
    """One page of a serving table's rows whose columns equal ``equal`` (a None value: any), in ``order``."""
    check_limit(limit)
    with reading(source) as conn:
        table = serving_tables(conn, projection)[table_name]
        query = table.select()
        for column, value in equal.items():
            if value is not None:
                query = query.where(table.c[column] == value)
        first, second = (table.c[name] for name in order)
        query = keyset(query, first, second, cursor, kinds, limit, newest_first=newest_first)
        rows = [dict(r) for r in conn.execute(query).mappings()]

    def cursor_of(item: dict[str, Any]) -> list[Any]:
        return [item[name].isoformat() if isinstance(item[name], datetime) else item[name] for name in order]

    return page(rows, limit, cursor_of)


def page(items: list[dict[str, Any]], limit: int, cursor_of: Any) -> dict[str, Any]:
    """``{"items", "next_cursor"}`` from ``limit + 1`` fetched items (the extra one proves a next page)."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next_cursor": encode_cursor(cursor_of(items[-1])) if more and items else None}
