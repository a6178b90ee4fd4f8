"""R18: the master key rotated (key file) while another process of the store keeps running: no key is
lost, and retiring the old key re-wraps what that process wrapped with it meanwhile."""

from __future__ import annotations

from uuid import UUID

import pytest

from api.cli.main import main
from settlement_domain.application import SettlementApp
from settlement_domain.persistence import store_environment
from settlement_domain.personal_keys import KeyStoreError, master_key_from_text, master_key_id, wrap
from tests.given import IMDI, TODAY, registration


def test_a_rotation_while_a_server_runs_loses_no_key(database_url, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SETTLEMENT_MASTER_KEY", raising=False)
    key_file = tmp_path / "master-key"
    monkeypatch.setenv("SETTLEMENT_MASTER_KEY_FILE", str(key_file))
    server = SettlementApp(store_environment(database_url), clock=lambda: TODAY)
    before = UUID(server.handle(IMDI, registration(name="Before Rotation")).id)
    old_key = key_file.read_text().strip()
    # the operator rotates (with the key file) while the server runs
    assert main(["keys", "rotate-master", "--database-url", database_url]) == 0
    assert "retire-previous" in capsys.readouterr().out
    assert key_file.read_text().strip() != old_key
    # the server goes on registering people: their keys are wrapped with the old master key
    after = UUID(server.handle(IMDI, registration(name="After Rotation")).id)
    server.close()
    restarted = SettlementApp(store_environment(database_url), clock=lambda: TODAY)
    try:
        assert restarted.refugee(before).personal["full_name"] == "Before Rotation"
        assert restarted.refugee(after).personal["full_name"] == "After Rotation"
        assert restarted.personal_keys is not None
        assert restarted.personal_keys.wrapped_by_others() == 1  # the server's key, under the old master
    finally:
        restarted.close()
    # the old key retired: what was wrapped with it is re-wrapped first
    assert main(["keys", "retire-previous", "--database-url", database_url]) == 0
    assert not (tmp_path / "master-key.previous").exists()
    retired = SettlementApp(store_environment(database_url), clock=lambda: TODAY)
    try:
        keys = retired.personal_keys
        assert keys is not None
        assert master_key_id(master_key_from_text(old_key)) not in keys.masters
        assert keys.wrapped_by_others() == 0
        assert retired.refugee(before).personal["full_name"] == "Before Rotation"
        assert retired.refugee(after).personal["full_name"] == "After Rotation"
    finally:
        retired.close()


def test_a_process_takes_up_a_key_rotated_by_another(app, database_url, tmp_path, monkeypatch):
    """A key wrapped by a master key the process does not know is not fatal for the other keys of the
    batch fetched with it (R18); the key asked for raises."""
    person = UUID(app.handle(IMDI, registration(name="Known Key")).id)
    stranger = UUID(app.handle(IMDI, registration(name="Stranger Key")).id)
    keys = app.personal_keys
    assert keys is not None
    unknown = master_key_from_text("a-master-key-no-process-of-this-store-has-ever-seen")
    other = SettlementApp(store_environment(database_url), clock=lambda: TODAY)
    try:
        assert other.personal_keys is not None
        other.personal_keys.masters[master_key_id(unknown)] = unknown
        # re-wrap only the stranger's key with the unknown master key
        with other.personal_keys.datastore.transaction(commit=True) as cursor:
            m = other.personal_keys.mark
            data_key = other.personal_keys.key_to_open(str(stranger))
            assert data_key is not None
            cursor.execute(
                f"UPDATE {other.personal_keys.table} SET master_id = {m}, wrapped = {m} WHERE key_id = {m}",
                (master_key_id(unknown), wrap(unknown, str(stranger), data_key), str(stranger)),
            )
    finally:
        other.close()
    keys.evict(str(person))
    keys.evict(str(stranger))
    keys.prefetch([str(person), str(stranger)])
    assert keys.key_to_open(str(person)) is not None
    keys.evict(str(stranger))
    with pytest.raises(KeyStoreError):
        keys.key_to_open(str(stranger))
