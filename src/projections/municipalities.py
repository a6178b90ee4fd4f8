"""Which municipalities are registered, in which county, and whom do we contact there?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Column, String, Text

from projections.engine.paging import Source, reading, serving_tables
from projections.engine.projection import Handler, Projection, TableSpec
from projections.engine.rows import Rows
from projections.engine.store import JSONValue, UTCDateTime
from settlement_domain.model import Municipality


def _columns() -> list[Column[Any]]:
    return [
        Column("number", String(4), primary_key=True),
        Column("name", Text, nullable=False),
        Column("county", Text, nullable=False),
        Column("contact", JSONValue, nullable=True),
        Column("registered_at", UTCDateTime, nullable=False),
        Column("contact_updated_at", UTCDateTime, nullable=True),
        # R9: the digital address for letters: the contact's, else the one given at registration.
        Column("organisation_number", String(9), nullable=True),
        Column("registered_organisation_number", String(9), nullable=True),
    ]


def _ids_columns() -> list[Column[Any]]:
    # ContactInformationUpdated names only the aggregate id; this maps it back to the number.
    return [Column("aggregate_id", String(36), primary_key=True), Column("number", String(4), nullable=False)]


class MunicipalitiesProjection(Projection):
    """The municipality registry with contact information (lifecycle 1)."""

    name = "municipalities"
    version = 3  # 2: organisation numbers (R9); 3: MunicipalityRenamed
    tables = (
        TableSpec("registry", _columns, ("number",)),
        TableSpec("ids", _ids_columns, ("aggregate_id",)),
    )

    def handler_map(self) -> Mapping[type[Any], Handler]:
        return {
            Municipality.MunicipalityRegistered: self.registered,
            Municipality.ContactInformationUpdated: self.contact_updated,
            Municipality.MunicipalityRenamed: self.renamed,
        }

    def registered(self, e: Municipality.MunicipalityRegistered, position: int, rows: Rows) -> None:
        rows.put("ids", {"aggregate_id": str(e.originator_id), "number": e.number})
        rows.put(
            "registry",
            {
                "number": e.number,
                "name": e.name,
                "county": e.county,
                "contact": None,
                "registered_at": e.timestamp,
                "contact_updated_at": None,
                "organisation_number": e.organisation_number,
                "registered_organisation_number": e.organisation_number,
            },
        )

    def contact_updated(self, e: Municipality.ContactInformationUpdated, position: int, rows: Rows) -> None:
        ids = rows.get("ids", (str(e.originator_id),))
        if ids is None:
            raise LookupError(f"municipality {e.originator_id} was never registered")
        row = rows.get("registry", (ids["number"],))
        assert row is not None  # both rows are written by the same event
        organisation_number = e.contact.get("organisation_number") or row["registered_organisation_number"]
        rows.put(
            "registry",
            {
                **row,
                "contact": e.contact,
                "contact_updated_at": e.timestamp,
                "organisation_number": organisation_number,
            },
        )

    def renamed(self, e: Municipality.MunicipalityRenamed, position: int, rows: Rows) -> None:
        row = rows.get("registry", (e.number,))
        if row is None:
            raise LookupError(f"municipality {e.number} was never registered")
        rows.put("registry", {**row, "name": e.name})


PROJECTION = MunicipalitiesProjection()


def municipalities(source: Source) -> list[dict[str, Any]]:
    """Every registered municipality, by number (357 rows: no pagination needed)."""
    with reading(source) as conn:
        registry = serving_tables(conn, PROJECTION)["registry"]
        rows = conn.execute(registry.select().order_by(registry.c.number)).mappings().all()
    return [dict(r) for r in rows]


def municipality(source: Source, number: str) -> dict[str, Any] | None:
    """One municipality with its contact information, or None."""
    with reading(source) as conn:
        registry = serving_tables(conn, PROJECTION)["registry"]
        row = conn.execute(registry.select().where(registry.c.number == number)).mappings().first()
    return dict(row) if row else None
