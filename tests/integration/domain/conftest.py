"""The domain rule suite on the database backends: ``app`` here is the two-backend fixture of
``tests/conftest.py`` (SQLite and PostgreSQL), never the in-memory one of ``tests/unit/domain``."""

from __future__ import annotations

from tests.given.fixtures import given, given_places  # noqa: F401  (shared given-fixtures)
