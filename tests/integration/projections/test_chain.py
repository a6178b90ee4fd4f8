"""R20: the hash chain over the log and its signed checkpoints; ``settlement audit verify|checkpoint``.

Each test plants a fault in the library's own event table behind the application's back, the way
someone with write access to the database could, and expects the first bad position to be named.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, delete, text

from api.cli.main import main
from projections.engine import chain
from projections.engine.chain import ADDED, ALTERED, CHAIN, REMOVED, Checkpoint, verify_chain
from projections.engine.store import write_transaction
from settlement_domain.application import SettlementApp
from tests.integration.projections.conftest import catch_up


@pytest.fixture(autouse=True)
def checkpoint_key_file(tmp_path, monkeypatch):
    path = tmp_path / "keys" / "checkpoint-key"
    monkeypatch.setenv("SETTLEMENT_CHECKPOINT_KEY_FILE", str(path))
    monkeypatch.delenv("SETTLEMENT_CHECKPOINT_PUBLIC_KEY", raising=False)
    return path


def _position_column(engine: Engine) -> str:
    return "rowid" if engine.dialect.name == "sqlite" else "notification_id"


def _table(app: SettlementApp) -> str:
    return app.recorder.events_table_name


def flip_one_byte(app: SettlementApp, engine: Engine, position: int) -> None:
    where = _position_column(engine)
    with write_transaction(engine) as conn:
        state = bytes(
            conn.execute(
                text(f"select state from {_table(app)} where {where} = :p"), {"p": position}
            ).scalar_one()
        )
        changed = state[:10] + bytes([state[10] ^ 0x01]) + state[11:]
        conn.execute(
            text(f"update {_table(app)} set state = :s where {where} = :p"), {"s": changed, "p": position}
        )


def delete_event(app: SettlementApp, engine: Engine, position: int) -> None:
    with write_transaction(engine) as conn:
        conn.execute(
            text(f"delete from {_table(app)} where {_position_column(engine)} = :p"), {"p": position}
        )


def swap_events(app: SettlementApp, engine: Engine, first: int, second: int) -> None:
    """Two events trade places in the log: each position now holds the other's whole record."""
    where = _position_column(engine)
    columns = "originator_id, originator_version, topic, state"
    with write_transaction(engine) as conn:
        rows = {
            p: conn.execute(text(f"select {columns} from {_table(app)} where {where} = :p"), {"p": p}).one()
            for p in (first, second)
        }
        # The first's (originator, version) moves aside while the second's takes its place.
        conn.execute(
            text(f"update {_table(app)} set originator_version = -1 where {where} = :p"), {"p": first}
        )
        for target, source in ((second, first), (first, second)):
            values = rows[source]
            conn.execute(
                text(
                    f"update {_table(app)} set originator_id = :o, originator_version = :v, topic = :t, "
                    f"state = :s where {where} = :p"
                ),
                {"o": values[0], "v": values[1], "t": values[2], "s": values[3], "p": target},
            )


def audit(database_url: str, capsys: Any, *extra: str) -> tuple[int, str]:
    code = main(["audit", "verify", "--database-url", database_url, "--chain-only", *extra])
    return code, capsys.readouterr().out


def test_an_untouched_store_verifies_clean_and_every_event_is_linked(
    app, engine, history, database_url, capsys
):
    catch_up(app, engine)  # the runner advances the chain with its batches
    report = verify_chain(app, engine)
    assert report.intact and report.problems == 0 and report.unlinked == 0
    assert report.linked == report.log_events == len(app.recorder.select_notifications(1, 10_000))
    code, out = audit(database_url, capsys)
    assert code == 0, out
    assert "the log is intact" in out
    assert main(["audit", "verify", "--database-url", database_url]) == 0  # with the read models too


def test_the_chain_links_each_event_once_however_often_it_is_advanced(app, engine, history):
    chain.install(engine)
    assert chain.advance(app, engine, limit=3) == 3
    assert chain.advance_to_head(app, engine) == app.position() - 3
    assert chain.advance_to_head(app, engine) == 0
    report = verify_chain(app, engine)
    assert report.intact and report.linked == report.log_events


def test_events_after_the_chains_head_are_unlinked_not_bad(app, engine, history):
    chain.install(engine)
    chain.advance(app, engine, limit=5)
    report = verify_chain(app, engine)
    assert report.intact and report.linked == 5 and report.unlinked == report.log_events - 5


def test_one_changed_byte_is_named_at_its_position(app, engine, history, database_url, capsys):
    catch_up(app, engine)
    target = app.position() // 2
    flip_one_byte(app, engine, target)
    report = verify_chain(app, engine)
    assert not report.intact
    assert report.first_bad_position == target and report.first[0].kind == ALTERED
    assert report.problems == 1  # the events after it still link to the stored chain
    code, out = audit(database_url, capsys)
    assert code == 1
    assert f"the first bad position is {target:,}" in out and f"position {target}: the event there" in out


def test_an_auditor_reads_the_verdict_in_bokmal_by_default(
    app, engine, history, database_url, capsys, monkeypatch
):
    # R20 in the auditor's language: the command line speaks bokmål unless asked for English.
    monkeypatch.delenv("SETTLEMENT_LANG")
    catch_up(app, engine)
    code, out = audit(database_url, capsys)
    assert code == 0 and "loggen er intakt fram til kjedens hode" in out and "Hashkjede (R20)" in out
    target = app.position() // 2
    flip_one_byte(app, engine, target)
    code, out = audit(database_url, capsys)
    assert code == 1
    assert f"den første feilaktige posisjonen er {target}" in out
    assert f"posisjon {target}: hendelsen der er ikke den som ble lenket der" in out
    assert "the log" not in out and "position" not in out
    code, out = audit(database_url, capsys, "--lang", "en")
    assert code == 1 and f"the first bad position is {target}" in out


def test_a_deleted_event_is_named_at_its_position(app, engine, history, database_url, capsys):
    catch_up(app, engine)
    target = 4
    delete_event(app, engine, target)
    report = verify_chain(app, engine)
    assert [(p.position, p.kind) for p in report.first] == [(target, REMOVED)]
    code, out = audit(database_url, capsys, "--json")
    assert code == 1
    answer = json.loads(out)["chain"]
    assert answer["first_bad_position"] == target and answer["intact"] is False


def test_the_last_event_deleted_is_named_too(app, engine, history):
    catch_up(app, engine)
    last = app.position()
    delete_event(app, engine, last)
    report = verify_chain(app, engine)
    assert [(p.position, p.kind) for p in report.first] == [(last, REMOVED)]


def test_two_swapped_events_name_the_first_of_them(app, engine, history, database_url, capsys):
    catch_up(app, engine)
    first, second = 3, 9
    swap_events(app, engine, first, second)
    report = verify_chain(app, engine)
    assert report.first_bad_position == first
    assert [(p.position, p.kind) for p in report.first] == [(first, ALTERED), (second, ALTERED)]
    code, out = audit(database_url, capsys)
    assert code == 1 and f"the first bad position is {first}" in out


def test_an_event_slipped_into_a_gap_of_the_linked_range_is_named(app, engine, history):
    # A gap in the positions (PostgreSQL leaves one for every rolled-back insert) is linked past.
    where, columns = _position_column(engine), "originator_id, originator_version, topic, state"
    with write_transaction(engine) as conn:
        kept = conn.execute(text(f"select {columns} from {_table(app)} where {where} = 6")).one()
    delete_event(app, engine, 6)
    catch_up(app, engine)
    assert verify_chain(app, engine).intact
    # Someone writes an event into the gap afterwards.
    with write_transaction(engine) as conn:
        conn.execute(
            text(f"insert into {_table(app)} ({where}, {columns}) values (6, :o, :v, :t, :s)"),
            {"o": kept[0], "v": kept[1], "t": kept[2], "s": kept[3]},
        )
    report = verify_chain(app, engine)
    assert [(p.position, p.kind) for p in report.first] == [(6, ADDED)]


def test_a_checkpoint_catches_a_log_and_chain_rewritten_together(
    app, engine, history, database_url, capsys, checkpoint_key_file
):
    catch_up(app, engine)
    assert main(["audit", "checkpoint", "--database-url", database_url, "--json"]) == 0
    signed = json.loads(capsys.readouterr().out)
    assert signed["position"] == app.position() and signed["key_created"] is True
    assert checkpoint_key_file.stat().st_mode & 0o777 == 0o600
    line = signed["line"]
    assert (
        Checkpoint.parse(line).signed_by(Ed25519PrivateKey.from_private_bytes(b"\0" * 32).public_key())
        is False
    )
    code, out = audit(database_url, capsys)
    assert code == 0 and "holds (signature valid)" in out, out

    # The log is altered, then the chain and the stored checkpoints are rebuilt to match it.
    flip_one_byte(app, engine, 5)
    with write_transaction(engine) as conn:
        conn.execute(delete(CHAIN))
        conn.execute(delete(chain.CHECKPOINTS))
    chain.advance_to_head(app, engine)
    assert verify_chain(app, engine).intact  # the chain alone cannot tell any more
    code, out = audit(database_url, capsys, "--checkpoint", line)
    assert code == 1
    assert "the log up to it no longer hashes to the signed link" in out


def test_checkpoint_signatures_are_checked_against_the_key(app, engine, history, database_url, capsys):
    catch_up(app, engine)
    assert main(["audit", "checkpoint", "--database-url", database_url]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith(Checkpoint.PREFIX))
    stranger = Ed25519PrivateKey.generate().public_key()
    report = verify_chain(app, engine, public_key=stranger)
    assert [c.signature for c in report.checkpoints] == ["unknown key"] and not report.intact

    forged = Checkpoint.parse(line)
    forged = Checkpoint(
        forged.position - 1, forged.link, forged.signed_at, forged.public_key, forged.signature
    )
    code, out = audit(database_url, capsys, "--checkpoint", forged.line())
    assert code == 1 and "signature invalid" in out


def test_bad_checkpoint_input_is_one_line_exit_2(app, engine, history, database_url, capsys):
    assert main(["audit", "verify", "--database-url", database_url, "--checkpoint", "nonsense"]) == 2
    assert "--checkpoint: not a checkpoint line" in capsys.readouterr().err
    assert main(["audit", "verify", "--database-url", database_url, "--public-key", "xyz"]) == 2
    assert "public key is not hex" in capsys.readouterr().err


def test_an_empty_log_has_nothing_to_checkpoint(database_url, capsys):
    assert main(["audit", "checkpoint", "--database-url", database_url]) == 2
    assert "the log is empty" in capsys.readouterr().err
