"""What do the reports of R13 say: requests and decisions over time, settled persons, the nation?"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, ColumnElement, Date, Integer, String, Text, and_, or_

from projections import municipalities, person_folders, places
from projections.engine.paging import Source, reading, serving_tables, source_keys
from projections.engine.projection import Handler, Projection, TableSpec
from projections.engine.rows import Rows
from projections.engine.store import UTCDateTime
from settlement_domain.model import QuotaYear
from settlement_domain.personal_keys import opened_date, opened_name, prefetch_view_keys

SMALL = 5


def suppress_small(count: int | None, suppress: bool) -> int | str | None:
    """R13: a count of 1 to 4 persons shows as ``"<5"`` to roles other than imdi and auditor (primary).

    Zero is shown: it identifies nobody, and hiding it would make every empty cell look sensitive.
    """
    if suppress and count is not None and 0 < count < SMALL:
        return "<5"
    return count


def _revision_columns() -> list[Column[Any]]:
    return [
        Column(
            "position", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False
        ),
        Column("municipality", String(4), nullable=False),
        Column("year", Integer, nullable=False),
        Column("kind", String(10), nullable=False),
        Column("revision", Integer, nullable=False),
        Column("persons", Integer, nullable=False),
        Column("unaccompanied_minors", Integer, nullable=True),  # null: an imported figure without the split
        Column("decided_on", Date, nullable=True),
        Column("recorded_by_imdi", Boolean, nullable=True),
        Column("reason", Text, nullable=True),
        Column("recorded_at", UTCDateTime, nullable=False),
        Column("source_file", Text, nullable=True),  # R15: the file of IMDi's statistics it came from
    ]


class ReportsProjection(Projection):
    """Every request and quota decision with its revision (R1, R2), for the R13 reports."""

    name = "reports"
    version = 2  # 2: figures imported from IMDi's statistics, with their file
    tables = (TableSpec("revisions", _revision_columns, ("position",), indexes=(("municipality", "year"),)),)

    def handler_map(self) -> Mapping[type[Any], Handler]:
        return {QuotaYear.SettlementRequested: self.requested, QuotaYear.QuotaDecided: self.decided}

    def requested(self, e: QuotaYear.SettlementRequested, position: int, rows: Rows) -> None:
        rows.append(
            "revisions",
            {
                "position": position,
                "municipality": e.municipality,
                "year": e.year,
                "kind": "request",
                "revision": e.revision,
                "persons": e.persons,
                "unaccompanied_minors": e.unaccompanied_minors,
                "decided_on": None,
                "recorded_by_imdi": None,
                "reason": e.reason,
                "recorded_at": e.timestamp,
                "source_file": e.source["file_name"] if e.source else None,
            },
        )

    def decided(self, e: QuotaYear.QuotaDecided, position: int, rows: Rows) -> None:
        rows.append(
            "revisions",
            {
                "position": position,
                "municipality": e.municipality,
                "year": e.year,
                "kind": "decision",
                "revision": e.revision,
                "persons": e.persons,
                "unaccompanied_minors": e.unaccompanied_minors,
                "decided_on": e.decided_on,
                "recorded_by_imdi": bool(e.recorded_by_imdi),
                "reason": None,
                "recorded_at": e.timestamp,
                "source_file": e.source["file_name"] if e.source else None,
            },
        )


PROJECTION = ReportsProjection()


def requests_and_decisions(
    source: Source,
    *,
    year_from: int | None = None,
    year_to: int | None = None,
    municipality: str | None = None,
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
        rows = (
            conn.execute(query.order_by(revisions.c.municipality, revisions.c.year, revisions.c.position))
            .mappings()
            .all()
        )
    report: dict[tuple[str, int], dict[str, Any]] = {}
    for row in rows:
        entry = report.setdefault(
            (row["municipality"], row["year"]),
            {
                "municipality": row["municipality"],
                "year": row["year"],
                "request": None,
                "decision": None,
                "history": [],
            },
        )
        revision = {k: v for k, v in row.items() if k not in ("municipality", "year")}
        entry["history"].append(revision)
        entry[row["kind"]] = revision  # ordered by position: the last one stands
    return list(report.values())


def settled_persons(source: Source, municipality: str, year: int | None = None) -> list[dict[str, Any]]:
    """The specialised report: persons settled in a place of ``municipality`` (of ``year``), by date.

    R10: a person's place is the municipality and year of its settlement decision or, before one, of
    its selection; the settlement date may fall in another calendar year than the place.
    """
    with reading(source) as conn:
        folders = serving_tables(conn, person_folders.PROJECTION)["folders"]
        decided_here: ColumnElement[bool] = folders.c.decided_for == municipality
        selected_here: ColumnElement[bool] = folders.c.decided_for.is_(None) & (
            folders.c.selected_by == municipality
        )
        if year is not None:
            decided_here = and_(decided_here, folders.c.decision_year == year)
            selected_here = and_(selected_here, folders.c.selection_year == year)
        query = folders.select().where(
            folders.c.settlement_date.is_not(None), or_(decided_here, selected_here)
        )
        rows = conn.execute(query.order_by(folders.c.settlement_date, folders.c.refugee_id)).mappings().all()
    keys = source_keys(source)
    prefetch_view_keys(
        keys,
        [*(r["refugee_id"] for r in rows), *(r["family_label_key"] for r in rows if r["family_label_key"])],
    )
    return [
        {
            "refugee_id": r["refugee_id"], "full_name": opened_name(keys, r["refugee_id"], r["full_name"]),
            "birth_date": opened_date(keys, r["refugee_id"], r["birth_date"]),
            "category": r["category"], "unaccompanied_minor": r["unaccompanied_minor"],
            "family_id": person_folders.opened_family_label(keys, r), "settlement_date": r["settlement_date"],
            "date_source": r["date_source"], "decision_year": r["decision_year"],
            "selection_year": r["selection_year"],
            "place_year": r["decision_year"] if r["decided_for"] is not None else r["selection_year"],
        }
        for r in rows
    ]  # fmt: skip


FIGURES = ("requested", "decided", "settled", "vacant")
PROTECTED = ("settled", "vacant")  # the figures R13 hides; requested and decided count places, not persons
SWEEPS = 50  # R13: how many times the ranges are narrowed over every sum, at the most
SECONDARY = ":"  # hidden so that a "<5" elsewhere cannot be worked out by subtraction (SSB's mark)


def _sum(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def national_report(source: Source, year: int, *, suppress: bool, viewer: str | None) -> dict[str, Any]:
    """Per municipality and county: requested, decided, settled, vacant persons in ``year`` (R10, R13).

    Every registered municipality appears (nulls where nothing was recorded). ``suppress`` (True for
    roles other than imdi and auditor) hides settled counts of 1 to 4 as ``"<5"``, and then every cell
    from which a hidden one could be worked out as ``":"``, by a viewer who also knows the figures of
    its own municipality ``viewer`` (None: a viewer of no municipality): see :func:`protect`.
    """
    with reading(source) as conn:
        registry = municipalities.municipalities(conn)
        quotas = places.places(conn, year=year)
    report = breakdown(year, registry, quotas)
    if suppress:
        protect(report, viewer=viewer)
    return report


def breakdown(year: int, registry: list[dict[str, Any]], quotas: list[dict[str, Any]]) -> dict[str, Any]:
    """The national report's figures, unsuppressed: each municipality, each county, the nation.

    ``registry`` holds municipalities (number, name, county), ``quotas`` the places rows of ``year``.
    Vacant is decided - (settled + agreed), null while nothing is decided (R10).
    """
    by_number = {q["municipality"]: q for q in quotas}
    rows: list[dict[str, Any]] = []
    counties: dict[str, list[dict[str, Any]]] = {}
    for m in registry:
        quota = by_number.get(m["number"])
        row: dict[str, Any] = {"municipality": m["number"], "name": m["name"], "county": m["county"]}
        # R15: the settled count of IMDi's statistics, published figures shown beside this service's own.
        row["historical_settled"] = quota.get("historical_settled") if quota else None
        if quota is None:
            row.update(requested=None, decided=None, settled=0, vacant=None)
        else:
            decided = quota["decided_persons"]
            used = quota["settled_persons"] + quota["agreed_persons"]
            row.update(
                requested=quota["requested_persons"], decided=decided, settled=quota["settled_persons"],
                vacant=None if decided is None else decided - used,
            )  # fmt: skip
        rows.append(row)
        counties.setdefault(m["county"], []).append(row)
    county_rows = [
        {"county": county, **{f: _sum([r[f] for r in members]) for f in (*FIGURES, "historical_settled")}}
        for county, members in sorted(counties.items())
    ]
    total = {f: _sum([r[f] for r in rows]) for f in (*FIGURES, "historical_settled")}
    return {"year": year, "municipalities": rows, "counties": county_rows, "total": total}


def report_sums(report: dict[str, Any]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Every total the report shows, with the cells it is the sum of: each county over its
    municipalities, the nation over the counties and over all municipalities."""
    members: dict[str, list[dict[str, Any]]] = {}
    for row in report["municipalities"]:
        members.setdefault(row["county"], []).append(row)
    sums = [(county, members.get(county["county"], [])) for county in report["counties"]]
    return [*sums, (report["total"], report["counties"]), (report["total"], report["municipalities"])]


Key = tuple[int, str]


def _pinned(
    report: dict[str, Any],
    sums: list[tuple[dict[str, Any], list[dict[str, Any]]]],
    hidden: dict[int, set[str]],
    known: dict[str, set[int]],
    own: set[int],
) -> list[tuple[dict[str, Any], str]]:
    """The hidden settled counts a viewer knowing ``known`` could pin to one value from the ranges.

    Each settled count the viewer does not know gets a range: a ``"<5"`` is 1 to 4; a ``":"`` is 0 or
    at least 5 (only ``"<5"`` marks 1 to 4). Shown and known counts are exact. Every sum narrows its
    cells' ranges from the others' (a part from the total less the others' ranges, a total from its
    parts'): ``"<5"`` beside ``"<5"`` in a county of 8 comes out as 4 each. A cell whose range is one
    value is pinned. The narrowing sweeps the sums at most ``SWEEPS`` times. Not reasoned about here
    (known gaps, docs/domain.md R13): whole-number gaps (two ``":"`` summing to 5 can only be 0 and 5),
    and what a hidden vacant count, tied to settled through the agreed persons no report shows, tells
    about a settled count's range. Trying every value of such ranges cost 7 to 80 s for a national
    report of 357 municipalities; this costs about 0.4 s.
    """
    every = [*report["municipalities"], *report["counties"], report["total"]]
    lo: dict[int, float] = {}
    hi: dict[int, float] = {}
    exact: dict[int, int] = {}
    gap: set[int] = set()  # ":": 0 or at least SMALL
    cells: dict[int, dict[str, Any]] = {}
    for row in every:
        value, key = row["settled"], id(row)
        if value is None:
            continue
        if "settled" not in hidden[key] or key in known["settled"]:
            exact[key] = value
            continue
        cells[key] = row
        if 0 < value < SMALL:
            lo[key], hi[key] = 1, SMALL - 1
        else:
            lo[key], hi[key] = 0, math.inf
            gap.add(key)
    equations = [
        (id(whole), [id(p) for p in parts if p["settled"] is not None])
        for whole, parts in sums
        if whole["settled"] is not None
    ]

    def settle(lo: dict[int, float], hi: dict[int, float]) -> bool:
        """Narrows ``lo``/``hi`` over every sum, at most ``SWEEPS`` times; False if no figures fit."""

        def bounds(key: int) -> tuple[float, float]:
            return (exact[key], exact[key]) if key in exact else (lo[key], hi[key])

        def narrow(key: int, low: float, high: float) -> bool | None:
            """True if the range narrowed, False if not, None if it came out empty."""
            if key in exact:
                return None if not low <= exact[key] <= high else False
            low, high = max(lo[key], low), min(hi[key], high)
            if key in gap:  # 0 or at least SMALL: cut 1 to 4 off the ends
                low = SMALL if 0 < low < SMALL else low
                high = 0 if 0 < high < SMALL else high
            if low > high:
                return None
            if (low, high) == (lo[key], hi[key]):
                return False
            lo[key], hi[key] = low, high
            return True

        for _ in range(SWEEPS):
            changed = False
            for whole, parts in equations:
                spans = [bounds(p) for p in parts]
                result = narrow(whole, sum(a for a, _ in spans), sum(b for _, b in spans))
                if result is None:
                    return False
                changed |= result
                total_low, total_high = bounds(whole)
                for n, part in enumerate(parts):
                    others_low = sum(a for m, (a, _) in enumerate(spans) if m != n)
                    others_high = sum(b for m, (_, b) in enumerate(spans) if m != n)
                    result = narrow(part, total_low - others_high, total_high - others_low)
                    if result is None:
                        return False
                    changed |= result
            if not changed:
                break
        return True

    settle(lo, hi)
    return [(cells[key], "settled") for key in cells if lo[key] == hi[key]]


def protect(report: dict[str, Any], *, viewer: str | None) -> None:
    """R13 in place: small counts hidden, and every cell hidden that would give a hidden one away.

    The viewer sees the report and knows its own municipality's figures (``viewer``), whether shown
    or not. Whatever the report hides from a viewer of no municipality it hides from every viewer as
    well, so that a report passed on gives nothing away either. Primary: a settled count of 1 to 4
    (municipality, county or nation) shows as ``"<5"``. Secondary, repeated until nothing changes:

    - in a row whose settled count is hidden, vacant is hidden too (vacant = decided - settled -
      agreed, and decided is shown, so vacant would give settled away when nobody is only agreed);
    - every sum in the report (see :func:`report_sums`), in each of settled and vacant, has none or
      at least two cells the viewer does not know: with exactly one, it would be the total minus the
      known cells. Cells the viewer does not know are the hidden ones other than its own
      municipality's (for a viewer of no municipality: every hidden one). The smallest shown
      part the viewer does not know is hidden next to the single one (settled: a non-zero one
      first, as a hidden zero protects little once "<5" is known to mean 1 to 4); where there is
      none, the total is hidden. A total of nothing but the viewer's
      own municipality is known to it, hidden or not.

    Then the ranges, since ``"<5"`` says 1 to 4 (see :func:`_pinned`): ``"<5"`` and ``"<5"`` in a
    county of 8 are 4 each, and beside a shown 9 in a county of 11, 1 each. Where a hidden cell the
    viewer does not know can be pinned to one value so, one more cell is hidden beside it, as above
    (the smallest shown part of a sum it is in, else that sum's total), and all of it is redone until
    none can. What the marks themselves give away is left: the viewer's own 3 in a county shown
    ``"<5"`` leaves 1 for a neighbour's ``"<5"`` with every cell hidden already.

    Cells hidden to protect another show ``":"``; only primary cells say ``"<5"``.
    """
    rows, counties, total = report["municipalities"], report["counties"], report["total"]
    every = [*rows, *counties, total]
    sums = report_sums(report)
    hidden: dict[int, set[str]] = {id(row): set() for row in every}
    own = {id(row) for row in rows if viewer is not None and row["municipality"] == viewer}
    for row in every:
        if suppress_small(row["settled"], True) == "<5":
            hidden[id(row)].add("settled")

    def knowledge(mine: set[int]) -> dict[str, set[int]]:
        """The cells known unseen: the rows ``mine``, and any total of nothing else (a county of one)."""
        known: dict[str, set[int]] = {}
        for figure in PROTECTED:
            known[figure] = set(mine)
            grew = True
            while grew:
                grew = False
                for whole, parts in sums:
                    if id(whole) not in known[figure] and all(
                        id(p) in known[figure] or p[figure] is None for p in parts
                    ):
                        known[figure].add(id(whole))
                        grew = True
        return known

    # A viewer of no municipality, and this viewer with its own municipality's figures.
    viewers = [knowledge(set()), knowledge(own)] if own else [knowledge(set())]

    def hideable(row: dict[str, Any], figure: str, known: dict[str, set[int]], *, zero: bool) -> bool:
        value = row[figure]
        return (
            value is not None
            and figure not in hidden[id(row)]
            and id(row) not in known[figure]
            and (zero or figure != "settled" or value != 0)
        )

    def name(row: dict[str, Any]) -> str:
        return row.get("municipality") or row.get("county") or ""

    def cover(row: dict[str, Any], figure: str, known: dict[str, set[int]]) -> bool:
        """Hide one more cell beside ``row``'s ``figure``, which the viewer could pin down from the
        ranges: the smallest shown part (non-zero first) of a sum it is in, else such a sum's total,
        else the same in the other figure's sums (the two are tied by vacant = decided - settled -
        agreed). False when every such cell is hidden or known already."""
        for fig in (figure, *(f for f in PROTECTED if f != figure)):
            near = [
                (w, ps) for w, ps in sums if w[fig] is not None and (w is row or any(p is row for p in ps))
            ]
            parts = [p for _, ps in near for p in ps]
            candidates = [p for p in parts if hideable(p, fig, known, zero=False)] or [
                p for p in parts if hideable(p, fig, known, zero=True)
            ]
            candidates = candidates or [w for w, _ in near if hideable(w, fig, known, zero=True)]
            if candidates:
                pick = min(candidates, key=lambda r: (abs(r[fig]), name(r)))
                hidden[id(pick)].add(fig)
                return True
        return False

    while True:
        changed = True
        while changed:
            changed = False
            for row in every:
                if (
                    "settled" in hidden[id(row)]
                    and row["vacant"] is not None
                    and "vacant" not in hidden[id(row)]
                ):
                    hidden[id(row)].add("vacant")
                    changed = True
            for known, figure, (whole, parts) in itertools.product(viewers, PROTECTED, sums):
                cells = (whole, *parts)
                if (
                    whole[figure] is None
                    or sum(figure in hidden[id(r)] and id(r) not in known[figure] for r in cells) != 1
                ):
                    continue
                # Exactly one cell the viewer does not know: hide a part beside it, else the total.
                candidates = [r for r in parts if hideable(r, figure, known, zero=False)] or [
                    r for r in parts if hideable(r, figure, known, zero=True)
                ]
                if candidates:
                    pick = min(candidates, key=lambda r: (abs(r[figure]), name(r)))
                    hidden[id(pick)].add(figure)
                else:
                    # No part left to hide: the one unknown cell is a part, and the total is shown (a
                    # hidden total with parts all known to the viewer would be known to it too).
                    hidden[id(whole)].add(figure)
                changed = True
        # Reasoning from the ranges ("<5" is 1 to 4): hide one more cell beside any cell pinned down.
        pinned = (
            (row, figure, known)
            for known in viewers
            for row, figure in _pinned(report, sums, hidden, known, own)
        )
        if not any(cover(*cell) for cell in pinned):
            break
    for row in every:
        for figure in hidden[id(row)]:
            row[figure] = (
                "<5" if figure == "settled" and suppress_small(row[figure], True) == "<5" else SECONDARY
            )
