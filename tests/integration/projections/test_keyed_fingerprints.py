"""R18 with idempotency keys: the fingerprint an idempotency record stores for a command with personal
data is an HMAC with a key of the store, never a plain hash of the name and birth date; records stored
with the plain fingerprint before still answer their retries."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import pytest

from settlement_domain.application import FINGERPRINT_KEY
from settlement_domain.errors import IdempotencyKeyReused
from settlement_domain.model import IdempotencyRecord
from tests.given import IMDI, registration


def test_a_registration_s_record_holds_a_keyed_fingerprint(app):
    keyed = replace(IMDI, idempotency_key="register-1")
    command = registration(name="Fingerprinted Person")
    first = app.handle(keyed, command)
    record = app.repository.get(IdempotencyRecord.create_id(keyed.idempotency_scope, "register-1"))
    plain = hashlib.sha256(
        json.dumps(
            [command.snake_name(), command.fingerprint_arguments()], sort_keys=True, default=str
        ).encode()
    ).hexdigest()
    assert record.fingerprint.startswith("hmac1:") and plain not in record.fingerprint
    assert app.personal_keys is not None
    assert record.fingerprint == command.keyed_fingerprint(app.personal_keys.store_key(FINGERPRINT_KEY))
    again = app.handle(keyed, command)
    assert again.replayed and again.id == first.id
    with pytest.raises(IdempotencyKeyReused):
        app.handle(keyed, registration(name="Someone Else Entirely"))


def test_a_record_with_the_plain_fingerprint_still_answers_its_retry(app):
    keyed = replace(IMDI, idempotency_key="register-before")
    command = registration(name="Registered Before")
    first = app.handle(IMDI, command)
    app.save(
        IdempotencyRecord(
            meta=IMDI.meta(),
            scope=keyed.idempotency_scope,
            key="register-before",
            fingerprint=command.fingerprint(),  # as stored before fingerprints were keyed
            result={"id": first.id, "version": first.version, **first.extra},
        )
    )
    again = app.handle(keyed, command)
    assert again.replayed and again.id == first.id
    with pytest.raises(IdempotencyKeyReused):
        app.handle(keyed, registration(name="Not The Same"))
