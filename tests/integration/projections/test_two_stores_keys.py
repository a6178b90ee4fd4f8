"""R18: two stores in one process: each store's read models seal and open with that store's own keys,
never with those of the application opened last; without a key store nothing is sealed in the clear."""

from __future__ import annotations

from uuid import UUID

import pytest
from sqlalchemy import select

from projections.engine.paging import serving_tables
from projections.engine.projection import ProjectionError
from projections.engine.rows import MemoryRows
from projections.engine.runner import Dispatch
from projections.engine.store import read_transaction
from projections.person_folders import PROJECTION as FOLDERS
from projections.person_folders import person_folder
from settlement_domain.application import SettlementApp
from settlement_domain.persistence import store_environment
from settlement_domain.personal_keys import UNBOUND, VIEW_PREFIX, KeyStoreError, seal_view
from tests.given import IMDI, TODAY, registration
from tests.integration.projections.conftest import catch_up


def test_the_views_of_a_store_use_its_own_keys(app, engine, database_url, tmp_path):
    person = UUID(app.handle(IMDI, registration(name="Two Stores")).id)
    other = SettlementApp(store_environment(f"sqlite:///{tmp_path / 'other.db'}"), clock=lambda: TODAY)
    try:
        assert other.personal_keys is not None
        catch_up(app, engine)  # A's runner, while B is the latest opened application
        assert other.personal_keys.counts() == (0, 0)  # no key of A's persons made in B's table
        assert other.personal_keys.key_ids(str(person)) == []
    finally:
        other.close()
    folder = person_folder(engine, str(person))
    assert folder is not None
    assert folder["full_name"] == "Two Stores"


def test_an_in_memory_app_opened_last_never_makes_a_view_keep_clear_text(app, engine, database_url):
    person = UUID(app.handle(IMDI, registration(name="Kept Sealed")).id)
    memory = SettlementApp({"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=lambda: TODAY)
    try:
        catch_up(app, engine)
    finally:
        memory.close()
    with read_transaction(engine) as conn:
        folders = serving_tables(conn, FOLDERS)["folders"]
        stored = conn.execute(select(folders.c.full_name).where(folders.c.refugee_id == str(person))).scalar()
    assert isinstance(stored, str) and stored.startswith(VIEW_PREFIX)
    folder = person_folder(engine, str(person))
    assert folder is not None
    assert folder["full_name"] == "Kept Sealed"


def test_a_view_without_a_key_store_refuses_to_seal(app):
    with pytest.raises(KeyStoreError):
        seal_view(UNBOUND, "a-person", "A Name")
    rows = MemoryRows(FOLDERS)  # rows no fold was given keys for
    app.handle(IMDI, registration(name="No Keys Given"))
    event = next(iter(app.recorder.select_notifications(start=1, limit=1)))
    with pytest.raises(ProjectionError) as refused:
        Dispatch([(FOLDERS, rows)], keys=UNBOUND).fold([(1, app.mapper.to_domain_event(event))])
    assert isinstance(refused.value.__cause__, KeyStoreError)
    assert rows.data["folders"] == {}  # nothing kept, least of all in the clear
