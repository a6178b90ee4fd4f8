"""How many places has a municipality been asked for, decided, used and left vacant in a year (R10)?"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Column, Integer, String

from projections.base import Projection, Rows, TableSpec
from projections.views import Source, reading, serving_tables


def _quota_columns() -> list[Column[Any]]:
    return [
        Column("municipality", String(4), primary_key=True),
        Column("year", Integer, primary_key=True),
        Column("requested_persons", Integer, nullable=True),
        Column("requested_minors", Integer, nullable=True),
        Column("decided_persons", Integer, nullable=True),
        Column("decided_minors", Integer, nullable=True),
        Column("settled_persons", Integer, nullable=False),
        Column("settled_minors", Integer, nullable=False),
        Column("agreed_persons", Integer, nullable=False),
        Column("agreed_minors", Integer, nullable=False),
    ]


def _person_columns() -> list[Column[Any]]:
    # Where each person counts: settled (by the settlement date's year) or else agreed.
    return [
        Column("refugee_id", String(36), primary_key=True),
        Column("minor", Boolean, nullable=False),
        Column("agreed_municipality", String(4), nullable=True),
        Column("agreed_year", Integer, nullable=True),
        Column("settled_municipality", String(4), nullable=True),
        Column("settled_year", Integer, nullable=True),
    ]


def new_quota_row(municipality: str, year: int) -> dict[str, Any]:
    """A municipality and year without records: nothing requested or decided (null), nobody counted."""
    return {
        "municipality": municipality, "year": year,
        "requested_persons": None, "requested_minors": None,
        "decided_persons": None, "decided_minors": None,
        "settled_persons": 0, "settled_minors": 0, "agreed_persons": 0, "agreed_minors": 0,
    }


class PlacesProjection(Projection):
    """Places per municipality and year, in persons and unaccompanied minors (R10)."""

    name = "places"
    version = 1
    tables = (
        TableSpec("quotas", _quota_columns, ("municipality", "year")),
        TableSpec("persons", _person_columns, ("refugee_id",)),
    )
    handles = frozenset(
        {
            "SettlementRequested",
            "QuotaDecided",
            "RefugeeRegistered",
            "RefugeeSelected",
            "SettlementDecided",
            "SettlementDateRegistered",
            "SettlementDateCorrected",
        }
    )

    @staticmethod
    def _quota(rows: Rows, municipality: str, year: int) -> dict[str, Any]:
        return rows.get("quotas", (municipality, year)) or new_quota_row(municipality, year)

    def on_SettlementRequested(self, e: Any, position: int, rows: Rows) -> None:
        row = self._quota(rows, e.municipality, e.year)
        row["requested_persons"], row["requested_minors"] = e.persons, e.unaccompanied_minors
        rows.put("quotas", row)

    def on_QuotaDecided(self, e: Any, position: int, rows: Rows) -> None:
        row = self._quota(rows, e.municipality, e.year)
        row["decided_persons"], row["decided_minors"] = e.persons, e.unaccompanied_minors
        rows.put("quotas", row)

    def on_RefugeeRegistered(self, e: Any, position: int, rows: Rows) -> None:
        rows.put(
            "persons",
            {
                "refugee_id": str(e.originator_id), "minor": bool(e.unaccompanied_minor),
                "agreed_municipality": None, "agreed_year": None,
                "settled_municipality": None, "settled_year": None,
            },
        )

    def _count(self, rows: Rows, person: dict[str, Any], sign: int) -> None:
        if person["settled_municipality"] is not None:
            where, kind = (person["settled_municipality"], person["settled_year"]), "settled"
        elif person["agreed_municipality"] is not None:
            where, kind = (person["agreed_municipality"], person["agreed_year"]), "agreed"
        else:
            return
        row = self._quota(rows, *where)
        row[f"{kind}_persons"] += sign
        if person["minor"]:
            row[f"{kind}_minors"] += sign
        rows.put("quotas", row)

    def _move(self, rows: Rows, e: Any, **changes: Any) -> None:
        person = rows.get("persons", (str(e.originator_id),))
        if person is None:
            raise LookupError(f"person {e.originator_id} was never registered")
        self._count(rows, person, -1)
        person = {**person, **changes}
        self._count(rows, person, +1)
        rows.put("persons", person)

    def on_RefugeeSelected(self, e: Any, position: int, rows: Rows) -> None:
        self._move(rows, e, agreed_municipality=e.municipality, agreed_year=e.year)

    def on_SettlementDecided(self, e: Any, position: int, rows: Rows) -> None:
        self._move(rows, e, agreed_municipality=e.municipality, agreed_year=e.year)

    def on_SettlementDateRegistered(self, e: Any, position: int, rows: Rows) -> None:
        self._move(rows, e, settled_municipality=e.municipality, settled_year=e.settlement_date.year)

    def on_SettlementDateCorrected(self, e: Any, position: int, rows: Rows) -> None:
        self._move(rows, e, settled_municipality=e.municipality, settled_year=e.settlement_date.year)


PROJECTION = PlacesProjection()


def _split(requested: int | None, decided: int | None, settled: int, agreed: int) -> dict[str, int | None]:
    used = settled + agreed
    return {
        "requested": requested, "decided": decided, "settled": settled, "agreed": agreed,
        "used": used, "vacant": None if decided is None else decided - used,
    }


def places_of(row: dict[str, Any]) -> dict[str, Any]:
    """One row in API.md's places shape."""
    return {
        "municipality": row["municipality"],
        "year": row["year"],
        "persons": _split(row["requested_persons"], row["decided_persons"], row["settled_persons"],
                          row["agreed_persons"]),
        "unaccompanied_minors": _split(row["requested_minors"], row["decided_minors"], row["settled_minors"],
                                       row["agreed_minors"]),
    }



def places_for_year(source: Source, municipality: str, year: int) -> dict[str, Any]:
    """R10 for one municipality and year; a year without any record answers nulls and zeros."""
    with reading(source) as conn:
        quotas = serving_tables(conn, PROJECTION)["quotas"]
        row = conn.execute(
            quotas.select().where(quotas.c.municipality == municipality, quotas.c.year == year)
        ).mappings().first()
    return places_of(dict(row)) if row else places_of(new_quota_row(municipality, year))


def places_by_year(source: Source, municipality: str) -> list[dict[str, Any]]:
    """R10 for every year with any data for the municipality, newest first."""
    with reading(source) as conn:
        quotas = serving_tables(conn, PROJECTION)["quotas"]
        rows = conn.execute(
            quotas.select().where(quotas.c.municipality == municipality).order_by(quotas.c.year.desc())
        ).mappings().all()
    return [places_of(dict(r)) for r in rows]


def places_in_year(source: Source, year: int) -> list[dict[str, Any]]:
    """R10 for every municipality with data in ``year`` (the national report builds on it)."""
    with reading(source) as conn:
        quotas = serving_tables(conn, PROJECTION)["quotas"]
        rows = conn.execute(
            quotas.select().where(quotas.c.year == year).order_by(quotas.c.municipality)
        ).mappings().all()
    return [places_of(dict(r)) for r in rows]
