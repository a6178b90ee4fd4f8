"""Importing a person-level history (R15) on SQLite and PostgreSQL: deterministic persons, idempotence,
bad lines, conflicts and revisions, places and replays by business time, the command line, and naming
the municipalities an import registered."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from api.bench.history_file import generate
from api.cli.main import main
from api.imports.backfill import import_file
from projections.places import places
from settlement_domain.handlers.history import person_id
from settlement_domain.model import Refugee
from settlement_domain.replay import case_as_of, places_as_of
from tests.integration.imports.conftest import caught_up

FILE = "history.jsonl"


def lines(*facts: dict) -> bytes:
    return ("\n".join(json.dumps(f, ensure_ascii=False) for f in facts) + "\n").encode()


def registered(person: str = "S-1", **fields) -> dict:
    return {
        "fact": "registered", "person": person, "date": "2019-01-10", "full_name": "Åsa Ødegård",
        "birth_date": "1990-04-01", "category": "resettlement",
        "residence": {"kind": "reception_centre", "centre_id": "M007"},
        "postal_address": {"street": "Mottaksveien 2", "postal_code": "0150", "city": "Oslo"}, **fields,
    }  # fmt: skip


def case(person: str = "S-1", municipality: str = "0301", settled: str = "2019-03-01") -> list[dict]:
    return [
        registered(person),
        {"fact": "mapped", "person": person, "date": "2019-01-12", "mapping": {"education": "vgs", "languages": ["tigrinja"]}},
        {"fact": "selected", "person": person, "date": "2019-02-01", "municipality": municipality},
        {"fact": "decided", "person": person, "date": "2019-02-05", "municipality": municipality},
        {"fact": "settled", "person": person, "date": settled},
    ]  # fmt: skip


def test_a_generated_history_imports_and_its_persons_are_the_places(app, engine):
    history = generate(60, year=2023, seed=3)
    report = import_file(app, history.content, FILE)
    assert report.imported and not report.bad_rows and not report.conflicts, report.bad_rows[:3]
    assert report.recorded == history.lines and report.unchanged == 0
    caught_up(app, engine)
    expected: Counter[tuple[str, int]] = Counter()
    for line in history.content.decode().splitlines():
        fact = json.loads(line)
        if fact["fact"] == "decided":
            expected[(fact["municipality"], fact.get("year", 2023))] += 1
    rows = {(r["municipality"], r["year"]): r for r in places(engine)}
    assert {key: rows[key]["settled_persons"] for key in expected} == dict(expected)
    assert sum(r["settled_persons"] for r in rows.values()) == 60
    assert all(r["agreed_persons"] == 0 for r in rows.values())
    first = app.refugee(person_id("P0000000"))
    assert first.settlement_date is not None and first.decided_for is not None


def test_a_persons_case_has_the_sources_id_dates_and_file_and_replays_by_business_time(app):
    report = import_file(app, lines(*case()), FILE)
    assert report.imported and report.recorded == 5
    person = app.refugee(person_id("S-1"))
    assert person.id == person_id("S-1")  # the same source id gives the same person everywhere
    assert (person.selected_by, person.selected_on, person.decided_for, person.settlement_date) == (
        "0301", date(2019, 2, 1), "0301", date(2019, 3, 1),
    )  # fmt: skip
    events = list(app.events.get(person.id))
    assert [type(e).__name__ for e in events] == [
        "RefugeeRegistered", "MappingRecorded", "RefugeeSelected", "SettlementDecided", "SettlementDateRegistered",
    ]  # fmt: skip
    assert {e.meta["sub"] for e in events} == {f"import:{FILE}"}
    assert [e.meta["source"]["line"] for e in events] == [1, 2, 3, 4, 5]
    assert events[-1].source == "history"
    # R14 by business time: the case as the source dated it.
    at = lambda day: datetime(*day, 12, tzinfo=UTC)  # noqa: E731
    assert case_as_of(app, person.id, at((2019, 1, 20)), by="business").selected_by is None
    assert case_as_of(app, person.id, at((2019, 2, 2)), by="business").selected_by == "0301"
    assert case_as_of(app, person.id, at((2019, 2, 20)), by="business").settlement_date is None
    assert case_as_of(app, person.id, at((2019, 3, 2)), by="business").settlement_date == date(2019, 3, 1)
    before, after = (
        places_as_of(app, "0301", at(d), by="business", years=[2019]) for d in ((2019, 2, 20), (2019, 3, 2))
    )
    assert (before[0]["agreed_persons"], before[0]["settled_persons"]) == (1, 0)
    assert (after[0]["agreed_persons"], after[0]["settled_persons"]) == (0, 1)


def test_the_same_file_twice_appends_nothing_and_an_overlapping_file_only_what_is_new(app):
    first = lines(*case("S-1"), *case("S-2", "4601"))
    assert import_file(app, first, FILE).imported
    position = app.position()
    again = import_file(app, first, FILE)
    assert again.already_imported and app.position() == position
    overlapping = import_file(app, first + lines(*case("S-3")), "history-2.jsonl")
    assert overlapping.imported and overlapping.unchanged == 10 and overlapping.recorded == 5
    assert app.refugee(person_id("S-3")).settlement_date == date(2019, 3, 1)


def test_one_bad_line_imports_nothing_and_skip_invalid_imports_the_rest(app):
    bad_address = registered("S-9", postal_address={"street": "Gate 1", "postal_code": "12", "city": "Oslo"})
    content = lines(*case("S-1"), bad_address, {"fact": "settled", "person": "S-9", "date": "2019-05-01"})
    content += b"{not json\n"
    position = app.position()
    report = import_file(app, content, FILE)
    assert not report.imported and report.refused and app.position() == position
    assert [(b["line"], b["reason"]) for b in report.bad_rows] == [
        (6, "postal_address.postal_code: A Norwegian postal code has 4 digits."),
        (8, "the line is not a JSON object"),
    ]
    skipped = import_file(app, content, FILE, skip_invalid=True)
    assert skipped.imported and skipped.recorded == 5
    # The fact of a person the file failed to register is a bad line of its own, named by its line.
    assert [b["line"] for b in skipped.bad_rows] == [6, 7, 8]
    assert "S-9 is not registered" in skipped.bad_rows[1]["reason"]


@pytest.mark.parametrize(
    ("fact", "reason"),
    [
        ({"fact": "moved", "person": "S-1", "date": "2019-01-01"}, "fact: 'moved' is not one of"),
        ({"fact": "settled", "person": "", "date": "2019-01-01"}, "person: a text is needed"),
        ({"fact": "settled", "person": "S-1", "date": "2019-02-30"}, "date: not a date of the calendar"),
        ({"fact": "settled", "person": "S-1", "date": "01.02.2019"}, "date: a date YYYY-MM-DD is needed"),
        ({"fact": "selected", "person": "S-1", "date": "2019-01-01", "municipality": "0301", "yaer": 2019}, "unknown field 'yaer'"),
        ({"fact": "selected", "person": "S-1", "date": "2019-01-01", "municipality": "0301", "year": "2019"}, "year: a year is a whole number"),
        (registered(category="refugee"), "category: one of"),
        (registered(unaccompanied_minor="yes"), "unaccompanied_minor: true or false"),
    ],
)  # fmt: skip
def test_a_malformed_line_is_a_bad_row_naming_its_field(app, fact, reason):
    report = import_file(app, lines(fact), FILE)
    assert not report.imported and report.bad_rows[0]["line"] == 1
    assert reason in report.bad_rows[0]["reason"]


def test_facts_out_of_order_or_in_the_future_are_bad_rows(app):
    person = "S-1"
    content = lines(
        registered(person),
        {"fact": "decided", "person": person, "date": "2019-02-05", "municipality": "0301"},
        {"fact": "selected", "person": person, "date": "2019-02-01", "municipality": "0301"},
        {"fact": "settled", "person": person, "date": "2019-01-01"},
        {"fact": "selected", "person": "S-2", "date": "2099-01-01", "municipality": "0301"},
    )
    report = import_file(app, content, FILE)
    assert not report.imported
    assert [b["line"] for b in report.bad_rows] == [2, 4, 5]
    assert "selected by 0301 first" in report.bad_rows[0]["reason"]


def test_a_contradicting_file_is_a_conflict_and_a_settlement_date_is_revised_only_with_a_reason(app):
    assert import_file(app, lines(*case()), FILE).imported
    other = lines(*case(settled="2019-03-15"))
    conflicted = import_file(app, other, "other.jsonl")
    assert not conflicted.imported and [c["line"] for c in conflicted.conflicts] == [5]
    assert "2019-03-01" in conflicted.conflicts[0]["message"]
    revised = import_file(app, other, "other.jsonl", revise_reason="IMDi's corrected register")
    assert revised.imported and revised.recorded == 1 and revised.unchanged == 4
    person = app.refugee(person_id("S-1"))
    assert person.settlement_date == date(2019, 3, 15)
    assert type(list(app.events.get(person.id))[-1]) is Refugee.SettlementDateCorrected
    elsewhere = import_file(app, lines(*case(municipality="4601")), "elsewhere.jsonl", revise_reason="no")
    assert {c["field"] for c in elsewhere.conflicts} == {"selection", "decision"}


def test_a_minor_then_is_a_minor_of_the_history_though_an_adult_now(app):
    minor = registered("S-7", birth_date="2003-06-01", unaccompanied_minor=True)
    assert import_file(app, lines(minor), FILE).imported
    assert app.refugee(person_id("S-7")).unaccompanied_minor


def test_a_decision_for_another_year_moves_the_place_over_quota_alike_in_the_view_and_the_write_side(
    app, engine
):
    content = lines(
        registered("S-1"),
        {"fact": "selected", "person": "S-1", "date": "2019-11-01", "municipality": "0301"},
        {"fact": "decided", "person": "S-1", "date": "2019-12-01", "municipality": "0301", "year": 2020},
    )
    assert import_file(app, content, FILE).imported
    caught_up(app, engine)
    rows = {r["year"]: r for r in places(engine, municipality="0301")}
    assert (rows[2019]["agreed_persons"], rows[2020]["agreed_persons"]) == (0, 1)
    quota = app.quota_year("0301", 2020)
    assert rows[2020]["over_quota_persons"] == quota.over_quota_persons == 1  # no quota decided for 2020
    assert app.quota_year("0301", 2019).places_taken == 0


def test_the_command_line_imports_a_history_and_brings_the_read_models_level(database_url, tmp_path, capsys):
    path = tmp_path / "persons.jsonl"
    path.write_bytes(lines(*case()))
    assert main(["import", str(path), "--json", "--database-url", database_url]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["file_format"] == "person-history" and out["recorded"] == 5
    assert out["read_models"]["events"] > 0 and out["municipalities_registered"] == ["0301"]
    assert main(["audit", "verify", "--database-url", database_url]) == 0
    path.write_bytes(b'{"fact": "settled"}\n')
    assert main(["import", str(path), "--database-url", database_url]) == 2


def test_an_operator_names_the_municipalities_an_import_registered(
    database_url, tmp_path, capsys, engine, monkeypatch
):
    path = tmp_path / "persons.jsonl"
    path.write_bytes(lines(*case("S-1", "0301"), *case("S-2", "1601")))
    assert main(["import", str(path), "--database-url", database_url]) == 0
    assert main(["municipality", "rename", "0301", "Oslo", "--database-url", database_url]) == 0
    names = tmp_path / "kommuner.csv"
    names.write_text('"code";"parentCode";"level";"name"\n"1601";"";"1";"Trondheim"\n"0301";"";"1";"Oslo"\n'
                     '"9999";"";"1";"Ukjent"\n', encoding="utf-8")  # fmt: skip
    assert main(["municipality", "names", str(names), "--database-url", database_url]) == 0
    assert "1 renamed, 1 already so named, 1 unknown to the store (9999)" in capsys.readouterr().out
    assert main(["municipality", "rename", "0301", "Oslo", "--database-url", database_url]) == 0
    assert "0301 is already named Oslo." in capsys.readouterr().out
    monkeypatch.setenv("SETTLEMENT_DATABASE_URL", database_url)
    assert main(["projections", "run", "--once"]) == 0
    from projections.municipalities import municipalities

    registry = {m["number"]: (m["name"], m["county"]) for m in municipalities(engine)}
    assert registry == {"0301": ("Oslo", "Oslo"), "1601": ("Trondheim", "Sør-Trøndelag")}
    assert main(["audit", "verify", "--database-url", database_url]) == 0


def test_a_names_file_without_its_columns_is_a_usage_error(database_url, tmp_path, capsys):
    names = tmp_path / "names.csv"
    names.write_text("nummer,tekst\n0301,Oslo\n", encoding="utf-8")
    assert main(["municipality", "names", str(names), "--database-url", database_url]) == 2
    assert "needs a number column" in capsys.readouterr().err


def test_the_example_file_of_the_docs_imports(app):
    example = Path(__file__).resolve().parents[3] / "docs" / "examples" / "person-history.jsonl"
    report = import_file(app, example.read_bytes(), example.name)
    assert report.imported and not report.bad_rows and report.recorded > 5


def test_a_large_history_is_stored_in_transactions_of_whole_facts(app, monkeypatch):
    """A crash between two transactions leaves whole facts only: a selection never without its place."""
    import settlement_domain.bulk as bulk

    monkeypatch.setattr(bulk, "MAX_TRANSACTION", 4)  # a selection is three events: ends never split it
    saved: list[list[str]] = []
    save = app.save

    def recording_save(*objs, **kwargs):
        saved.append([type(e).__name__ for o in objs for e in getattr(o, "_events", [])])
        return save(*objs, **kwargs)

    monkeypatch.setattr(app, "save", recording_save)
    assert import_file(app, lines(*case("S-1"), *case("S-2")), FILE).imported
    for names in saved:
        for i, name in enumerate(names):
            if name == "RefugeeSelected":  # its quota year's events follow in the same transaction
                assert "PlacesTakenBySelection" in names[i + 1 :], saved
    assert len(saved) > 2


def test_chunks_end_where_a_command_ends():
    from settlement_domain.bulk import _chunks

    assert _chunks([3, 4, 7, 8], 4) == [(0, 4), (4, 8)]
    assert _chunks([1, 6, 7], 4) == [(0, 1), (1, 6), (6, 7)]  # a command of more than 4 events alone
    assert _chunks([], 4) == []


def test_a_statistics_decision_after_a_history_is_not_refused_below_its_persons(app, engine):
    assert import_file(app, lines(*case("S-1"), *case("S-2"), *case("S-3")), FILE).imported
    csv = (b'"aar","fylke_nr","bosetting","enhet","tabellvariabel","tabell_navn","kommune_nr"\n'
           b'"2019","NULL","vedtak","personer","2","t","0301"\n')  # fmt: skip
    report = import_file(app, csv, "vedtak.csv")
    assert report.imported and not report.conflicts, report.conflicts
    caught_up(app, engine)
    row = next(r for r in places(engine, municipality="0301") if r["year"] == 2019)
    assert (row["decided_persons"], row["settled_persons"]) == (2, 3)  # vacant -1: history as it was


def test_a_minor_moved_into_a_year_decided_by_the_statistics_is_over_quota_alike_in_the_view(app, engine):
    csv = (b'"aar","fylke_nr","bosetting","enhet","tabellvariabel","tabell_navn","kommune_nr"\n'
           b'"2020","NULL","vedtak","personer","10","t","0301"\n')  # fmt: skip
    assert import_file(app, csv, "vedtak.csv").imported
    minor = registered("S-7", birth_date="2003-06-01", unaccompanied_minor=True)
    content = lines(
        minor,
        {"fact": "selected", "person": "S-7", "date": "2019-11-01", "municipality": "0301"},
        {"fact": "decided", "person": "S-7", "date": "2019-12-01", "municipality": "0301", "year": 2020},
    )
    assert import_file(app, content, FILE).imported
    caught_up(app, engine)
    row = next(r for r in places(engine, municipality="0301") if r["year"] == 2020)
    quota = app.quota_year("0301", 2020)
    # The decision of the statistics sets no minors' limit: the persons' 10 stand for minors too.
    assert row["over_quota_minors"] == quota.over_quota_minors == 0
    assert row["over_quota_persons"] == quota.over_quota_persons == 0
    decided = list(app.events.get(person_id("S-7")))[-1]
    assert decided.override_reason is None  # a vacant place: no override recorded


def test_a_settlement_date_before_the_decision_and_a_future_mapping_are_bad_rows(app):
    content = lines(
        registered("S-1"),
        {"fact": "mapped", "person": "S-1", "date": "2099-01-01", "mapping": {}},
        {"fact": "selected", "person": "S-1", "date": "2019-02-01", "municipality": "0301"},
        {"fact": "decided", "person": "S-1", "date": "2019-03-01", "municipality": "0301"},
        {"fact": "settled", "person": "S-1", "date": "2019-02-15"},
    )
    report = import_file(app, content, FILE)
    assert [b["line"] for b in report.bad_rows] == [2, 5]
    assert "before the settlement decision" in report.bad_rows[1]["reason"]


def test_a_json_string_may_hold_other_line_separators(app):
    fact = {"fact": "mapped", "person": "S-1", "date": "2019-01-12", "mapping": {"notes": "a\u2028b\x85c"}}
    report = import_file(app, lines(registered("S-1"), fact), FILE)
    assert report.imported and report.rows == 2
    assert app.refugee(person_id("S-1")).mapping["notes"] == "a\u2028b\x85c"
