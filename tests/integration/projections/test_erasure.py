"""A key per person and erasure (R18), key rotation, and the expiry of read records (R14), on both backends.

The store itself is searched for a person's name and birth date: the SQLite file (and its WAL), or a
``pg_dump`` of the test's schema.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import eventsourcing.domain
import pytest

from api.cli.main import main
from api.letters.outbox import OUTBOX_ACTOR
from projections import audit_trail, person_search, places, reports
from projections.letters import letters_of
from projections.person_folders import person_folder
from settlement_domain import commands as c
from settlement_domain.application import SettlementApp
from settlement_domain.context import CommandContext
from settlement_domain.errors import RuleViolation
from settlement_domain.persistence import store_environment
from settlement_domain.read_retention import readable_from
from settlement_domain.values import Mapping
from tests.given import IMDI, OSLO, TODAY, registration
from tests.integration.projections.conftest import catch_up, snapshot

NAME, BORN = "Qwerlin Zantoroff", date(1977, 3, 14)


def store_bytes(database_url: str) -> bytes:
    """Everything the store holds on disk: the SQLite file and its WAL, or a dump of the schema."""
    parts = urlsplit(database_url)
    if parts.scheme == "sqlite":
        path = Path(parts.path[1:])
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    schema = parse_qs(parts.query)["schema"][0]
    dumped = subprocess.run(
        ["pg_dump", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
         "-U", parts.username or "postgres", "-n", schema, parts.path.lstrip("/")],
        capture_output=True, check=True,
    )  # fmt: skip
    return dumped.stdout


def holds(held: bytes, secret: str) -> bool:
    """Whether the store's bytes hold ``secret`` in the clear: as text, or as the hex a ``pg_dump``
    writes a ``bytea`` column in (the stored events)."""
    return secret.encode() in held or secret.encode().hex().encode() in held


def assert_absent(database_url: str) -> None:
    held = store_bytes(database_url)
    for secret in (NAME, "Zantoroff", BORN.isoformat(), "Hjertesykdom"):
        assert not holds(held, secret), secret


def a_settled_person(app: SettlementApp) -> UUID:
    """A person registered, mapped, with a resolved deviation, selected, decided and settled in Oslo."""
    app.handle(IMDI, c.RegisterMunicipality("0301", "Oslo", "Oslo"))
    app.handle(IMDI, c.RequestSettlement("0301", 2025, 10, 2))
    app.handle(OSLO, c.DecideQuota("0301", 2025, 8, 1, date(2025, 3, 1)))
    person = UUID(app.handle(IMDI, registration(name=NAME, birth_date=BORN, private=True)).id)
    app.handle(IMDI, c.RecordMapping(person, Mapping(health_needs="Hjertesykdom")))
    deviation = app.handle(IMDI, c.OpenDeviation(person, "address", "Zantoroff moved")).extra["deviation_id"]
    app.handle(IMDI, c.ResolveDeviation(person, UUID(deviation), "Zantoroff found"))
    listed = UUID(app.handle(IMDI, c.CreateDistributionList("0301", (person,), date(2025, 7, 1))).id)
    app.handle(OSLO, c.ApproveDistributionList(listed, (person,), ()))
    app.handle(IMDI, c.DecideSettlement(person, "0301", 2025, "Zantoroff's family lives here"))
    app.handle(OSLO, c.RegisterSettlementDate(person, TODAY))
    app.handle(OSLO, c.RecordFolderRead(person))
    app.handle(IMDI, c.RecordPersonalDataListed("GET /refugees", (person,)))
    return person


def deliver(app: SettlementApp, letter_ids: list[str]) -> None:
    """The letters recorded as delivered, as the outbox records them: dispatched (and opened, digital)."""
    ctx = CommandContext(OUTBOX_ACTOR, "test-outbox")
    at = datetime(2025, 6, 16, 9, tzinfo=UTC)
    for letter_id in map(UUID, letter_ids):
        letter = app.repository.get(letter_id)
        app.handle(ctx, c.RecordLetterDispatch(letter_id, letter.pending, "file", f"file-{letter_id}", at))
        if letter.pending == "digital":
            app.handle(ctx, c.RecordLetterOpened(letter_id, at, "channel"))


def counts(engine) -> dict:
    return {
        "places": places.places(engine, municipality="0301"),
        "national": reports.national_report(engine, 2025, suppress=False, viewer=None),
        "settled": len(reports.settled_persons(engine, "0301", 2025)),
    }


def test_erasure_deletes_the_key_keeps_the_counts_and_a_rebuild_gives_the_same(
    app, engine, database_url, capsys
):
    person = a_settled_person(app)
    catch_up(app, engine)
    folder = person_folder(engine, str(person))
    assert folder and folder["full_name"] == NAME and folder["birth_date"] == BORN
    assert folder["mapping"]["health_needs"] == "Hjertesykdom"
    assert [d["description"] for d in folder["deviations"]] == ["Zantoroff moved"]
    assert [p["refugee_id"] for p in person_search.search_persons(engine, name="zanto")["items"]] == [
        str(person)
    ]
    assert_absent(database_url)  # neither the log nor a view holds the name in the clear

    # Refused while the case is open (R18b): a second person selected but without a date.
    other = UUID(app.handle(IMDI, registration(name="Other Person", private=True)).id)
    listed = UUID(app.handle(IMDI, c.CreateDistributionList("0301", (other,), date(2025, 7, 1))).id)
    with pytest.raises(RuleViolation) as refused:
        app.handle(IMDI, c.ErasePersonalData(other, "GDPR art. 17", "asked"))
    assert refused.value.rule == "R18a"
    app.handle(OSLO, c.ApproveDistributionList(listed, (other,), ()))
    assert main(["erase", "--person", str(other), "--reason", "asked", "--database-url", database_url]) == 2
    assert "R18b" in capsys.readouterr().err
    catch_up(app, engine)
    deliver(app, [row["letter_id"] for row in letters_of(engine, person=str(person))])  # R18e
    catch_up(app, engine)
    before = counts(engine)

    assert main(["erase", "--person", str(person), "--reason", "asked", "--database-url", database_url]) == 0
    capsys.readouterr()
    with pytest.raises(RuleViolation) as again:
        app.handle(IMDI, c.ErasePersonalData(person, "GDPR art. 17", "asked"))
    assert again.value.rule == "R18d"
    catch_up(app, engine)

    folder = person_folder(engine, str(person))
    assert folder is not None and folder["erased"] is True
    assert folder["full_name"] == "slettet" and folder["birth_date"] is None and folder["mapping"] is None
    assert [d["description"] for d in folder["deviations"]] == [""]
    assert folder["status"] == "settled" and folder["settlement_date"] == TODAY
    assert person_search.search_persons(engine, name="zanto")["items"] == []
    assert person_search.search_persons(engine, birth_date=BORN)["items"] == []
    (settled,) = reports.settled_persons(engine, "0301", 2025)
    assert settled["full_name"] == "slettet" and settled["birth_date"] is None
    assert counts(engine) == before  # the counts stay
    assert app.refugee(person).personal == {"erased": True}
    assert_absent(database_url)

    live = snapshot(engine)
    assert main(["projections", "--database-url", database_url, "rebuild", "--all", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["equal"] is True
    assert snapshot(engine) == live  # a full rebuild gives the same views
    assert main(["audit", "verify", "--database-url", database_url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["equal"] is True


def test_rotating_the_master_key_keeps_every_event_readable(app, engine, database_url, capsys, monkeypatch):
    person = a_settled_person(app)
    catch_up(app, engine)
    new_key = "a-new-master-key-for-the-rotation-test-of-r18"
    monkeypatch.setenv("SETTLEMENT_NEW_MASTER_KEY", new_key)
    assert main(["keys", "rotate-master", "--database-url", database_url]) == 0
    assert "data keys re-wrapped" in capsys.readouterr().out
    assert main(["keys", "status", "--database-url", database_url]) == 0
    # The person's key and the key of this month's read records (R14).
    assert "2 data keys held, 0 erased or expired" in capsys.readouterr().out
    monkeypatch.delenv("SETTLEMENT_NEW_MASTER_KEY")
    monkeypatch.setenv("SETTLEMENT_MASTER_KEY", new_key)
    rotated = SettlementApp(store_environment(database_url), clock=lambda: TODAY)
    try:
        for notification in rotated.recorder.select_notifications(start=1, limit=10_000):
            rotated.mapper.to_domain_event(notification)  # every event opens
        assert rotated.refugee(person).personal["full_name"] == NAME
        assert person_folder(engine, str(person))["full_name"] == NAME  # the views' values too
    finally:
        rotated.close()
    # The old master key opens nothing any more.
    monkeypatch.setenv("SETTLEMENT_MASTER_KEY", "a-test-master-key-that-wraps-every-person-key")
    stale = SettlementApp(store_environment(database_url), clock=lambda: TODAY)
    try:
        with pytest.raises(Exception, match="master key"):
            stale.refugee(person)
    finally:
        stale.close()


def test_expired_read_records_no_longer_name_their_persons_and_new_ones_do(
    app, engine, database_url, capsys, monkeypatch
):
    person = a_settled_person(app)
    old = datetime(2019, 1, 15, 12, tzinfo=UTC)
    monkeypatch.setattr(eventsourcing.domain, "datetime_now_with_tzinfo", lambda: old)
    app.handle(IMDI, c.RecordFolderRead(person))
    app.handle(IMDI, c.RecordPersonalDataListed("GET /refugees", (person,)))
    monkeypatch.undo()
    monkeypatch.setenv("SETTLEMENT_MASTER_KEY", "a-test-master-key-that-wraps-every-person-key")
    app.handle(IMDI, c.RecordFolderRead(person))
    catch_up(app, engine)
    before = [e for e in _reads(app) if e.timestamp.year == 2019]
    assert [getattr(e, "refugee_id", None) or e.refugee_ids for e in before] == [person, [person]]

    assert readable_from(app.personal_keys, TODAY, 5) == date(2019, 1, 1)  # the oldest month key held
    # Never the current month's key (nor a later one): a --today far ahead is refused (R14).
    future = str(datetime.now(UTC).year + 6) + "-06-16"
    assert main(["keys", "expire", "--database-url", database_url, "--today", future]) == 2
    assert "R14" in capsys.readouterr().err
    assert all(alive for _, alive in app.personal_keys.key_ids("reads:"))
    assert main(["keys", "expire", "--database-url", database_url, "--today", "2025-06-16"]) == 0
    assert "month keys of read records deleted" in capsys.readouterr().out
    later = app.personal_keys.key_ids("reads:")
    assert [k for k, alive in later if not alive] == ["reads:2019-01"]
    now = datetime.now(UTC).date()
    fresh_keys = SettlementApp(store_environment(database_url), clock=lambda: TODAY)
    try:  # another process (no cached answer): the reads of now are the oldest that name persons
        assert readable_from(fresh_keys.personal_keys, TODAY, 5) == now.replace(day=1)
    finally:
        fresh_keys.close()
    fresh = SettlementApp(store_environment(database_url), clock=lambda: TODAY)
    try:
        reads = _reads(fresh)
        expired = [e for e in reads if e.timestamp.year == 2019]
        kept = [e for e in reads if e.timestamp.year > 2019]
        assert [getattr(e, "refugee_id", "none") for e in expired if hasattr(e, "refugee_id")] == [None]
        assert [e.refugee_ids for e in expired if hasattr(e, "refugee_ids")] == [[]]
        assert kept and all(
            getattr(e, "refugee_id", None) == person or e.refugee_ids == [person] for e in kept
        )
    finally:
        fresh.close()
    # The audit trail was rebuilt by the expiry: the old reads no longer name the person there either.
    catch_up(app, engine)
    found = audit_trail.audit_events(engine, person=str(person), limit=500)["items"]
    reads = [e for e in found if e["type"] in ("PersonFolderViewed", "PersonalDataListed")]
    assert reads and all(not str(e["recorded_at"]).startswith("2019") for e in reads)
    assert main(["projections", "--database-url", database_url, "rebuild", "audit_trail", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["equal"] is True


def _reads(app: SettlementApp) -> list:
    events = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(start=1, limit=10_000)]
    return [e for e in events if type(e).__name__ in ("PersonFolderViewed", "PersonalDataListed")]


def test_a_failed_save_leaves_no_key_and_keeps_the_stored_one(app, database_url):
    """Keys are written in the events' transaction: a save that fails stores neither, and the key
    already stored for the person keeps opening the person's events."""
    from eventsourcing.persistence import IntegrityError

    from settlement_domain.model import Refugee
    from settlement_domain.values import PostalAddress, Residence, ResidenceKind

    person = UUID(app.handle(IMDI, registration(name=NAME, birth_date=BORN)).id)
    assert app.personal_keys is not None
    held = app.personal_keys.counts()
    twin = Refugee.register_historical(
        person, {}, "Someone Else", BORN, None, False, Residence(ResidenceKind.PRIVATE),
        PostalAddress("Storgata 1", "0155", "Oslo"), "asylum", TODAY,
    )  # fmt: skip
    with pytest.raises(IntegrityError):
        app.save(twin)
    assert app.personal_keys.counts() == held
    fresh = SettlementApp(store_environment(database_url), clock=lambda: TODAY)
    try:
        assert fresh.refugee(person).personal["full_name"] == NAME
    finally:
        fresh.close()
    assert app.refugee(person).personal["full_name"] == NAME


def test_the_cli_erasure_removes_the_letter_files_naming_the_person(
    app, engine, database_url, tmp_path, monkeypatch, capsys
):
    """R18: ``settlement erase`` removes the outbox folder's PDF and the print queue's PDF of every
    letter naming the person (keeping the shipment id); run again it only looks for files again."""
    monkeypatch.setenv("SETTLEMENT_LETTERS_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("SETTLEMENT_LETTERS_PRINT_DIR", str(tmp_path / "print"))
    person = a_settled_person(app)
    stranger = UUID(app.handle(IMDI, registration(name="Not Erased", private=True)).id)
    catch_up(app, engine)
    named = [row["letter_id"] for row in letters_of(engine, person=str(person))]
    assert named  # the decision's letters name the person
    unrelated = tmp_path / "print" / f"{stranger}.pdf"
    for letter_id in named:
        folder = tmp_path / "outbox" / letter_id
        folder.mkdir(parents=True)
        (folder / "brev.pdf").write_bytes(b"%PDF " + NAME.encode())
        meta = {"id": f"file-{letter_id}", "sendt": "2025-06-16T09:00:00+00:00", "tittel": "Vedtak",
                "eksternReferanse": letter_id, "mottaker": {"postAdresse": {"navn": NAME}}}  # fmt: skip
        (folder / "forsendelse.json").write_text(json.dumps(meta), encoding="utf-8")
        (tmp_path / "print").mkdir(exist_ok=True)
        (tmp_path / "print" / f"{letter_id}.pdf").write_bytes(b"%PDF " + NAME.encode())
    unrelated.write_bytes(b"%PDF another person's letter")

    # R18e: the letters are not recorded as delivered yet: refused, one line, exit 2, no name.
    assert main(["erase", "--person", str(person), "--reason", "asked", "--database-url", database_url]) == 2
    err = capsys.readouterr().err
    assert "R18e" in err and NAME not in err and len(err.strip().splitlines()) == 1
    assert all((tmp_path / "print" / f"{letter_id}.pdf").exists() for letter_id in named)
    deliver(app, named)
    catch_up(app, engine)

    assert main(["erase", "--person", str(person), "--reason", "asked", "--database-url", database_url]) == 0
    assert f"{3 * len(named)} files of {len(named)} letters" in capsys.readouterr().out
    for letter_id in named:
        folder = tmp_path / "outbox" / letter_id
        assert [p.name for p in folder.iterdir()] == ["forsendelse.json"]
        kept = json.loads((folder / "forsendelse.json").read_text(encoding="utf-8"))
        assert kept == {"id": f"file-{letter_id}", "sendt": "2025-06-16T09:00:00+00:00",
                        "eksternReferanse": letter_id, "slettet": True}  # fmt: skip
        assert not (tmp_path / "print" / f"{letter_id}.pdf").exists()
    assert unrelated.is_file()  # another person's letter stays
    assert main(["erase", "--person", str(person), "--reason", "asked", "--database-url", database_url]) == 0
    again = capsys.readouterr().out
    assert "was erased before." in again and f"0 files of {len(named)} letters" in again


def test_a_save_whose_encoding_fails_leaves_no_key_for_the_next_save(app, monkeypatch):
    """R18: the key made while a registration was encoded is forgotten when its encoding fails; the
    next save on the thread stores its own key only."""
    from eventsourcing.persistence import Mapper

    assert app.personal_keys is not None
    held, erased = app.personal_keys.counts()
    encode = Mapper.to_stored_event

    def fail_once(self, event):
        monkeypatch.setattr(Mapper, "to_stored_event", encode)
        raise ValueError("encoding failed")

    monkeypatch.setattr(Mapper, "to_stored_event", fail_once)
    with pytest.raises(ValueError, match="encoding failed"):
        app.handle(IMDI, registration(name="Never Stored"))
    assert app.personal_keys._pending() == {} and app.personal_keys._pending_erasures() == set()
    stored = UUID(app.handle(IMDI, registration(name="Stored Next")).id)
    assert app.personal_keys.counts() == (held + 1, erased)
    assert app.personal_keys.key_ids(str(stored)) == [(str(stored), True)]


# Free texts that are not one person's field (R18): a family's text, a support case's texts, the
# reasons of a withdrawn list and a withdrawn capacity report. Distinctive, so that a grep finds them.
FAMILY = "Familien Vrexholm-Quisty"
CASE_SUBJECT, CASE_TEXT, ANSWER = (
    "Sak om Plonkwerth",
    "Brynjulf Plonkwerth trenger tolk",
    "Svar til Glimdrassen",
)
LIST_REASON, CAPACITY_REASON = "Trukket for Zibbleford", "Kapasitet gikk til Grumblethorn"
FREE_TEXTS = ("Vrexholm", "Plonkwerth", "Glimdrassen", "Zibbleford", "Grumblethorn")


def assert_texts_absent(database_url: str) -> None:
    held = store_bytes(database_url)
    for secret in FREE_TEXTS:
        assert not holds(held, secret), secret


def test_family_support_case_and_withdrawal_texts_are_sealed_opened_and_erased(
    app, engine, database_url, capsys
):
    from projections.distribution_lists import distribution_list
    from projections.minor_capacity import minor_capacity_reports
    from projections.support_cases import support_case
    from settlement_domain.model import FAMILY_IDS_KEY, Family

    app.handle(IMDI, c.RegisterMunicipality("0301", "Oslo", "Oslo"))
    mother = UUID(app.handle(IMDI, registration(name="Mother Sealed", family_id=FAMILY, private=True)).id)
    child = UUID(
        app.handle(IMDI, registration(name="Child Sealed", family_id=f" {FAMILY} ", private=True)).id
    )
    ref = app.refugee(mother).family_ref
    assert ref is not None and app.refugee(child).family_ref == ref  # found again from its text
    assert app.refugee(child).family_id == FAMILY and app.repository.get(ref).family_id == FAMILY
    listed = UUID(app.handle(IMDI, c.CreateDistributionList("0301", (mother, child), date(2025, 7, 1))).id)
    assert app.distribution_list(listed).families == {str(ref): [mother, child]}
    app.handle(IMDI, c.WithdrawDistributionList(listed, LIST_REASON))
    case = UUID(app.handle(OSLO, c.FileSupportCase(CASE_SUBJECT, CASE_TEXT)).id)
    app.handle(IMDI, c.AnswerSupportCase(case, ANSWER))
    capacity = UUID(app.handle(OSLO, c.ReportMinorCapacity("0301", 2, "2025-W40", 15, 17, True, "")).id)
    app.handle(OSLO, c.WithdrawMinorCapacity(capacity, CAPACITY_REASON))
    catch_up(app, engine)

    # Stored sealed, each with its own key (made with its event), read back opened.
    keys = app.personal_keys
    assert keys is not None
    for key_id in (f"family:{ref}", f"case:{case}", f"list:{listed}", f"capacity:{capacity}", FAMILY_IDS_KEY):
        assert keys.key_ids(key_id) == [(key_id, True)]
    types = [n.topic.rsplit(".", 1)[-1] for n in app.recorder.select_notifications(start=1, limit=1000)]
    assert "FamilyKeyCreated" not in types  # a new store keeps its family key in the key table
    events = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(start=1, limit=1000)]
    (withdrawn,) = [e for e in events if type(e).__name__ == "DistributionListWithdrawn"]
    assert withdrawn.reason == LIST_REASON
    assert person_folder(engine, str(mother))["family_id"] == FAMILY
    on_list = distribution_list(engine, str(listed), today=TODAY, summary_only=False)
    assert {p["family_id"] for p in on_list["refugees"]} == {FAMILY}
    assert {p["family_ref"] for p in on_list["refugees"]} == {str(ref)}
    filed = support_case(engine, str(case))
    assert (filed["subject"], filed["text"], [a["text"] for a in filed["answers"]]) == (
        CASE_SUBJECT, CASE_TEXT, [ANSWER],
    )  # fmt: skip
    (report,) = minor_capacity_reports(engine, "0301")["items"]
    assert report["withdrawal_reason"] == CAPACITY_REASON
    assert_texts_absent(database_url)  # neither the log nor a view holds them in the clear

    # Erasing one member deletes the family's key in the same transaction: its text reads as erased
    # for every member, while the family (its id, its members) stays whole (R3).
    assert main(["erase", "--person", str(mother), "--reason", "asked", "--database-url", database_url]) == 0
    assert (
        main(["erase", "--support-case", str(case), "--reason", "asked", "--database-url", database_url]) == 0
    )
    assert main(["erase", "--support-case", "nonsense", "--reason", "x", "--database-url", database_url]) == 2
    assert main(["erase", "--reason", "x", "--database-url", database_url]) == 2
    capsys.readouterr()
    with pytest.raises(RuleViolation) as again:
        app.handle(IMDI, c.EraseSupportCaseTexts(case, "GDPR art. 17", "asked"))
    assert again.value.rule == "R18d"
    with pytest.raises(RuleViolation) as answered:
        app.handle(IMDI, c.AnswerSupportCase(case, "Another answer"))
    assert answered.value.rule == "R18"
    assert keys.key_ids(f"family:{ref}") == [(f"family:{ref}", False)]
    assert keys.key_ids(f"case:{case}") == [(f"case:{case}", False)]
    catch_up(app, engine)
    assert person_folder(engine, str(mother))["family_id"] == "slettet"
    assert person_folder(engine, str(child))["family_id"] == "slettet"
    assert person_folder(engine, str(child))["full_name"] == "Child Sealed"  # the child is not erased
    fresh = SettlementApp(store_environment(database_url), clock=lambda: TODAY)
    try:
        assert fresh.refugee(mother).family_id is None and fresh.refugee(mother).family_ref == ref
        assert fresh.refugee(child).family_id == FAMILY  # the child's own registration, its own key
        family = fresh.repository.get(ref)
        assert isinstance(family, Family) and family.members == [mother, child] and family.label_erased
        with pytest.raises(RuleViolation) as split:  # R3: the family is still proposed whole
            fresh.handle(IMDI, c.CreateDistributionList("0301", (child,), date(2025, 7, 1)))
        assert split.value.rule == "R3" and FAMILY not in str(split.value.params)
    finally:
        fresh.close()
    erased_case = support_case(engine, str(case))
    assert (erased_case["subject"], erased_case["text"], [a["text"] for a in erased_case["answers"]]) == (
        "slettet", "", [""],
    )  # fmt: skip
    assert_texts_absent(database_url)

    live = snapshot(engine)
    assert main(["projections", "--database-url", database_url, "rebuild", "--all", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["equal"] is True
    assert snapshot(engine) == live  # a full rebuild gives the same views
    assert main(["audit", "verify", "--database-url", database_url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["equal"] is True
