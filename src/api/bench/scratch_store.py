"""Throwaway stores for the benchmarks: a temporary SQLite file, or a PostgreSQL schema of its own."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

FALLBACK_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def default_postgres_url() -> str:
    """The server the benchmarks use on PostgreSQL: ``SETTLEMENT_BENCH_POSTGRES_URL``, read when asked."""
    return os.environ.get("SETTLEMENT_BENCH_POSTGRES_URL") or FALLBACK_POSTGRES_URL


@contextmanager
def fresh_store(backend: str, postgres_url: str | None = None) -> Iterator[str]:
    """The database URL of an empty store for one run, removed afterwards.

    ``postgres_url`` (for ``backend`` "postgres") defaults to :func:`default_postgres_url`.
    """
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="settlement-bench-") as directory:
            yield f"sqlite:///{Path(directory) / 'settlement.db'}"
        return
    server = postgres_url or default_postgres_url()
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{server}?schema={schema}"
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
