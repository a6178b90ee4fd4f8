"""Review scratch: views of store A while an application of store B was opened later."""

from __future__ import annotations

from uuid import UUID

import pytest

from projections.person_folders import person_folder
from settlement_domain.application import SettlementApp
from settlement_domain.persistence import store_environment
from tests.given import IMDI, TODAY, registration
from tests.integration.projections.conftest import catch_up


def test_views_of_a_store_use_the_keys_of_the_latest_opened_app(app, engine, database_url, tmp_path):
    if not database_url.startswith("sqlite"):
        pytest.skip("sqlite is enough")
    person = UUID(app.handle(IMDI, registration(name="Two Stores")).id)
    other = SettlementApp(store_environment(f"sqlite:///{tmp_path / 'other.db'}"), clock=lambda: TODAY)
    try:
        catch_up(app, engine)  # A's runner, while B is the latest opened application
        print("keys in B:", other.personal_keys.counts())
    finally:
        other.close()
    folder = person_folder(engine, str(person))
    assert folder["full_name"] == "Two Stores"
