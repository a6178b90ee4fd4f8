"""The letter outbox on both backends: the test's store, a read store on it, and a clock."""

from __future__ import annotations

from tests.integration.projections.conftest import engine  # noqa: F401  (the read store fixture)
