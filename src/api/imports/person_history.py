"""Person-level history (R15): persons' cases as another system recorded them, one fact a line (JSON lines).

Each line is one JSON object with ``fact``, ``person`` (the source's id of the person) and ``date`` (the
source's business date of the fact), and the fact's own fields:

- ``registered``: ``full_name``, ``birth_date``, ``category``, ``residence`` (``kind``: ``reception_centre``
  with ``centre_id``, or ``private``), ``postal_address`` (``street``, ``postal_code``, ``city``), and
  optionally ``family`` (the source's id of the family) and ``unaccompanied_minor`` (default false);
- ``mapped``: ``mapping`` (``education``, ``work_experience``, ``languages``, ``health_needs``, ``notes``);
- ``selected``: ``municipality``, optionally ``year`` (default: the year of the date);
- ``decided``: ``municipality``, optionally ``year`` (default: the year the selection took its place in);
- ``settled``: the settlement date is the line's ``date``.

A person's facts come in the order they happened, after the person's registration (in this file or an
earlier import). Nothing is recorded here: the lines become commands, or bad rows with their line
numbers. Blank lines are skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from api.imports.imdi_long import BadRow, NotThisFormat, checksum_of
from settlement_domain import commands as c
from settlement_domain.errors import RuleViolation
from settlement_domain.values import Category, ImportSource, Mapping, PostalAddress, Residence, ResidenceKind

FORMAT = "person-history"
SOURCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}\Z")
DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
MAX_LINE = 64 * 1024


@dataclass
class ParsedHistory:
    file_name: str
    checksum: str
    rows: int = 0
    facts: list[c.Command] = field(default_factory=list)
    bad_rows: list[BadRow] = field(default_factory=list)
    persons: set[str] = field(default_factory=set)


class BadLine(ValueError):
    """A line that is not a fact of this format; the message says why."""


def looks_like(content: bytes, file_name: str) -> bool:
    """A JSON-lines file: by its name, or its first character."""
    if file_name.lower().endswith((".jsonl", ".ndjson")):
        return True
    return content.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def parse(content: bytes, file_name: str) -> ParsedHistory:
    parsed = ParsedHistory(file_name=file_name, checksum=checksum_of(content))
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise NotThisFormat("The file is not UTF-8 text.") from None
    # Lines end at "\n" only (a "\r" before it is dropped): JSON strings may hold other line separators.
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        parsed.rows += 1
        source = ImportSource(file_name, parsed.checksum, number)
        try:
            fact = _fact(line, source)
        except BadLine as error:
            parsed.bad_rows.append(BadRow(number, str(error)))
            continue
        except RuleViolation as error:  # a value object refused a field (postal code, residence, ...)
            where = f"{error.field}: " if error.field else ""
            parsed.bad_rows.append(BadRow(number, f"{where}{error.message}"))
            continue
        parsed.facts.append(fact)
        parsed.persons.add(fact.person)  # type: ignore[attr-defined]
    if parsed.rows == 0:
        raise NotThisFormat("The file has no lines.")
    return parsed


def _fact(line: str, source: ImportSource) -> c.Command:
    if len(line) > MAX_LINE:
        raise BadLine(f"the line is longer than {MAX_LINE} characters")
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        raise BadLine("the line is not a JSON object") from None
    if not isinstance(data, dict):
        raise BadLine("the line is not a JSON object")
    fields = _Fields(data)
    kind = fields.text("fact")
    build = FACTS.get(kind)
    if build is None:
        raise BadLine(f"fact: {kind!r} is not one of {', '.join(FACTS)}")
    person = fields.text("person")
    if not SOURCE_ID.match(person):
        raise BadLine(
            "person: a source id is 1-64 letters, digits or . _ : / -, starting with a letter or digit"
        )
    fact = build(fields, person, fields.day("date"), source)
    fields.check_all_read()
    return fact


class _Fields:
    """A line's fields, read once each by name; an unknown field is a bad row (a misspelt name would
    otherwise be silently lost)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.read: set[str] = set()

    def get(self, name: str, default: Any = None) -> Any:
        self.read.add(name)
        return self.data.get(name, default)

    def text(self, name: str, *, optional: bool = False) -> Any:
        value = self.get(name)
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value.strip():
            raise BadLine(f"{name}: a text is needed")
        return value.strip()

    def day(self, name: str) -> date:
        value = self.get(name)
        if not isinstance(value, str) or not DAY.match(value):
            raise BadLine(f"{name}: a date YYYY-MM-DD is needed")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise BadLine(f"{name}: not a date of the calendar") from None  # no value: it may be personal

    def year(self, name: str) -> int | None:
        value = self.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadLine(f"{name}: a year is a whole number")
        return value

    def flag(self, name: str) -> bool:
        value = self.get(name, False)
        if not isinstance(value, bool):
            raise BadLine(f"{name}: true or false")
        return value

    def object(self, name: str) -> dict[str, Any]:
        value = self.get(name)
        if not isinstance(value, dict):
            raise BadLine(f"{name}: an object is needed")
        return value

    def check_all_read(self) -> None:
        unknown = sorted(set(self.data) - self.read)
        if unknown:
            raise BadLine(f"unknown field {unknown[0]!r}")


def _strings(value: dict[str, Any], name: str, keys: tuple[str, ...]) -> dict[str, str]:
    unknown = sorted(set(value) - set(keys))
    if unknown:
        raise BadLine(f"{name}.{unknown[0]}: unknown field")
    found = {}
    for key in keys:
        item = value.get(key, "")
        if not isinstance(item, str):
            raise BadLine(f"{name}.{key}: a text is needed")
        found[key] = item
    return found


def _registered(fields: _Fields, person: str, day: date, source: ImportSource) -> c.Command:
    try:
        category = Category(fields.text("category"))
    except ValueError:
        raise BadLine(f"category: one of {', '.join(Category)}") from None
    residence = fields.object("residence")
    kind = residence.get("kind")
    if kind not in tuple(ResidenceKind):
        raise BadLine(f"residence.kind: one of {', '.join(ResidenceKind)}")
    centre = residence.get("centre_id")
    if centre is not None and not isinstance(centre, str):
        raise BadLine("residence.centre_id: a text is needed")
    if set(residence) - {"kind", "centre_id"}:
        raise BadLine(f"residence.{sorted(set(residence) - {'kind', 'centre_id'})[0]}: unknown field")
    address = _strings(fields.object("postal_address"), "postal_address", ("street", "postal_code", "city"))
    return c.RecordHistoricalRegistration(
        person=person, registered_on=day, full_name=fields.text("full_name"),
        birth_date=fields.day("birth_date"), family=fields.text("family", optional=True),
        unaccompanied_minor=fields.flag("unaccompanied_minor"),
        residence=Residence(ResidenceKind(kind), centre), postal_address=PostalAddress(**address),
        category=category, source=source,
    )  # fmt: skip


def _mapped(fields: _Fields, person: str, day: date, source: ImportSource) -> c.Command:
    mapping = fields.object("mapping")
    languages = mapping.get("languages", [])
    if not isinstance(languages, list) or not all(isinstance(x, str) for x in languages):
        raise BadLine("mapping.languages: a list of texts is needed")
    texts = _strings(
        {k: v for k, v in mapping.items() if k != "languages"}, "mapping",
        ("education", "work_experience", "health_needs", "notes"),
    )  # fmt: skip
    return c.RecordHistoricalMapping(
        person=person, mapping=Mapping(**texts, languages=tuple(languages)), mapped_on=day, source=source
    )


def _selected(fields: _Fields, person: str, day: date, source: ImportSource) -> c.Command:
    year = fields.year("year")
    return c.RecordHistoricalSelection(
        person=person, municipality=fields.text("municipality"), selected_on=day,
        year=year if year is not None else day.year, source=source,
    )  # fmt: skip


def _decided(fields: _Fields, person: str, day: date, source: ImportSource) -> c.Command:
    return c.RecordHistoricalDecision(
        person=person, municipality=fields.text("municipality"), decided_on=day, source=source,
        year=fields.year("year"),
    )  # fmt: skip


def _settled(fields: _Fields, person: str, day: date, source: ImportSource) -> c.Command:
    return c.RecordHistoricalSettlementDate(person=person, settlement_date=day, source=source)


FACTS: dict[str, Callable[[_Fields, str, date, ImportSource], c.Command]] = {
    "registered": _registered,
    "mapped": _mapped,
    "selected": _selected,
    "decided": _decided,
    "settled": _settled,
}
