"""Importing IMDi's statistics (R15) on SQLite and PostgreSQL: the real files, idempotence, bad rows,
conflicts, and the read models after an import."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from api.cli.main import main
from api.imports import imdi_long
from api.imports.backfill import import_file
from projections.places import places
from settlement_domain import commands as c
from tests.given import IMDI
from tests.integration.imports.conftest import caught_up

DATA = Path(__file__).resolve().parents[2] / "data" / "imdi"
FILES = ["bosetting.csv", "bosatt_vedtak.csv"]


def content(name: str) -> bytes:
    return (DATA / name).read_bytes()


@pytest.mark.parametrize("name", FILES)
def test_a_real_file_imports_into_an_empty_store_and_its_figures_are_the_places(app, engine, name):
    report = import_file(app, content(name), name)
    parsed = imdi_long.parse(content(name), name)
    assert report.imported and not report.bad_rows and not report.conflicts
    assert report.recorded == len(parsed.figures) > 3000 and report.unchanged == 0
    assert len(report.municipalities_registered) == len({f.number for f in parsed.figures})
    assert report.mismatches  # the files' own totals do not always add up: listed, not "fixed"
    caught_up(app, engine)
    by_key = {(r["municipality"], r["year"]): r for r in places(engine)}
    expected: dict[tuple[str, int], dict[str, int]] = defaultdict(dict)
    for figure in parsed.figures:
        expected[(figure.number, figure.year)][figure.kind] = figure.persons
    assert set(by_key) == set(expected)
    for key, figures in expected.items():
        row = by_key[key]
        assert row["requested_persons"] == figures.get("request"), key  # a "." stays null, never 0
        assert row["decided_persons"] == figures.get("decision"), key
        assert row["historical_settled"] == figures.get("settled"), key
        assert bool(row["historical_request"]) == ("request" in figures)
        assert row["requested_minors"] is None and row["settled_persons"] == 0  # persons are not figures
    oslo = app.municipality("0301")
    assert (oslo.name, oslo.county) == ("kommune 0301", "Oslo")


def test_the_same_file_twice_appends_nothing_and_an_overlapping_file_only_what_is_new(app):
    first = import_file(app, content("bosetting.csv"), "bosetting.csv")
    position = app.position()
    again = import_file(app, content("bosetting.csv"), "bosetting.csv")
    assert again.already_imported and not again.imported and app.position() == position
    overlapping = import_file(app, content("bosatt_vedtak.csv"), "bosatt_vedtak.csv")
    assert overlapping.imported and overlapping.conflicts == []
    assert overlapping.unchanged == first.recorded and overlapping.recorded == 9
    assert app.imported(first.checksum).recorded == first.recorded


def _file(*lines: str) -> bytes:
    header = '"aar","fylke_nr","bosetting","enhet","tabellvariabel","tabell_navn","kommune_nr"'
    return "\n".join([header, *lines]).encode()


GOOD = '"2013","NULL","anmodning","personer","10","t","0301"'
ALSO_GOOD = '"2013","NULL","vedtak","personer","8","t","0301"'
BAD = '"2013","NULL","bosatt","personer","7.5","t","0301"'


def test_one_bad_row_imports_nothing_and_skip_invalid_imports_the_rest(app):
    refused = import_file(app, _file(GOOD, BAD, ALSO_GOOD), "one-bad.csv")
    assert refused.refused and not refused.imported and app.position() == 0
    assert refused.bad_rows == [{"line": 3, "reason": "the figure '7.5' is not a whole number of persons"}]
    skipped = import_file(app, _file(GOOD, BAD, ALSO_GOOD), "one-bad.csv", skip_invalid=True)
    assert skipped.imported and skipped.recorded == 2
    assert app.quota_year("0301", 2013).requested_persons == 10
    assert app.quota_year("0301", 2013).historical_settled is None


def test_a_contradicting_file_is_a_conflict_and_is_revised_only_with_a_reason(app):
    import_file(app, _file(GOOD, ALSO_GOOD), "first.csv")
    position = app.position()
    contradicting = _file('"2013","NULL","anmodning","personer","12","t","0301"', ALSO_GOOD)
    report = import_file(app, contradicting, "second.csv")
    assert report.refused and app.position() == position
    (conflict,) = report.conflicts
    assert (conflict["line"], conflict["municipality"], conflict["kind"]) == (2, "0301", "request")
    assert "stored is 10 persons, the file says 12" in conflict["message"]
    revised = import_file(app, contradicting, "second.csv", revise_reason="IMDi corrected 2013")
    assert revised.imported and revised.revised == 1 and revised.unchanged == 1
    year = app.quota_year("0301", 2013)
    assert (year.requested_persons, year.request_revisions) == (12, 1)


def test_a_dry_run_reports_and_stores_nothing(app):
    report = import_file(app, _file(GOOD, ALSO_GOOD), "dry.csv", dry_run=True)
    assert (report.recorded, report.imported, app.position()) == (2, False, 0)


def test_an_import_is_the_actor_of_its_events_and_names_its_file_and_line(app):
    report = import_file(app, _file(GOOD), "named.csv")
    events = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(1, 100)]
    requested = next(e for e in events if type(e).__name__ == "SettlementRequested")
    assert requested.meta["sub"] == "import:named.csv" and requested.meta["role"] == "imdi"
    assert requested.source == {"file_name": "named.csv", "checksum": report.checksum, "line": 2}
    assert type(events[-1]).__name__ == "ImportRecorded"


def test_the_command_line_imports_reports_and_brings_the_read_models_level(database_url, tmp_path, capsys):
    path = tmp_path / "bosatt_vedtak.csv"
    path.write_bytes(content("bosatt_vedtak.csv"))
    assert main(["import", str(path), "--database-url", database_url, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["imported"] and printed["read_models"]["events"] > 3000
    assert printed["mismatches"] == [
        {"year": 2014, "county": "00", "kind": "settled", "file_total": 7784, "municipality_sum": 7719}
    ]
    assert main(["import", str(path), "--database-url", database_url]) == 0
    assert "already imported" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_bytes(_file(GOOD, BAD))
    assert main(["import", str(bad), "--database-url", database_url]) == 2
    assert "line 3: the figure '7.5'" in capsys.readouterr().out
    assert main(["import", str(tmp_path / "missing.csv"), "--database-url", database_url]) == 2
    assert "missing.csv" in capsys.readouterr().err


def test_importing_needs_imdi(app):
    from settlement_domain.errors import RuleViolation
    from settlement_domain.values import ImportSource
    from tests.given import OSLO

    with pytest.raises(RuleViolation) as refused:
        app.handle(OSLO, c.RecordHistoricalFigure("0301", 2013, "request", 1, ImportSource("f", "0" * 64, 2)))
    assert refused.value.rule == "R15"
    assert IMDI.actor.role.value == "imdi"


@pytest.mark.parametrize("name", FILES)
def test_the_national_report_of_each_year_sums_the_files_municipality_rows(app, engine, name):
    from projections.reports import national_report

    import_file(app, content(name), name)
    caught_up(app, engine)
    parsed = imdi_long.parse(content(name), name)
    sums: dict[tuple[int, str], int] = defaultdict(int)
    for figure in parsed.figures:
        sums[(figure.year, figure.kind)] += figure.persons
    for year in sorted({f.year for f in parsed.figures}):
        total = national_report(engine, year, suppress=False, viewer=None)["total"]
        assert (total["requested"], total["decided"], total["historical_settled"]) == (
            sums[(year, "request")],
            sums[(year, "decision")],
            sums[(year, "settled")],
        ), year
        assert total["settled"] == 0  # persons of this service: none in a statistics file


def test_a_year_the_statistics_cannot_be_of_is_a_bad_row_named_by_its_line(app):
    this_year = app.clock().year
    report = import_file(app, _file(GOOD, f'"{this_year}","NULL","anmodning","personer","4","t","0301"',
                                    '"1999","NULL","vedtak","personer","4","t","0301"'), "years.csv")  # fmt: skip
    assert report.refused and app.position() == 0
    assert [b["line"] for b in report.bad_rows] == [3, 4]
    assert "not a past year" in report.bad_rows[0]["reason"]
    assert import_file(app, _file(GOOD, f'"{this_year}","NULL","anmodning","personer","4","t","0301"'),
                       "years.csv", skip_invalid=True).recorded == 1  # fmt: skip


def test_an_import_does_not_revise_what_was_recorded_here_nor_go_below_the_places_used(app):
    from tests.given import OSLO, TODAY, person, selected

    app.handle(IMDI, c.RegisterMunicipality("0301", "Oslo", "Oslo"))
    app.handle(IMDI, c.RequestSettlement("0301", 2024, 10, 2))
    app.handle(IMDI, c.DecideQuota("0301", 2024, 3, 1, TODAY.replace(year=2024)))
    someone = person(app)
    selected(app, OSLO, [someone], year=2024)
    live = _file('"2024","NULL","anmodning","personer","12","t","0301"')
    for options in ({}, {"revise_reason": "IMDi's figure"}):
        report = import_file(app, live, "live.csv", **options)
        assert report.refused and "recorded in this service" in report.conflicts[0]["message"]
    assert app.quota_year("0301", 2024).requested_persons == 10
    # An imported decision below the places used within the quota would make vacant negative (R10).
    app.handle(IMDI, c.RegisterMunicipality("4601", "Bergen", "Vestland"))
    import_file(app, _file('"2024","NULL","vedtak","personer","5","t","4601"'), "bergen.csv")
    assert app.quota_year("4601", 2024).decided == (5, 5)  # no minors given: the persons' limit for them
    app.handle(IMDI, c.RequestSettlement("4601", 2024, 5, 0))
    taken = [person(app) for _ in range(2)]
    from tests.given import BERGEN

    selected(app, BERGEN, taken, year=2024)
    below = import_file(app, _file('"2024","NULL","vedtak","personer","1","t","4601"'), "below.csv",
                        revise_reason="IMDi corrected")  # fmt: skip
    assert below.refused and "2 are used within the quota" in below.conflicts[0]["message"]
    assert app.quota_year("4601", 2024).vacant() == (3, 5)  # minors: no limit of their own but the persons


def test_a_file_that_is_not_csv_as_imdi_writes_it_is_refused_not_a_failure(app):
    header = '"aar","fylke_nr","bosetting","enhet","tabellvariabel","tabell_navn","kommune_nr"\n'
    with pytest.raises(imdi_long.NotThisFormat, match="Line 2"):
        import_file(app, (header + '"2013","' + "x" * 200_000 + '"\n').encode(), "huge.csv")


def test_imported_figures_replay_at_their_years_by_business_time(app):
    from datetime import UTC, datetime

    from settlement_domain.replay import places_as_of

    import_file(app, _file(GOOD, ALSO_GOOD, '"2013","NULL","bosatt","personer","7","t","0301"'), "2013.csv")
    (mid_year,) = places_as_of(app, "0301", datetime(2013, 6, 1, tzinfo=UTC), by="business")
    assert (mid_year["requested_persons"], mid_year["decided_persons"], mid_year["historical_settled"]) == (
        10, 8, None,  # the year's settled count is of its last day
    )  # fmt: skip
    (year_end,) = places_as_of(app, "0301", datetime(2014, 1, 1, tzinfo=UTC), by="business")
    assert year_end["historical_settled"] == 7
    assert places_as_of(app, "0301", datetime(2012, 12, 31, tzinfo=UTC), by="business") == []
    assert places_as_of(app, "0301", datetime(2013, 6, 1, tzinfo=UTC), by="recorded") == []  # recorded now
