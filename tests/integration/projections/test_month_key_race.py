"""R14/R18: two processes recording the first read of a new month at the same moment both succeed
(the month's key is made once, by whichever comes first); so do two making a missing person key."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import eventsourcing.domain

from settlement_domain import commands as c
from settlement_domain.application import SettlementApp
from settlement_domain.persistence import store_environment
from tests.given import IMDI, TODAY, registration


def test_first_reads_of_a_month_in_two_processes_both_succeed(app, database_url, monkeypatch):
    person = UUID(app.handle(IMDI, registration(name="Month Race")).id)
    other = SettlementApp(store_environment(database_url), clock=lambda: TODAY)
    try:
        assert app.personal_keys is not None and other.personal_keys is not None
        month = datetime(2031, 1, 1, 0, 0, 1, tzinfo=UTC)
        monkeypatch.setattr(eventsourcing.domain, "datetime_now_with_tzinfo", lambda: month)
        # what the other process's mapper does while encoding its read record, before this one commits:
        early = other.personal_keys.key_to_seal("reads:2031-01")
        assert early is not None
        app.handle(IMDI, c.RecordFolderRead(person))  # this process commits its read record
        other.handle(IMDI, c.RecordFolderRead(person))  # a GET of the folder in the other process
        assert app.personal_keys.key_ids("reads:2031-01") == [("reads:2031-01", True)]
        assert app.personal_keys.key_to_open("reads:2031-01") == early  # one key for the month
        # both read records open with it
        reads = [
            app.mapper.to_domain_event(n)
            for n in app.recorder.select_notifications(start=1, limit=10_000)
            if n.topic.endswith("PersonFolderViewed")
        ]
        assert len(reads) == 2 and all(r.refugee_id == person for r in reads)
    finally:
        other.close()


def test_a_missing_person_key_made_by_two_processes_is_one_key(app, database_url):
    other = SettlementApp(store_environment(database_url), clock=lambda: TODAY)
    try:
        assert app.personal_keys is not None and other.personal_keys is not None
        first = other.personal_keys.key_to_seal("a-person-of-an-older-store")
        second = app.personal_keys.key_to_seal("a-person-of-an-older-store")
        assert first is not None and first == second
    finally:
        other.close()
