"""Free texts stored before they were sealed (R18) still read and fold: a family's text in the clear
(in a version-1 registration without ``family_ref`` too), support case texts and withdrawal reasons in
the clear; later events seal beside them, an erasure still empties what it may, and a rebuild of every
view equals the live views. Both backends. And family ids: a store whose family key is in its log
(``FamilyKeyCreated``) keeps deriving with it; a family formed before any key is found by its text."""

from __future__ import annotations

import json
from datetime import date
from uuid import UUID, uuid4

from eventsourcing.persistence import StoredEvent

from api.cli.main import main
from projections.minor_capacity import minor_capacity_reports
from projections.person_folders import person_folder
from projections.support_cases import support_case
from settlement_domain import commands as c
from settlement_domain.model import FAMILY_IDS_KEY, Family, FamilyKey
from tests.given import IMDI, OSLO, registration
from tests.integration.projections.conftest import catch_up, snapshot

FAMILY = "Familien Old-Clear"


def as_version_1(app, refugee_id: UUID, family_id: str) -> UUID:
    """A copy of the person's registration as version 1 wrote it (no ``family_ref``, the family's text
    beside the personal part), under a new id."""
    (stored,) = list(app.recorder.select_events(refugee_id, limit=1))
    state = app.mapper.transcoder.decode(stored.state)
    del state["family_ref"], state["class_version"]
    state["family_id"] = family_id
    copy = StoredEvent(
        originator_id=uuid4(),
        originator_version=1,
        topic=stored.topic,
        state=app.mapper.transcoder.encode(state),
    )
    app.recorder.insert_events([copy])
    return copy.originator_id


def test_texts_stored_in_the_clear_still_read_fold_and_rebuild(app, engine, database_url, capsys):
    keys = app.personal_keys
    assert keys is not None
    app.handle(IMDI, c.RegisterMunicipality("0301", "Oslo", "Oslo"))
    app.mapper.keys = None  # an older version: these texts not sealed
    try:
        someone = UUID(app.handle(IMDI, registration(name="Someone Clear", private=True)).id)
        old = as_version_1(app, someone, FAMILY)
        family = Family.form({}, FAMILY, Family.create_id(FAMILY))  # formed before any family key
        family.add_member({}, old)
        app.save(family)
        listed = UUID(app.handle(IMDI, c.CreateDistributionList("0301", (someone,), date(2025, 7, 1))).id)
        app.handle(IMDI, c.WithdrawDistributionList(listed, "clear reason"))
        case = UUID(app.handle(OSLO, c.FileSupportCase("Clear subject", "Clear text")).id)
        capacity = UUID(app.handle(OSLO, c.ReportMinorCapacity("0301", 2, "2025-W40", 15, 17, True, "")).id)
        app.handle(OSLO, c.WithdrawMinorCapacity(capacity, "clear capacity reason"))
    finally:
        app.mapper.keys = keys
    for person in (someone, old):  # the persons' keys, as a store with per-person keys holds them
        keys.key_for_view(str(person))
    assert app.refugee(old).family_ref is None and app.refugee(old).family_id == FAMILY
    # Written from now on: sealed, beside the clear ones.
    app.handle(IMDI, c.AnswerSupportCase(case, "Sealed answer"))
    child = UUID(app.handle(IMDI, registration(name="Child Sealed", family_id=FAMILY, private=True)).id)
    assert app.refugee(child).family_ref == Family.create_id(FAMILY)  # found by its text
    assert app.repository.get(Family.create_id(FAMILY)).members == [old, child]
    catch_up(app, engine)

    assert person_folder(engine, str(old))["family_id"] == FAMILY
    assert person_folder(engine, str(child))["family_id"] == FAMILY
    found = support_case(engine, str(case))
    assert (found["subject"], found["text"], [a["text"] for a in found["answers"]]) == (
        "Clear subject", "Clear text", ["Sealed answer"],
    )  # fmt: skip
    assert minor_capacity_reports(engine, "0301")["items"][0]["withdrawal_reason"] == "clear capacity reason"
    events = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(start=1, limit=1000)]
    assert [e.reason for e in events if type(e).__name__ == "DistributionListWithdrawn"] == ["clear reason"]
    assert [e.family_id for e in events if type(e).__name__ == "FamilyFormed"] == [FAMILY]

    # Erasing the child deletes the family's key: the label reads as erased for every member.
    assert main(["erase", "--person", str(child), "--reason", "asked", "--database-url", database_url]) == 0
    assert (
        main(["erase", "--support-case", str(case), "--reason", "asked", "--database-url", database_url]) == 0
    )
    capsys.readouterr()
    catch_up(app, engine)
    assert person_folder(engine, str(child))["family_id"] == "slettet"
    assert person_folder(engine, str(old))["family_id"] == "slettet"
    erased = support_case(engine, str(case))
    # The clear texts stay in the log (it is append-only) but the views no longer show them.
    assert (erased["subject"], erased["text"], [a["text"] for a in erased["answers"]]) == (
        "slettet",
        "",
        [""],
    )

    live = snapshot(engine)
    assert main(["projections", "--database-url", database_url, "rebuild", "--all", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["equal"] is True
    assert snapshot(engine) == live
    assert main(["audit", "verify", "--database-url", database_url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["equal"] is True


def test_a_store_with_its_family_key_in_the_log_keeps_deriving_with_it(app):
    keys = app.personal_keys
    assert keys is not None
    logged = FamilyKey.make({})
    app.save(logged)
    first = UUID(app.handle(IMDI, registration(name="First", family_id="fam-logged")).id)
    second = UUID(app.handle(IMDI, registration(name="Second", family_id="fam-logged")).id)
    assert app.refugee(first).family_ref == app.refugee(second).family_ref == logged.family_id("fam-logged")
    assert keys.key_ids(FAMILY_IDS_KEY) == []  # never made: the log's key is used


def test_a_family_formed_before_any_key_is_found_by_its_text(app):
    keys = app.personal_keys
    assert keys is not None
    before = Family.form({}, "fam-natural", Family.create_id("fam-natural"))
    app.save(before)
    joined = UUID(app.handle(IMDI, registration(name="Joined", family_id="fam-natural")).id)
    assert app.refugee(joined).family_ref == Family.create_id("fam-natural")
    assert app.repository.get(Family.create_id("fam-natural")).members == [joined]
    # A new family's id comes from the key table's key, and is not the text's natural id.
    fresh = UUID(app.handle(IMDI, registration(name="Fresh", family_id="fam-new")).id)
    assert app.refugee(fresh).family_ref not in (None, Family.create_id("fam-new"))
    assert keys.key_ids(FAMILY_IDS_KEY) == [(FAMILY_IDS_KEY, True)]
