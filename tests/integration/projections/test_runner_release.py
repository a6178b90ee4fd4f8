"""A runner whose database session died lets go quietly: the server dropped its locks with the session."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from projections.catalog import PROJECTIONS
from projections.engine.runner import Runner
from projections.engine.store import open_read_store


def test_release_after_the_lock_session_died(app, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("advisory locks are PostgreSQL's")
    engine = open_read_store(database_url)
    try:
        first = Runner(app, engine, PROJECTIONS.values())
        assert first.owned()
        pid = first._lock_conn.execute(text("select pg_backend_pid()")).scalar_one()
        with engine.connect() as admin:
            admin.execute(text("select pg_terminate_backend(:pid)"), {"pid": pid})
        first.release()  # must not raise
        second = Runner(app, engine, PROJECTIONS.values())
        assert second.owned(), "the locks of the dead session were not free for another worker"
        second.release()
    finally:
        engine.dispose()
