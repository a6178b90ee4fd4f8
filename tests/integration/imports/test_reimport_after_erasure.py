"""R15 with R18: a person-level history imported again after one of its persons was erased records
nothing new for that person (their registration and mapping compare on what is left) and no conflict."""

from __future__ import annotations

from api.imports.backfill import import_file
from settlement_domain import commands as c
from settlement_domain.handlers.history import person_id
from tests.given import IMDI
from tests.integration.imports.test_person_history import FILE, case, lines


def test_the_same_file_after_an_erasure_conflicts_with_nothing(app):
    content = lines(*case())
    first = import_file(app, content, FILE)
    assert first.imported and first.recorded == 5
    erased = person_id("S-1")
    app.handle(IMDI, c.ErasePersonalData(erased, "GDPR art. 17", "asked"))
    again = import_file(app, lines(*case(), *case("S-2")), "overlap.jsonl")
    assert again.imported and again.recorded == 5 and not again.conflicts and not again.bad_rows
    assert again.unchanged == 5  # S-1's lines, the erased person's registration and mapping among them
    refugee = app.refugee(erased)
    assert refugee.erased and refugee.personal == {"erased": True}
