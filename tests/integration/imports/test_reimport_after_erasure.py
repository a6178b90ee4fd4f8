"""Review scratch: R15 idempotence of a person-level history after an erasure (R18)."""

from __future__ import annotations

import pytest

from api.imports.backfill import import_file
from settlement_domain import commands as c
from settlement_domain.handlers.history import person_id
from tests.given import IMDI
from tests.integration.imports.test_person_history import FILE, case, lines


def test_the_same_file_after_an_erasure(app, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("sqlite is enough")
    content = lines(*case())
    first = import_file(app, content, FILE)
    assert first.imported and first.recorded == 5
    app.handle(IMDI, c.ErasePersonalData(person_id("S-1"), "GDPR art. 17", "asked"))
    again = import_file(app, lines(*case(), *case("S-2")), "overlap.jsonl")
    print(
        "imported",
        again.imported,
        "recorded",
        again.recorded,
        "unchanged",
        again.unchanged,
        "conflicts",
        again.conflicts,
        "bad",
        again.bad_rows,
    )
    assert again.imported and again.recorded == 5 and not again.conflicts and not again.bad_rows
