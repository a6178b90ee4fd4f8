"""``settlement store move``: an older store, whose early events hold personal parts in the clear, moved
into a new, empty store (SQLite to SQLite, SQLite to PostgreSQL in a schema of its own): no name in the
clear in the target, an erased person's clear parts dropped, every view equal to the source's, the
chain intact (R18, R20)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from uuid import UUID

import eventsourcing.domain
import pytest
from sqlalchemy import text

from api.cli.main import main
from projections.engine.store import open_read_store
from settlement_domain import commands as c
from settlement_domain.application import SettlementApp
from settlement_domain.persistence import store_environment
from settlement_domain.values import Mapping
from tests.given import IMDI, OSLO, TODAY, registration
from tests.integration.projections.conftest import catch_up, snapshot
from tests.integration.projections.test_erasure import store_bytes

OLD_NAME, OLD_BORN = "Qwerlin Zantoroff", date(1977, 3, 14)
ERASED_NAME = "Brynjulf Xyloskog"
NEW_NAME = "Yrsaline Vakkerud"
SECRETS = (OLD_NAME, "Zantoroff", OLD_BORN.isoformat(), "Hjertesykdom", ERASED_NAME, "Xyloskog", NEW_NAME)


def an_older_store(url: str, monkeypatch: pytest.MonkeyPatch) -> SettlementApp:
    """A store whose first events were written before per-person keys (the mapper sealed nothing then),
    with later events sealed; one person of the early events erased since; views built by the new code."""
    app = SettlementApp(store_environment(url), clock=lambda: TODAY)
    keys = app.personal_keys
    app.mapper.keys = None  # type: ignore[attr-defined]  # as the code before per-person keys wrote
    app.recorder.personal_keys = None  # type: ignore[attr-defined]
    app.handle(IMDI, c.RegisterMunicipality("0301", "Oslo", "Oslo"))
    app.handle(IMDI, c.RequestSettlement("0301", 2025, 10, 2))
    app.handle(OSLO, c.DecideQuota("0301", 2025, 8, 1, date(2025, 3, 1)))
    old = UUID(
        app.handle(
            IMDI,
            registration(name=OLD_NAME, birth_date=OLD_BORN, private=True, family_id="Zantoroff-familien"),
        ).id
    )
    app.handle(OSLO, c.FileSupportCase("Om Zantoroff", "Gjelder Qwerlin Zantoroff"))  # free text, clear
    app.handle(IMDI, c.RecordMapping(old, Mapping(health_needs="Hjertesykdom")))
    deviation = app.handle(IMDI, c.OpenDeviation(old, "address", "Zantoroff moved")).extra["deviation_id"]
    app.handle(IMDI, c.ResolveDeviation(old, UUID(deviation), "Zantoroff found"))
    erased = UUID(app.handle(IMDI, registration(name=ERASED_NAME, private=True)).id)
    listed = UUID(app.handle(IMDI, c.CreateDistributionList("0301", (old,), date(2025, 7, 1))).id)
    app.handle(OSLO, c.ApproveDistributionList(listed, (old,), ()))  # a selection letter, in the clear
    with monkeypatch.context() as then:  # a read record of a month long past, in the clear
        then.setattr(
            eventsourcing.domain, "datetime_now_with_tzinfo", lambda: datetime(2019, 1, 15, tzinfo=UTC)
        )
        app.handle(IMDI, c.RecordFolderRead(old))
    app.mapper.keys = keys  # type: ignore[attr-defined]  # the new code from here on
    app.recorder.personal_keys = keys  # type: ignore[attr-defined]
    app.handle(IMDI, c.DecideSettlement(old, "0301", 2025))  # decision letters, sealed
    app.handle(OSLO, c.RegisterSettlementDate(old, TODAY))
    app.handle(IMDI, registration(name=NEW_NAME, private=True))
    app.handle(IMDI, c.RecordFolderRead(old))
    app.handle(IMDI, c.ErasePersonalData(erased, "GDPR art. 17", "asked"))
    return app


@pytest.fixture
def source_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'older.db'}"


def test_an_older_store_moves_into_a_new_one_with_every_personal_part_sealed(
    source_url, database_url, monkeypatch, capsys
):
    source = an_older_store(source_url, monkeypatch)
    source_engine = open_read_store(source_url)
    try:
        catch_up(source, source_engine)
        held = store_bytes(source_url)
        # The older store's problem: names, a family's text and a support case's text in the clear.
        for clear in (OLD_NAME, ERASED_NAME, "Zantoroff-familien", "Gjelder Qwerlin Zantoroff"):
            assert clear.encode() in held, clear
        head = source.recorder.max_notification_id()

        moved = main(
            ["store", "move", "--database-url", source_url, "--to", database_url, "--batch-size", "7"]
        )
        out = capsys.readouterr().out
        assert moved == 0, out
        assert f"{head} events and" in out and "hash chain intact; read models equal to the log" in out

        after = store_bytes(database_url)
        for secret in SECRETS:
            assert secret.encode() not in after, secret
        target = SettlementApp(store_environment(database_url), clock=lambda: TODAY)
        target_engine = open_read_store(database_url)
        try:
            assert target.recorder.max_notification_id() == head
            # Every view equal to the source's folded views (positions, ids, sealed values alike).
            assert snapshot(target_engine) == snapshot(source_engine)
            # The moved events read as the source's do: ids, versions, times and personal parts.
            old_events = [
                source.mapper.to_domain_event(n) for n in source.recorder.select_notifications(1, 1000)
            ]
            new_events = [
                target.mapper.to_domain_event(n) for n in target.recorder.select_notifications(1, 1000)
            ]
            assert [(e.originator_id, e.originator_version, e.timestamp, type(e)) for e in new_events] == [
                (e.originator_id, e.originator_version, e.timestamp, type(e)) for e in old_events
            ]
            registered = [e for e in new_events if type(e).__name__ == "RefugeeRegistered"]
            assert [e.personal.get("full_name") for e in registered] == [OLD_NAME, None, NEW_NAME]
            assert registered[1].personal == {"erased": True}  # erased before the move: dropped
            reads = [e for e in new_events if type(e).__name__ == "PersonFolderViewed"]
            assert [e.refugee_id for e in reads] == [registered[0].originator_id] * 2
            # Every event of the target is sealed where it holds personal data.
            with target_engine.connect() as conn:
                table = "settlement_events" if target_engine.dialect.name == "postgresql" else "stored_events"
                count = conn.execute(text(f"select count(*) from {table}")).scalar_one()
            assert count == head
        finally:
            target_engine.dispose()
            target.close()

        # A second move into the same (now filled) store is refused: one line, exit 2.
        assert main(["store", "move", "--database-url", source_url, "--to", database_url]) == 2
        err = capsys.readouterr().err
        assert "not empty" in err and len(err.strip().splitlines()) == 1
    finally:
        source_engine.dispose()
        source.close()


def test_a_clear_read_record_of_an_expired_month_names_nobody_in_the_new_store(
    source_url, database_url, monkeypatch, capsys
):
    """R14: the month's key was deleted before the move (a sealed read of that month expired): the
    older store's clear read record of that month is moved naming nobody, as the sealed one reads."""
    source = an_older_store(source_url, monkeypatch)
    try:
        person = next(
            e.originator_id
            for e in (source.mapper.to_domain_event(n) for n in source.recorder.select_notifications(1, 100))
            if type(e).__name__ == "RefugeeRegistered"
        )
        with monkeypatch.context() as then:
            then.setattr(
                eventsourcing.domain, "datetime_now_with_tzinfo", lambda: datetime(2019, 1, 20, tzinfo=UTC)
            )
            source.handle(IMDI, c.RecordPersonalDataListed("GET /refugees", (person,)))  # sealed, 2019-01
        assert source.personal_keys is not None
        assert source.personal_keys.delete_keys(["reads:2019-01"]) == 1
    finally:
        source.close()

    assert main(["store", "move", "--database-url", source_url, "--to", database_url]) == 0, (
        capsys.readouterr()
    )
    target = SettlementApp(store_environment(database_url), clock=lambda: TODAY)
    try:
        events = [target.mapper.to_domain_event(n) for n in target.recorder.select_notifications(1, 1000)]
        of_2019 = [e for e in events if e.timestamp.year == 2019]
        assert [
            (type(e).__name__, e.refugee_id if hasattr(e, "refugee_id") else e.refugee_ids) for e in of_2019
        ] == [
            ("PersonFolderViewed", None),
            ("PersonalDataListed", []),
        ]
    finally:
        target.close()


def test_a_store_written_to_during_its_move_does_not_verify(source_url, database_url, monkeypatch, capsys):
    # A process still writing to the old store makes events the move does not copy: the move must not
    # say "switch and destroy the old store" then (the events would be lost).
    from api.settings import Settings
    from api.store_move import move_store

    source = an_older_store(source_url, monkeypatch)
    try:
        written = []

        def meanwhile(done: int, total: int) -> None:
            if not written:
                written.append(source.handle(IMDI, registration(name="Sen Skriving", private=True)).id)

        report = move_store(Settings(database_url=source_url), database_url, batch_size=5, progress=meanwhile)
        assert written and report.source_head_after > report.source_head
        assert report.events == report.target_events and not report.ok
    finally:
        source.close()
