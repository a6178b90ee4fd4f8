"""R14 replays on SQLite and PostgreSQL: the in-memory tests of ``tests/unit/domain/test_replay.py``
collected again here (``app`` is the two-backend fixture), and ``settlement audit replay``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from api.cli.main import main
from settlement_domain import commands as c
from tests.given import IMDI, OSLO, RECEPTION, TODAY, decided, decided_quota, municipalities, person, selected
from tests.unit.domain.test_replay import *  # noqa: F403


def _story(app):
    municipalities(app)
    decided_quota(app, "0301", persons=3, minors=1, year=2025)
    before = datetime.now(UTC)
    someone, minor = person(app), person(app, minor=True)
    selected(app, OSLO, [someone, minor])
    decided(app, someone)
    app.handle(RECEPTION, c.RegisterSettlementDate(someone, TODAY))
    return before, someone


def test_the_cli_prints_a_municipalitys_places_as_of_a_moment(app, database_url, capsys):
    before, _ = _story(app)
    assert main(["audit", "replay", "--municipality", "0301", "--json", "--database-url", database_url]) == 0
    answer = json.loads(capsys.readouterr().out)
    (row,) = answer["rows"]
    assert (row["year"], row["settled_persons"], row["agreed_persons"], row["agreed_minors"]) == (
        2025,
        1,
        1,
        1,
    )
    assert answer["events_read"] > 0 and answer["by"] == "recorded"
    argv = ["audit", "replay", "--municipality", "0301", "--as-of", before.isoformat(), "--json"]
    assert main([*argv, "--database-url", database_url]) == 0
    (row,) = json.loads(capsys.readouterr().out)["rows"]
    assert (row["decided_persons"], row["settled_persons"], row["agreed_persons"]) == (3, 0, 0)
    # By business time, the date (TODAY) settles the person as of TODAY although recorded later.
    argv = ["audit", "replay", "--municipality", "0301", "--as-of", TODAY.isoformat() + "T12:00:00Z"]
    assert main([*argv, "--by", "business", "--json", "--database-url", database_url]) == 0
    (row,) = json.loads(capsys.readouterr().out)["rows"]
    assert row["settled_persons"] == 1
    assert (
        main(["audit", "replay", "--municipality", "0301", "--year", "2024", "--database-url", database_url])
        == 0
    )
    assert "no places recorded" in capsys.readouterr().out


def test_the_cli_prints_a_persons_case_without_personal_data(app, database_url, capsys):
    _, someone = _story(app)
    assert main(["audit", "replay", "--person", str(someone), "--json", "--database-url", database_url]) == 0
    state = json.loads(capsys.readouterr().out)["state"]
    assert (state["decided_for"], state["settlement_date"], state["place"]) == (
        "0301",
        TODAY.isoformat(),
        {"municipality": "0301", "year": 2025},
    )
    assert main(["audit", "replay", "--person", str(someone), "--database-url", database_url]) == 0
    printed = capsys.readouterr().out
    assert "0301" in printed and "Test Person" not in printed and "Storgata" not in printed
    assert "settlement date" in printed and "as of now (recorded time)" in printed
    # The auditor's language by default: bokmål, the facts named as caseworkers name them.
    assert (
        main(["--lang", "nb", "audit", "replay", "--person", str(someone), "--database-url", database_url])
        == 0
    )
    printed = capsys.readouterr().out
    assert "bosettingsdato" in printed and "per nå (registrert tid)" in printed and "Saken til" in printed
    assert "Test Person" not in printed and "settlement date" not in printed
    early = (datetime.now(UTC) - timedelta(days=3650)).isoformat()
    assert (
        main(
            [
                "audit",
                "replay",
                "--person",
                str(someone),
                "--as-of",
                early,
                "--json",
                "--database-url",
                database_url,
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["state"] is None


def test_the_cli_refuses_bad_input_in_one_line(app, database_url, capsys):
    municipalities(app)
    app.handle(IMDI, c.RequestSettlement("0301", 2025, 4, 1))
    for argv in (
        ["--municipality", "0301", "--as-of", "yesterday"],
        ["--person", "not-a-uuid"],
        ["--municipality", "301"],
        ["--person", "6f1c1f0e-5a8e-4d0e-9a53-2c8f3b7d9e41"],
        ["--municipality", "0301", "--year", "1999"],
    ):
        assert main(["audit", "replay", *argv, "--database-url", database_url]) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("settlement: "), argv
