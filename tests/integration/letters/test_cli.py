"""``settlement letters tick|open|retry`` and ``settlement export letters`` on both backends: the
outbox with an injected time, opening a letter of the file channel, and a municipality's letters
written with a Noark-ready manifest, recorded in the audit trail (R9, R17)."""

from __future__ import annotations

import csv
import hashlib
import json

import pytest

from api.cli.main import main
from tests.given import events_named
from tests.given.letters import assert_pdf_a, letter_history


@pytest.fixture
def folders(tmp_path, monkeypatch):
    monkeypatch.setenv("SETTLEMENT_LETTERS_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("SETTLEMENT_LETTERS_PRINT_DIR", str(tmp_path / "print"))
    monkeypatch.delenv("SETTLEMENT_SVARUT_URL", raising=False)
    return tmp_path


def letters(database_url, *args):
    return main(["letters", "--database-url", database_url, *args])


def test_tick_open_and_fall_back_with_the_time_given(app, database_url, folders, capsys):
    history = letter_history(app)
    assert letters(database_url, "tick", "--now", "2025-06-16T09:00", "--json") == 0
    assert json.loads(capsys.readouterr().out)["dispatched"] == 4
    request = str(history.letters["request"])
    assert letters(database_url, "open", request, "--at", "2025-06-18T08:59") == 0
    assert f"Letter {request} marked opened" in capsys.readouterr().out
    assert letters(database_url, "tick", "--now", "2025-06-18T09:00", "--json") == 0
    assert json.loads(capsys.readouterr().out)["fell_back"] == 2
    assert len(events_named(app, "LetterOpened")) == 1
    assert not (folders / "print" / f"{request}.pdf").exists()
    assert letters(database_url, "tick", "--now", "2025-06-19T09:00", "--json") == 0
    assert json.loads(capsys.readouterr().out)["fell_back"] == 0
    # Without --json, the round in the reader's language (bokmål unless asked for English).
    assert (
        main(["--lang", "nb", "letters", "--database-url", database_url, "tick", "--now", "2025-06-19T10:00"])
        == 0
    )
    assert "0 sendt, 0 feilet, 0 åpnet, 0 sendt i posten etter 48 timer uåpnet." in capsys.readouterr().out
    assert main(["--lang", "nb", "letters", "--database-url", database_url, "retry", request]) == 2
    assert "settlement: avvist etter R9" in capsys.readouterr().err


def test_bad_input_is_one_line_and_exit_code_2(app, database_url, folders, capsys):
    letter_history(app)
    assert letters(database_url, "open", "00000000-0000-0000-0000-000000000000") == 2
    assert "is not in the outbox folder" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        letters(database_url, "tick", "--now", "yesterday")
    assert exited.value.code == 2
    assert "not an ISO time" in capsys.readouterr().err
    assert letters(database_url, "retry", "00000000-0000-0000-0000-000000000000") == 2
    assert "No letter" in capsys.readouterr().err


def test_export_letters_writes_pdf_a_files_and_a_manifest_and_is_audited(app, database_url, folders, capsys):
    history = letter_history(app)
    out = folders / "arkiv"
    assert main(["export", "letters", "--municipality", "0301", "--since", "2025-01-01",
                 "--database-url", database_url, str(out)]) == 0  # fmt: skip
    assert "4 letters and manifest.csv written" in capsys.readouterr().out
    with open(out / "manifest.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["kind"] for r in rows] == ["request", "selection", "decision_municipality", "decision_person"]
    for row in rows:
        content = (out / row["file"]).read_bytes()
        assert hashlib.sha256(content).hexdigest() == row["sha256"]
        assert row["date"] == "2025-06-16" and row["reference"].startswith("2025/")
        assert_pdf_a(content)
    assert rows[0]["recipient"] == "Oslo kommune" and rows[3]["recipient"] == "Åse Øvrebø Ærø"
    (export,) = events_named(app, "ExportMade")
    assert export.kind == "letters" and export.municipality == "0301"
    assert set(export.letter_ids) == set(history.letters.values())
    assert main(["export", "letters", "--municipality", "0301", "--since", "2025-07-01",
                 "--database-url", database_url, str(folders / "none")]) == 0  # fmt: skip
    assert "0 letters" in capsys.readouterr().out
    assert (
        main(["export", "letters", "--municipality", "9999", "--database-url", database_url, str(out)]) == 2
    )
    assert "No municipality 9999" in capsys.readouterr().err
