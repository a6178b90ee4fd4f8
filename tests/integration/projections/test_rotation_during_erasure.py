"""R18: an erasure committed while a master-key rotation runs stays an erasure (the rotation re-wraps
only rows still holding the key it read)."""

from __future__ import annotations

from uuid import UUID

from settlement_domain import commands as c
from settlement_domain.application import SettlementApp
from settlement_domain.persistence import store_environment
from settlement_domain.personal_keys import master_key_from_text
from tests.given import IMDI, TODAY, registration


def test_an_erasure_during_a_rotation_is_not_undone(app, database_url):
    person = UUID(app.handle(IMDI, registration(name="Rotated Erased", private=True)).id)
    rotating = SettlementApp(store_environment(database_url), clock=lambda: TODAY)
    keys = rotating.personal_keys
    original = keys._tuples
    state = {"done": False}

    def after_select(rows):
        out = original(rows)
        if not state["done"]:
            state["done"] = True
            app.handle(IMDI, c.ErasePersonalData(person, "GDPR art. 17", "asked"))  # another process
        return out

    keys._tuples = after_select
    try:
        try:
            keys.rotate_master(master_key_from_text("a-new-master-key-for-the-review-of-r18-keys"))
        except Exception as error:  # SQLite may refuse the stale write: that is fine
            print("rotation refused:", type(error).__name__, error)
        keys._tuples = original
        assert keys.key_ids(str(person)) == [(str(person), False)], "the erased key came back"
    finally:
        rotating.close()
