"""Reading IMDi's long format: figures, the file's own totals, skipped rows and bad rows (R15)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.imports import imdi_long

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "imdi-long.csv"
HEADER_NR = '"aar","fylke_nr","bosetting","enhet","tabellvariabel","tabell_navn","kommune_nr","naringsregion_nr","bydel_nr"'
HEADER_ID = '"aar","fylke_id","bosetting","enhet","tabellvariabel","tabell_navn","kommune_id","naringsregion_id","bydel_id"'


def parsed(*rows: str, header: str = HEADER_NR) -> imdi_long.ParsedFile:
    return imdi_long.parse("\n".join([header, *rows]).encode(), "test.csv")


def row(year="2013", county="NULL", kind="anmodning", unit="personer", value="5", municipality="0301",
        region="NULL", district="NULL") -> str:  # fmt: skip
    return ",".join(f'"{v}"' for v in (year, county, kind, unit, value, "t", municipality, region, district))


def test_the_documented_example_reads_as_the_guide_says():
    example = imdi_long.read(EXAMPLE)
    assert [(f.line, f.number, f.year, f.kind, f.persons) for f in example.figures] == [
        (4, "0301", 2013, "request", 45), (5, "0301", 2013, "decision", 40), (6, "0301", 2013, "settled", 38),
        (8, "1201", 2013, "request", 10), (10, "1201", 2013, "settled", 9),
    ]  # fmt: skip
    assert (example.rows, example.derived_rows, example.missing_figures, example.other_levels) == (
        10,
        1,
        1,
        1,
    )
    assert example.bad_rows == []
    assert [(m.year, m.county, m.kind, m.file_total, m.municipality_sum) for m in example.mismatches()] == [
        (2013, "00", "request", 57, 55)
    ]


@pytest.mark.parametrize("header", [HEADER_NR, HEADER_ID], ids=["fylke_nr", "fylke_id"])
def test_both_column_namings_are_read(header):
    assert [f.persons for f in parsed(row(value="7"), header=header).figures] == [7]


def test_a_dot_is_no_figure_and_50_00_is_50():
    file = parsed(row(value="."), row(kind="vedtak", value="50.00"))
    assert [(f.kind, f.persons) for f in file.figures] == [("decision", 50)]
    assert file.missing_figures == 1


@pytest.mark.parametrize(
    ("value", "reason"),
    [("50.5", "not a whole number"), ("-1", "not a possible number"), ("many", "not a number"),
     ("NaN", "not a whole number")],
)  # fmt: skip
def test_a_figure_that_is_not_a_whole_number_of_persons_is_a_bad_row_named_by_its_line(value, reason):
    file = parsed(row(value="3"), row(kind="vedtak", value=value))
    assert [(b.line, reason in b.reason) for b in file.bad_rows] == [(3, True)]
    assert len(file.figures) == 1


def test_other_bad_rows_are_named_by_line():
    file = parsed(
        row(municipality="301"),
        row(year="20x3"),
        row(),
        row(),
        row(county="NULL", municipality="NULL"),
        '"2013","NULL"',
    )
    reasons = {b.line: b.reason for b in file.bad_rows}
    assert "has not 4 digits" in reasons[2] and "not a year" in reasons[3]
    assert "given twice (also on line 4)" in reasons[5]
    assert "neither a municipality nor a county" in reasons[6] and "columns" in reasons[7]


def test_derived_rows_and_other_breakdowns_are_skipped_and_counted():
    file = parsed(
        row(kind="bosatt_per_1000", unit="promille", value="0.7"), row(kind="bosatt", unit="prosent"),
        row(kind="bosatt_siste_trear", value="12"), row(municipality="NULL", region="0301"),
        row(municipality="NULL", district="030101"),
    )  # fmt: skip
    assert (file.derived_rows, file.other_levels, file.figures, file.bad_rows) == (3, 2, [], [])


def test_county_and_national_rows_check_the_file_and_are_not_figures():
    file = parsed(
        row(county="03", municipality="NULL", value="9"), row(county="00", municipality="NULL", value="9"),
        row(county="99", municipality="NULL", value="1"), row(value="8"), row(municipality="0104", value="1"),
    )  # fmt: skip
    assert [f.number for f in file.figures] == ["0301", "0104"]
    assert [(m.county, m.file_total, m.municipality_sum) for m in file.mismatches()] == [("03", 9, 8)]


def test_a_file_in_another_format_is_refused():
    with pytest.raises(imdi_long.NotThisFormat, match="tabellvariabel"):
        imdi_long.parse(b'"a","b"\n"1","2"\n', "other.csv")
    with pytest.raises(imdi_long.NotThisFormat, match="empty"):
        imdi_long.parse(b"", "empty.csv")
