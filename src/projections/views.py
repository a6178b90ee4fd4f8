"""What query functions share: a snapshot to read in, the serving tables, and cursor pagination."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Table, select

from projections.base import STATE, Projection
from projections.store import read_transaction

Source = Engine | Connection
MAX_LIMIT = 500


class ViewNotReady(LookupError):
    """The read model has not been installed in this database yet (run the projections first)."""


class BadCursor(ValueError):
    """A pagination cursor that this read model did not hand out."""


@contextmanager
def reading(source: Source) -> Iterator[Connection]:
    """A connection to query in: the caller's own, or a fresh read transaction on the engine."""
    if isinstance(source, Connection):
        yield source
    else:
        with read_transaction(source) as conn:
            yield conn


def serving_tables(conn: Connection, projection: Projection) -> dict[str, Table]:
    """The tables of the generation that currently serves ``projection`` (blue/green, see rebuild)."""
    generation = conn.execute(
        select(STATE.c.generation).where(STATE.c.name == projection.name)
    ).scalar_one_or_none()
    if generation is None:
        raise ViewNotReady(f"The {projection.name} view is not installed; run `settlement projections run`.")
    return projection.sql_tables(generation, conn.dialect)


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, length: int) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError) as error:
        raise BadCursor("The cursor is not one this list handed out.") from error
    if not isinstance(values, list) or len(values) != length:
        raise BadCursor("The cursor is not one this list handed out.")
    return values


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit is between 1 and {MAX_LIMIT}.")
    return limit


def page(items: list[dict[str, Any]], limit: int, cursor_of: Any) -> dict[str, Any]:
    """``{"items", "next_cursor"}`` from ``limit + 1`` fetched items (the extra one proves a next page)."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next_cursor": encode_cursor(cursor_of(items[-1])) if more and items else None}
