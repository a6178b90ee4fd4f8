"""What do the reports of R13 say: requests and decisions over time, settled persons, the nation?"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, Date, Integer, String, Text, extract, or_

from projections import municipalities, person_folders, places
from projections.base import Projection, Rows, TableSpec
from projections.store import UTCDateTime
from projections.views import Source, reading, serving_tables

SMALL = 5


def suppress_small(count: int | None, suppress: bool) -> int | str | None:
    """R13: a count of 1 to 4 persons shows as ``"<5"`` to roles other than imdi and auditor.

    Zero is shown: it identifies nobody, and hiding it would make every empty cell look sensitive.
    """
    if suppress and count is not None and 0 < count < SMALL:
        return "<5"
    return count


def _revision_columns() -> list[Column[Any]]:
    return [
        Column("position", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False),
        Column("municipality", String(4), nullable=False),
        Column("year", Integer, nullable=False),
        Column("kind", String(10), nullable=False),
        Column("revision", Integer, nullable=False),
        Column("persons", Integer, nullable=False),
        Column("unaccompanied_minors", Integer, nullable=False),
        Column("decided_on", Date, nullable=True),
        Column("recorded_by_imdi", Boolean, nullable=True),
        Column("reason", Text, nullable=True),
        Column("recorded_at", UTCDateTime, nullable=False),
    ]


class ReportsProjection(Projection):
    """Every request and quota decision with its revision (R1, R2), for the R13 reports."""

    name = "reports"
    version = 1
    tables = (TableSpec("revisions", _revision_columns, ("position",), indexes=(("municipality", "year"),)),)
    handles = frozenset({"SettlementRequested", "QuotaDecided"})

    def on_SettlementRequested(self, e: Any, position: int, rows: Rows) -> None:
        rows.append(
            "revisions",
            {
                "position": position, "municipality": e.municipality, "year": e.year, "kind": "request",
                "revision": e.revision, "persons": e.persons, "unaccompanied_minors": e.unaccompanied_minors,
                "decided_on": None, "recorded_by_imdi": None, "reason": e.reason, "recorded_at": e.timestamp,
            },
        )

    def on_QuotaDecided(self, e: Any, position: int, rows: Rows) -> None:
        rows.append(
            "revisions",
            {
                "position": position, "municipality": e.municipality, "year": e.year, "kind": "decision",
                "revision": e.revision, "persons": e.persons, "unaccompanied_minors": e.unaccompanied_minors,
                "decided_on": e.decided_on, "recorded_by_imdi": bool(e.recorded_by_imdi), "reason": None,
                "recorded_at": e.timestamp,
            },
        )


PROJECTION = ReportsProjection()


def requests_and_decisions(
    source: Source, *, year_from: int | None = None, year_to: int | None = None, municipality: str | None = None
) -> list[dict[str, Any]]:
    """Per municipality and year: the request and decision that stand, and every revision (R13)."""
    with reading(source) as conn:
        revisions = serving_tables(conn, PROJECTION)["revisions"]
        query = revisions.select()
        if year_from is not None:
            query = query.where(revisions.c.year >= year_from)
        if year_to is not None:
            query = query.where(revisions.c.year <= year_to)
        if municipality is not None:
            query = query.where(revisions.c.municipality == municipality)
        rows = conn.execute(
            query.order_by(revisions.c.municipality, revisions.c.year, revisions.c.position)
        ).mappings().all()
    report: dict[tuple[str, int], dict[str, Any]] = {}
    for row in rows:
        entry = report.setdefault(
            (row["municipality"], row["year"]),
            {"municipality": row["municipality"], "year": row["year"], "request": None, "decision": None,
             "history": []},
        )
        revision = {k: v for k, v in row.items() if k not in ("municipality", "year")}
        entry["history"].append(revision)
        entry[row["kind"]] = revision  # ordered by position: the last one stands
    return list(report.values())


def settled_persons(source: Source, municipality: str, year: int | None = None) -> list[dict[str, Any]]:
    """The specialised report: persons settled in ``municipality`` (in ``year`` of the date), by date."""
    with reading(source) as conn:
        folders = serving_tables(conn, person_folders.PROJECTION)["folders"]
        query = folders.select().where(
            folders.c.settlement_date.is_not(None),
            or_(folders.c.decided_for == municipality,
                folders.c.decided_for.is_(None) & (folders.c.selected_by == municipality)),
        )
        if year is not None:
            query = query.where(extract("year", folders.c.settlement_date) == year)
        rows = conn.execute(query.order_by(folders.c.settlement_date, folders.c.refugee_id)).mappings().all()
    return [
        {
            "refugee_id": r["refugee_id"], "full_name": r["full_name"], "birth_date": r["birth_date"],
            "category": r["category"], "unaccompanied_minor": r["unaccompanied_minor"],
            "family_id": r["family_id"], "settlement_date": r["settlement_date"],
            "date_source": r["date_source"], "decision_year": r["decision_year"],
            "selection_year": r["selection_year"],
        }
        for r in rows
    ]


FIGURES = ("requested", "decided", "settled", "vacant")


def _sum(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def national_report(source: Source, year: int, *, suppress: bool) -> dict[str, Any]:
    """Per municipality and county: requested, decided, settled, vacant persons in ``year`` (R13).

    Every registered municipality appears (nulls where nothing was recorded). ``suppress`` turns
    settled counts of 1 to 4 into ``"<5"``: pass True for roles other than imdi and auditor.
    """
    with reading(source) as conn:
        registry = municipalities.municipalities(conn)
        by_number = {p["municipality"]: p["persons"] for p in places.places_in_year(conn, year)}
    rows: list[dict[str, Any]] = []
    counties: dict[str, list[dict[str, Any]]] = {}
    for m in registry:
        persons = by_number.get(m["number"])
        row = {"municipality": m["number"], "name": m["name"], "county": m["county"]}
        row.update({f: persons[f] if persons else (0 if f == "settled" else None) for f in FIGURES})
        rows.append(row)
        counties.setdefault(m["county"], []).append(row)
    county_rows = [
        {"county": county, **{f: _sum([r[f] for r in members]) for f in FIGURES}}
        for county, members in sorted(counties.items())
    ]
    total = {f: _sum([r[f] for r in rows]) for f in FIGURES}
    for row in [*rows, *county_rows, total]:
        row["settled"] = suppress_small(row["settled"], suppress)
    return {"year": year, "municipalities": rows, "counties": county_rows, "total": total}
