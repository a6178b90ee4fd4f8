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


SECONDARY = ":"  # hidden so that a "<5" elsewhere cannot be worked out by subtraction (SSB's mark)
PROTECTED = ("settled", "vacant")


def national_report(source: Source, year: int, *, suppress: bool) -> dict[str, Any]:
    """Per municipality and county: requested, decided, settled, vacant persons in ``year`` (R13).

    Every registered municipality appears (nulls where nothing was recorded). ``suppress`` (True for
    roles other than imdi and auditor) hides settled counts of 1 to 4 as ``"<5"``, and then every cell
    from which a hidden one could be worked out as ``":"``: see ``_protect``.
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
    county_rows = {
        county: {"county": county, **{f: _sum([r[f] for r in members]) for f in FIGURES}}
        for county, members in sorted(counties.items())
    }
    total = {f: _sum([r[f] for r in rows]) for f in FIGURES}
    if suppress:
        _protect(rows, counties, county_rows, total)
    return {"year": year, "municipalities": rows, "counties": list(county_rows.values()), "total": total}


def _protect(
    rows: list[dict[str, Any]], counties: dict[str, list[dict[str, Any]]],
    county_rows: dict[str, dict[str, Any]], total: dict[str, Any],
) -> None:
    """R13 with the cells it would otherwise give away hidden too (primary and secondary suppression).

    Primary: a settled count of 1 to 4 (municipality, county or nation) shows as ``"<5"``.
    Secondary, repeated until nothing changes:

    - in a row whose settled count is hidden, vacant is hidden too (vacant = decided - settled -
      agreed, and decided is shown, so vacant would give settled away when nobody is only agreed);
    - for every sum shown in the report (a county's total over its municipalities, the nation's over
      its counties and over all municipalities), in each of settled and vacant, the sum and its terms
      never have exactly one hidden cell: that one would be the total minus the shown cells. The
      smallest shown term is hidden next to it (settled: the smallest non-zero one, as a hidden zero
      protects nothing once "<5" is known to mean 1 to 4); where there is none, the total is hidden.

    Cells hidden to protect another show ``":"``; only primary cells say ``"<5"``.
    """
    every = [*rows, *county_rows.values(), total]
    hidden: dict[int, set[str]] = {id(row): set() for row in every}
    for row in every:
        if suppress_small(row["settled"], True) == "<5":
            hidden[id(row)].add("settled")
    sums = [(county_rows[county], members) for county, members in counties.items()]
    sums += [(total, list(county_rows.values())), (total, rows)]

    def usable(row: dict[str, Any], figure: str) -> bool:
        value = row[figure]
        return value is not None and figure not in hidden[id(row)] and (figure != "settled" or value > 0)

    changed = True
    while changed:
        changed = False
        for row in every:
            if "settled" in hidden[id(row)] and row["vacant"] is not None and "vacant" not in hidden[id(row)]:
                hidden[id(row)].add("vacant")
                changed = True
        for figure in PROTECTED:
            for whole, parts in sums:
                if sum(figure in hidden[id(r)] for r in (whole, *parts)) != 1:
                    continue
                candidates = [r for r in parts if usable(r, figure)]
                if candidates:
                    pick = min(candidates, key=lambda r: (abs(r[figure]), r.get("municipality") or r["county"]))
                    hidden[id(pick)].add(figure)
                    changed = True
                elif whole[figure] is not None and figure not in hidden[id(whole)]:
                    hidden[id(whole)].add(figure)
                    changed = True
    for row in every:
        for figure in hidden[id(row)]:
            row[figure] = "<5" if figure == "settled" and suppress_small(row[figure], True) == "<5" else SECONDARY
