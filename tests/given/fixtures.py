"""Given-fixtures shared by the domain rule suite on every store (in memory, SQLite, PostgreSQL).

A tier's conftest imports them; ``app`` comes from the tier (in memory in ``tests/unit``, the two
database backends in ``tests/integration``).
"""

from __future__ import annotations

import pytest

from settlement_domain.application import SettlementApp
from tests.given.builders import municipalities, quota


@pytest.fixture
def given(app: SettlementApp) -> SettlementApp:
    """Given Oslo (0301) and Bergen (4601) are registered, nothing else."""
    municipalities(app)
    return app


@pytest.fixture
def given_places(given: SettlementApp) -> SettlementApp:
    """Given also that Oslo and Bergen each decided 10 places (2 for unaccompanied minors) for 2025."""
    quota(given, "0301")
    quota(given, "4601")
    return given
