"""The domain tier: the write side in memory (no database), given events, when a command, then the
events it appended or the rule that refused it. The same tests run on SQLite and PostgreSQL from
``tests/integration/domain``, where ``app`` is the two-backend fixture of ``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from settlement_domain.application import SettlementApp
from tests.given.apps import in_memory_app
from tests.given.fixtures import given, given_places  # noqa: F401  (shared given-fixtures)


@pytest.fixture
def app() -> Iterator[SettlementApp]:
    """The write side in memory, its clock at TODAY."""
    application = in_memory_app()
    yield application
    application.close()
