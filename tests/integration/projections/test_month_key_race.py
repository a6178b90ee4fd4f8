"""Review scratch: two processes record the first read of a month at the same moment."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import eventsourcing.domain

from settlement_domain import commands as c
from settlement_domain.application import SettlementApp
from settlement_domain.persistence import store_environment
from tests.given import IMDI, TODAY, registration


def test_first_reads_of_a_month_race(app, database_url, monkeypatch):
    person = UUID(app.handle(IMDI, registration(name="Month Race")).id)
    other = SettlementApp(store_environment(database_url), clock=lambda: TODAY)
    try:
        month = datetime(2031, 1, 1, 0, 0, 1, tzinfo=UTC)
        monkeypatch.setattr(eventsourcing.domain, "datetime_now_with_tzinfo", lambda: month)
        # what the other process's mapper does while encoding its read record, before this one commits:
        assert other.personal_keys.key_to_seal("reads:2031-01") is not None
        app.handle(IMDI, c.RecordFolderRead(person))  # this process commits its month key first
        other.handle(IMDI, c.RecordFolderRead(person))  # a GET of the folder in the other process
    finally:
        other.close()
