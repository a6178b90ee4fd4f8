"""How many places has a municipality been asked for, decided, used and left vacant in a year (R10)?

Counted in persons: every person takes one place, in the municipality and settlement year of its
settlement decision or, before a decision, of its selection (the distribution list's year). A person
with a settlement date counts as settled there, whatever calendar year the date falls in; one without
counts as agreed. A place taken by a settlement decision with an override reason where none was vacant
counts over quota.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Boolean, Column, Integer, Select, String, Table, and_, bindparam, func, literal, select

from projections import completeness as completeness_model
from projections import municipalities as municipalities_model
from projections.engine.paging import Source, reading, serving_tables
from projections.engine.projection import Handler, Projection, TableSpec
from projections.engine.rows import Row, Rows
from projections.engine.serving import OneStatementRead, state_row
from settlement_domain.model import QuotaYear, Refugee


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
        Column("over_quota_persons", Integer, nullable=False),
        Column("over_quota_minors", Integer, nullable=False),
        # R15: figures from IMDi's statistics, marked as such: whether the request and the decision in
        # force came from an import, and the year's settled count as the statistics give it.
        Column("historical_request", Boolean, nullable=False),
        Column("historical_decision", Boolean, nullable=False),
        Column("historical_settled", Integer, nullable=True),
    ]


def _person_columns() -> list[Column[Any]]:
    # Each person's one place (municipality and year), whether settled there, and whether over quota.
    return [
        Column("refugee_id", String(36), primary_key=True),
        Column("minor", Boolean, nullable=False),
        Column("municipality", String(4), nullable=True),
        Column("year", Integer, nullable=True),
        Column("settled", Boolean, nullable=False),
        Column("over_quota", Boolean, nullable=False),  # its person's place is over the quota
        Column("over_quota_minor", Boolean, nullable=False),  # its minor's place is over the quota
    ]


def _empty_quota(municipality: str, year: int) -> Row:
    """A municipality and year without records: nothing requested or decided (null), nobody counted."""
    return {
        "municipality": municipality, "year": year,
        "requested_persons": None, "requested_minors": None,
        "decided_persons": None, "decided_minors": None,
        "settled_persons": 0, "settled_minors": 0, "agreed_persons": 0, "agreed_minors": 0,
        "over_quota_persons": 0, "over_quota_minors": 0,
        "historical_request": False, "historical_decision": False, "historical_settled": None,
    }  # fmt: skip


def _shortfall(quota: Row, minor: bool) -> tuple[bool, bool]:
    """Whether one more person (a minor when ``minor``) finds no vacant place in ``quota`` (R10):
    among the persons' places, and among the minors' places (only a minor needs one of those)."""
    if quota["decided_persons"] is None:
        return True, minor
    used_persons = quota["settled_persons"] + quota["agreed_persons"]
    used_minors = quota["settled_minors"] + quota["agreed_minors"]
    return (
        used_persons + 1 > quota["decided_persons"],
        # A decision without minors (an import of IMDi's statistics) sets no separate limit for them (R15).
        minor
        and used_minors + 1
        > (quota["decided_minors"] if quota["decided_minors"] is not None else quota["decided_persons"]),
    )


class PlacesProjection(Projection):
    """Places per municipality and year, in persons and unaccompanied minors (R10)."""

    name = "places"
    version = 3  # 2: settled by the place's year, not the date's; over quota counted. 3: historical figures
    tables = (
        TableSpec("quotas", _quota_columns, ("municipality", "year")),
        TableSpec("persons", _person_columns, ("refugee_id",)),
    )

    def handler_map(self) -> Mapping[type[Any], Handler]:
        return {
            QuotaYear.SettlementRequested: self.requested,
            QuotaYear.QuotaDecided: self.quota_decided,
            QuotaYear.HistoricalSettledCountRecorded: self.historical_settled,
            Refugee.RefugeeRegistered: self.registered,
            Refugee.RefugeeSelected: self.selected,
            Refugee.SettlementDecided: self.settlement_decided,
            Refugee.SettlementDateRegistered: self.date_registered,
            Refugee.SettlementDateCorrected: self.date_corrected,
        }

    @staticmethod
    def _quota(rows: Rows, municipality: str, year: int) -> Row:
        return rows.get("quotas", (municipality, year)) or _empty_quota(municipality, year)

    def requested(self, e: QuotaYear.SettlementRequested, position: int, rows: Rows) -> None:
        row = self._quota(rows, e.municipality, e.year)
        row["requested_persons"], row["requested_minors"] = e.persons, e.unaccompanied_minors
        row["historical_request"] = e.source is not None
        rows.put("quotas", row)

    def quota_decided(self, e: QuotaYear.QuotaDecided, position: int, rows: Rows) -> None:
        row = self._quota(rows, e.municipality, e.year)
        row["decided_persons"], row["decided_minors"] = e.persons, e.unaccompanied_minors
        row["historical_decision"] = e.source is not None
        rows.put("quotas", row)

    def historical_settled(
        self, e: QuotaYear.HistoricalSettledCountRecorded, position: int, rows: Rows
    ) -> None:
        row = self._quota(rows, e.municipality, e.year)
        row["historical_settled"] = e.persons
        rows.put("quotas", row)

    def registered(self, e: Refugee.RefugeeRegistered, position: int, rows: Rows) -> None:
        rows.put(
            "persons",
            {
                "refugee_id": str(e.originator_id), "minor": bool(e.unaccompanied_minor),
                "municipality": None, "year": None, "settled": False, "over_quota": False,
                "over_quota_minor": False,
            },
        )  # fmt: skip

    def _count(self, rows: Rows, person: Row, sign: int) -> None:
        """Adds (``sign`` +1) or removes (-1) the person's place in the counts of its municipality and year."""
        if person["municipality"] is None:
            return
        row = self._quota(rows, person["municipality"], person["year"])
        kind = "settled" if person["settled"] else "agreed"
        row[f"{kind}_persons"] += sign
        row[f"{kind}_minors"] += sign * person["minor"]
        row["over_quota_persons"] += sign * person["over_quota"]
        row["over_quota_minors"] += sign * person["over_quota_minor"]
        rows.put("quotas", row)

    def _person(self, rows: Rows, e: Any) -> Row:
        person = rows.get("persons", (str(e.originator_id),))
        if person is None:
            raise LookupError(f"person {e.originator_id} was never registered")
        return person

    def _move(self, rows: Rows, person: Row, **changes: Any) -> None:
        self._count(rows, person, -1)
        person = {**person, **changes}
        self._count(rows, person, +1)
        rows.put("persons", person)

    def selected(self, e: Refugee.RefugeeSelected, position: int, rows: Rows) -> None:
        # The place is taken in the list's year (R4).
        person = self._person(rows, e)
        self._move(
            rows, person, municipality=e.municipality, year=e.year, over_quota=False, over_quota_minor=False
        )

    def settlement_decided(self, e: Refugee.SettlementDecided, position: int, rows: Rows) -> None:
        # R5: a decision naming the place the person already has keeps it; another moves it there,
        # over quota when it needed the override (no vacant place just before the move).
        person = self._person(rows, e)
        if (person["municipality"], person["year"]) == (e.municipality, e.year):
            return
        target = self._quota(rows, e.municipality, e.year)
        persons_short, minors_short = _shortfall(target, person["minor"])
        overridden = e.override_reason is not None
        self._move(
            rows, person, municipality=e.municipality, year=e.year,
            over_quota=overridden and persons_short, over_quota_minor=overridden and minors_short,
        )  # fmt: skip

    def date_registered(self, e: Refugee.SettlementDateRegistered, position: int, rows: Rows) -> None:
        self._move(rows, self._person(rows, e), settled=True)

    def date_corrected(self, e: Refugee.SettlementDateCorrected, position: int, rows: Rows) -> None:
        self._move(rows, self._person(rows, e), settled=True)


PROJECTION = PlacesProjection()


def places(
    source: Source, *, municipality: str | None = None, year: int | None = None
) -> list[dict[str, Any]]:
    """R10's rows for ``municipality`` and ``year`` (either or both may be left open), newest year first,
    then by municipality. A municipality and year without any record has no row.

    Each row: municipality, year, and per persons and minors the requested and decided numbers (null
    when none is recorded), settled, agreed and over-quota counts. Used is settled + agreed, vacant is
    decided - used.
    """
    with reading(source) as conn:
        quotas = serving_tables(conn, PROJECTION)["quotas"]
        query = quotas.select()
        if municipality is not None:
            query = query.where(quotas.c.municipality == municipality)
        if year is not None:
            query = query.where(quotas.c.year == year)
        found = conn.execute(query.order_by(quotas.c.year.desc(), quotas.c.municipality)).mappings().all()
    return [dict(row) for row in found]


# One municipality's places in one statement (the API's ``GET /municipalities/{number}/places``) ----------

ALL_YEARS, ONE_YEAR = "all", "year"  # the two variants of the statement


def _one_municipality(tables: Mapping[str, Mapping[str, Table]], variant: str) -> Select[Any]:
    """Whether the municipality is registered, its quota rows (all years, or ``:year``) and each
    year's completeness marks (its own and the whole year's, R19), beside the state of the three
    read models. Starts from the state's one row, so that it answers a row whatever it finds."""
    names = (municipalities_model.PROJECTION.name, PROJECTION.name, completeness_model.PROJECTION.name)
    state = state_row(names)
    registry = tables[names[0]]["registry"]
    quotas = tables[names[1]]["quotas"]
    own_mark = tables[names[2]]["marks"].alias("own_mark")
    year_mark = tables[names[2]]["marks"].alias("year_mark")
    on_quota = quotas.c.municipality == registry.c.number
    year: Any = quotas.c.year
    if variant == ONE_YEAR:
        on_quota = and_(on_quota, quotas.c.year == bindparam("year"))
        year = func.coalesce(quotas.c.year, bindparam("year"))
    joined = (
        state.outerjoin(registry, registry.c.number == bindparam("municipality"))
        .outerjoin(quotas, on_quota)
        .outerjoin(own_mark, and_(own_mark.c.year == year, own_mark.c.municipality == registry.c.number))
        .outerjoin(
            year_mark,
            and_(
                year_mark.c.year == year, year_mark.c.municipality == literal(completeness_model.WHOLE_YEAR)
            ),
        )
    )
    return (
        select(
            *state.c,
            registry.c.number.label("registered"),
            *quotas.c,
            own_mark.c.complete.label("complete_own"),
            year_mark.c.complete.label("complete_year"),
        )
        .select_from(joined)
        .order_by(quotas.c.year.desc())
    )


PLACES_OF_ONE = OneStatementRead(
    [municipalities_model.PROJECTION, PROJECTION, completeness_model.PROJECTION], _one_municipality
)
QUOTA_COLUMNS = tuple(column.name for column in _quota_columns())


def places_of_one(rows: Sequence[Any]) -> list[dict[str, Any]] | None:
    """The rows of :data:`PLACES_OF_ONE` as :func:`places` rows with ``complete`` (R19: the
    municipality's own mark, else the whole year's, else false), newest year first; None when the
    municipality is not registered."""
    if rows[0]["registered"] is None:
        return None
    found = []
    for row in rows:
        if row["year"] is None:
            continue  # the municipality has no quota row (of that year)
        place = {name: row[name] for name in QUOTA_COLUMNS}
        own, whole = row["complete_own"], row["complete_year"]
        place["complete"] = bool(own if own is not None else whole)
        found.append(place)
    return found


def year_complete(rows: Sequence[Any]) -> bool:
    """For the one-year variant: whether the asked year is complete for the municipality (R19), also
    when it has no quota row that year."""
    own, whole = rows[0]["complete_own"], rows[0]["complete_year"]
    return bool(own if own is not None else whole)
