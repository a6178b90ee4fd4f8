"""IMDi's public statistics in long format (one figure a row), as its statistics service publishes them.

Both column namings are read (``fylke_nr``/``kommune_nr`` and ``fylke_id``/``kommune_id``). Figures are
municipality rows in persons of the kinds ``anmodning`` (request), ``vedtak`` (decision) and ``bosatt``
(settled); county and national rows are the file's own totals, used to check it, never data; derived
rows (shares, per-mille, three-year sums) and rows of other breakdowns (business regions, city
districts) are skipped. ``.`` is no figure (never 0); ``50.00`` is 50; a
decimal that is not whole is a bad row.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

FORMAT = "imdi-long"
KINDS = {"anmodning": "request", "vedtak": "decision", "bosatt": "settled"}
NATIONAL = "00"
UNKNOWN_COUNTY = "99"
NULL = "NULL"
NUMBER = re.compile(r"^[0-9]{4}\Z")
COUNTY = re.compile(r"^[0-9]{2}\Z")
YEAR = re.compile(r"^[0-9]{4}\Z")
MAX_PERSONS = 1_000_000


class NotThisFormat(ValueError):
    """The file is not in IMDi's long format (its header lacks the columns)."""


@dataclass(frozen=True)
class Figure:
    """One municipality's figure in one year: a request, a decision or a settled count, in persons."""

    line: int
    number: str
    year: int
    kind: str
    persons: int


@dataclass(frozen=True)
class Total:
    """A county's (or the nation's, county ``00``) figure in the file: a check on the municipality rows."""

    line: int
    county: str
    year: int
    kind: str
    persons: int


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str


@dataclass(frozen=True)
class Mismatch:
    """A year and county (or the nation) whose total in the file differs from the sum of its municipalities."""

    year: int
    county: str
    kind: str
    file_total: int
    municipality_sum: int


@dataclass
class ParsedFile:
    file_name: str
    checksum: str
    rows: int = 0
    figures: list[Figure] = field(default_factory=list)
    totals: list[Total] = field(default_factory=list)
    bad_rows: list[BadRow] = field(default_factory=list)
    derived_rows: int = 0  # shares, per-mille and sums IMDi derives: skipped
    other_levels: int = 0  # rows for business regions (næringsregion) or city districts (bydel): skipped
    missing_figures: int = 0  # "." : no figure recorded (not zero)

    def mismatches(self) -> list[Mismatch]:
        """Every year and county (``00``: the nation) whose own total differs from its municipalities' sum."""
        sums: dict[tuple[int, str, str], int] = defaultdict(int)
        for figure in self.figures:
            sums[(figure.year, figure.number[:2], figure.kind)] += figure.persons
            sums[(figure.year, NATIONAL, figure.kind)] += figure.persons
        found = []
        for total in self.totals:
            counted = sums.get((total.year, total.county, total.kind), 0)
            if counted != total.persons:
                found.append(Mismatch(total.year, total.county, total.kind, total.persons, counted))
        return sorted(found, key=lambda m: (m.year, m.county, m.kind))


def checksum_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


REQUIRED = {
    "year": ("aar",),
    "county": ("fylke_nr", "fylke_id"),
    "municipality": ("kommune_nr", "kommune_id"),
    "kind": ("bosetting",),
    "unit": ("enhet",),
    "value": ("tabellvariabel",),
}
OPTIONAL = {"region": ("naringsregion_nr", "naringsregion_id"), "district": ("bydel_nr", "bydel_id")}


def _columns(header: list[str]) -> dict[str, int]:
    """Where each column is, by either naming; a header without them is not this format."""
    where = {name: i for i, name in enumerate(header)}
    found: dict[str, int] = {}
    missing = []
    for name, names in (*REQUIRED.items(), *OPTIONAL.items()):
        index = next((where[n] for n in names if n in where), None)
        if index is not None:
            found[name] = index
        elif name in REQUIRED:
            missing.append(" or ".join(names))
    if missing:
        raise NotThisFormat(f"The header lacks the columns of IMDi's long format: {', '.join(missing)}.")
    return found


def _persons(text: str) -> int:
    """``50`` or ``50.00`` is 50; a negative or a decimal that is not whole is refused (ValueError)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"the figure {text!r} is not a number") from None
    if not value.is_finite() or value != value.to_integral_value():
        raise ValueError(f"the figure {text!r} is not a whole number of persons")
    if value < 0 or value > MAX_PERSONS:
        raise ValueError(f"the figure {text!r} is not a possible number of persons")
    return int(value)


def parse(content: bytes, file_name: str) -> ParsedFile:
    """Reads every row; nothing is recorded here. Bad rows are listed with their line numbers."""
    parsed = ParsedFile(file_name=file_name, checksum=checksum_of(content))
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise NotThisFormat("The file is not UTF-8 text.") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise NotThisFormat("The file is empty.")
    columns = _columns([name.strip() for name in header])
    seen: dict[tuple[str, int, str], int] = {}
    try:
        _read_rows(reader, columns, len(header), parsed, seen)
    except csv.Error as error:  # a field past the CSV reader's limit, a stray quote: not this format
        raise NotThisFormat(f"Line {reader.line_num} is not CSV as IMDi writes it ({error}).") from None
    return parsed


def _read_rows(
    reader: Any,
    columns: dict[str, int],
    width: int,
    parsed: ParsedFile,
    seen: dict[tuple[str, int, str], int],
) -> None:
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        parsed.rows += 1
        try:
            cells = {name: row[i].strip() for name, i in columns.items()}
        except IndexError:
            parsed.bad_rows.append(BadRow(line, f"the row has {len(row)} columns, the header {width}"))
            continue
        kind = KINDS.get(cells["kind"])
        if kind is None or cells["unit"] != "personer":
            parsed.derived_rows += 1
            continue
        if not YEAR.match(cells["year"]):
            parsed.bad_rows.append(BadRow(line, f"the year {cells['year']!r} is not a year"))
            continue
        year = int(cells["year"])
        if cells["value"] == ".":
            parsed.missing_figures += 1
            continue
        try:
            persons = _persons(cells["value"])
        except ValueError as error:
            parsed.bad_rows.append(BadRow(line, str(error)))
            continue
        municipality, county = cells["municipality"], cells["county"]
        if municipality != NULL:
            if not NUMBER.match(municipality):
                parsed.bad_rows.append(
                    BadRow(line, f"the municipality number {municipality!r} has not 4 digits")
                )
                continue
            key = (municipality, year, kind)
            if key in seen:
                parsed.bad_rows.append(
                    BadRow(
                        line,
                        f"{municipality} {year} {cells['kind']} is given twice (also on line {seen[key]})",
                    )
                )
                continue
            seen[key] = line
            parsed.figures.append(Figure(line, municipality, year, kind, persons))
        elif COUNTY.match(county):
            if county != UNKNOWN_COUNTY:
                parsed.totals.append(Total(line, county, year, kind, persons))
        elif cells.get("region", NULL) != NULL or cells.get("district", NULL) != NULL:
            parsed.other_levels += 1  # another breakdown than municipalities: neither data nor a check
        else:
            parsed.bad_rows.append(BadRow(line, "the row names neither a municipality nor a county"))


def read(path: Path) -> ParsedFile:
    return parse(path.read_bytes(), path.name)
