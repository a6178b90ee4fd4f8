"""Which distribution lists went to a municipality, and whom do they propose (R3, R4)?"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Column, Date, Integer, String, Text

from projections.engine.paging import Source, check_limit, keyset, page, reading, serving_tables, source_keys
from projections.engine.projection import Handler, Projection, TableSpec
from projections.engine.rows import Rows
from projections.engine.store import JSONValue, UTCDateTime
from projections.person_folders import family_label_key, opened_family_label, sealed_family_label
from settlement_domain.model import DistributionList, Family, Refugee
from settlement_domain.personal_keys import (
    ERASED_VIEW,
    ViewKeys,
    opened,
    opened_date,
    opened_name,
    prefetch_view_keys,
    seal_view,
)
from settlement_domain.rules import age_on


def _list_columns() -> list[Column[Any]]:
    return [
        Column("list_id", String(36), primary_key=True),
        Column("municipality", String(4), nullable=False),
        Column("status", String(10), nullable=False),
        Column("respond_by", Date, nullable=False),
        Column(
            "year", Integer, nullable=False
        ),  # the settlement year its accepted persons' places are in (R3)
        Column("persons", Integer, nullable=False),
        Column("accepted", Integer, nullable=True),
        Column("declined", Integer, nullable=True),
        Column("created_at", UTCDateTime, nullable=False),
        Column("closed_at", UTCDateTime, nullable=True),
    ]


def _list_person_columns() -> list[Column[Any]]:
    return [
        Column("list_id", String(36), primary_key=True),
        Column("refugee_id", String(36), primary_key=True),
        Column("family_size", Integer, nullable=False),
        Column("outcome", String(10), nullable=False),
        Column("decline_reason", Text, nullable=True),
    ]


def _person_columns() -> list[Column[Any]]:
    # What a list shows of a person; the name only once the person is selected (or to IMDi).
    return [
        Column("refugee_id", String(36), primary_key=True),
        # Sealed with the person's key (R18): see personal_keys.seal_view.
        Column("full_name", Text, nullable=True),
        Column("birth_date", Text, nullable=True),
        Column("family_id", Text, nullable=True),
        # The family's aggregate id: the opaque reference a municipality sees before selection.
        Column("family_ref", String(36), nullable=True),
        # The key the family's text is sealed with (see person_folders.family_label_key, R18).
        Column("family_label_key", String(80), nullable=True),
        Column("unaccompanied_minor", Boolean, nullable=False),
        Column("category", String(40), nullable=False),
        Column("residence_kind", String(20), nullable=False),
        Column(
            "list_ids", JSONValue, nullable=False
        ),  # the lists whose decline reasons an erasure seals away
    ]


class DistributionListsProjection(Projection):
    """Distribution lists with their persons and each person's outcome (R3, R4)."""

    name = "distribution_lists"
    version = 5  # 3: family_ref; 4: personal values sealed with the person's key, erasure (R18); 5: family text sealed
    tables = (
        TableSpec("lists", _list_columns, ("list_id",), indexes=(("municipality", "status"),)),
        TableSpec("list_persons", _list_person_columns, ("list_id", "refugee_id")),
        TableSpec("persons", _person_columns, ("refugee_id",)),
    )

    def handler_map(self) -> Mapping[type[Any], Handler]:
        return {
            Refugee.RefugeeRegistered: self.registered,
            Family.FamilyMemberAdded: self.joined_family,
            DistributionList.DistributionListCreated: self.created,
            DistributionList.DistributionListApproved: self.approved,
            DistributionList.DistributionListWithdrawn: self.withdrawn,
            Refugee.PersonalDataErased: self.erased,
            Family.FamilyLabelErased: self.family_label_erased,
        }

    def registered(self, e: Refugee.RefugeeRegistered, position: int, rows: Rows) -> None:
        person = str(e.originator_id)
        erased = e.personal.get("erased") is True
        label_key = family_label_key(e)
        rows.put(
            "persons",
            {
                "refugee_id": person,
                "full_name": ERASED_VIEW
                if erased
                else seal_view(rows.keys, person, e.personal.get("full_name")),
                "birth_date": ERASED_VIEW
                if erased
                else seal_view(rows.keys, person, e.personal.get("birth_date")),
                "list_ids": [],
                "family_id": sealed_family_label(rows.keys, e, label_key),
                "family_ref": None if e.family_ref is None else str(e.family_ref),
                "family_label_key": label_key,
                "unaccompanied_minor": bool(e.unaccompanied_minor),
                "category": e.category,
                "residence_kind": e.residence.get("kind"),
            },
        )

    def joined_family(self, e: Family.FamilyMemberAdded, position: int, rows: Rows) -> None:
        self.update(rows, "persons", (str(e.refugee_id),), family_ref=str(e.originator_id))

    def created(self, e: DistributionList.DistributionListCreated, position: int, rows: Rows) -> None:
        list_id = str(e.originator_id)
        family_sizes = {str(m): len(members) for members in e.families.values() for m in members}
        rows.put(
            "lists",
            {
                "list_id": list_id,
                "municipality": e.municipality,
                "status": "open",
                "respond_by": e.respond_by,
                "year": e.year,
                "persons": len(e.refugee_ids),
                "accepted": None,
                "declined": None,
                "created_at": e.timestamp,
                "closed_at": None,
            },
        )
        for refugee_id in map(str, e.refugee_ids):
            person = rows.get("persons", (refugee_id,))
            if person is not None:
                rows.put("persons", {**person, "list_ids": [*person.get("list_ids", []), list_id]})
            rows.put(
                "list_persons",
                {
                    "list_id": list_id,
                    "refugee_id": refugee_id,
                    "family_size": family_sizes.get(refugee_id, 1),
                    "outcome": "proposed",
                    "decline_reason": None,
                },
            )

    def _close(self, rows: Rows, e: Any, **changes: Any) -> None:
        self.update(rows, "lists", (str(e.originator_id),), **changes, closed_at=e.timestamp)

    def approved(self, e: DistributionList.DistributionListApproved, position: int, rows: Rows) -> None:
        list_id = str(e.originator_id)
        self._close(rows, e, status="approved", accepted=len(e.accepted), declined=len(e.declined))
        outcomes = [(str(r), "accepted", None) for r in e.accepted]
        outcomes += [(str(d["refugee_id"]), "declined", d["reason"]) for d in e.declined]
        for refugee_id, outcome, reason in outcomes:
            person = rows.get("list_persons", (list_id, refugee_id))
            if person is None:
                raise LookupError(f"person {refugee_id} is not on list {list_id}")
            rows.put(
                "list_persons",
                {**person, "outcome": outcome, "decline_reason": seal_view(rows.keys, refugee_id, reason)},
            )

    def erased(self, e: Refugee.PersonalDataErased, position: int, rows: Rows) -> None:
        """R18: what a rebuild would write now that the person's key is gone."""
        refugee_id = str(e.originator_id)
        person = rows.get("persons", (refugee_id,))
        if person is None:
            return
        for list_id in person.get("list_ids") or []:
            on_list = rows.get("list_persons", (list_id, refugee_id))
            if on_list is not None and on_list["decline_reason"] is not None:
                rows.put("list_persons", {**on_list, "decline_reason": ERASED_VIEW})
        rows.put(
            "persons",
            {
                **person,
                "full_name": ERASED_VIEW,
                "birth_date": ERASED_VIEW,
                "family_id": None if person["family_id"] is None else ERASED_VIEW,
            },
        )

    def family_label_erased(self, e: Family.FamilyLabelErased, position: int, rows: Rows) -> None:
        """R18: a member was erased and the family's key with it; its text reads as erased for all."""
        for member in map(str, e.members):
            person = rows.get("persons", (member,))
            if person is not None and person["family_id"] is not None:
                rows.put("persons", {**person, "family_id": ERASED_VIEW})

    def withdrawn(self, e: DistributionList.DistributionListWithdrawn, position: int, rows: Rows) -> None:
        self._close(rows, e, status="withdrawn")


PROJECTION = DistributionListsProjection()


def _person(keys: ViewKeys, row: Any, summary_only: bool, today: date) -> dict[str, Any]:
    born = opened_date(keys, row["refugee_id"], row["birth_date"])
    person = {
        "refugee_id": row["refugee_id"],
        "age": age_on(born, today) if born else None,
        "category": row["category"],
        "unaccompanied_minor": row["unaccompanied_minor"],
        "family_id": opened_family_label(keys, row),
        "family_ref": row["family_ref"],
        "family_size": row["family_size"],
        "residence_kind": row["residence_kind"],
        "outcome": row["outcome"],
    }
    # R6: personal details only for IMDi, and for the municipality once it has selected the person.
    if not summary_only or row["outcome"] == "accepted":
        person["full_name"] = opened_name(keys, row["refugee_id"], row["full_name"])
        person["decline_reason"] = opened(keys, row["refugee_id"], row["decline_reason"])
    else:
        person["family_id"] = None  # its text may name the family: the opaque family_ref instead
    return person


def _with_persons(
    conn: Any, tables: dict[str, Any], lists: list[Any], summary_only: bool, today: date
) -> list[dict[str, Any]]:
    if not lists:
        return []
    lp, persons = tables["list_persons"], tables["persons"]
    ids = [row["list_id"] for row in lists]
    found = (
        conn.execute(
            lp.join(persons, lp.c.refugee_id == persons.c.refugee_id)
            .select()
            .with_only_columns(
                lp,
                persons.c.full_name,
                persons.c.birth_date,
                persons.c.family_id,
                persons.c.family_ref,
                persons.c.family_label_key,
                persons.c.unaccompanied_minor,
                persons.c.category,
                persons.c.residence_kind,
            )
            .where(lp.c.list_id.in_(ids))
            .order_by(lp.c.list_id, lp.c.refugee_id)
        )
        .mappings()
        .all()
    )
    keys = source_keys(conn)
    prefetch_view_keys(
        keys,
        {row["refugee_id"] for row in found}
        | {row["family_label_key"] for row in found if row["family_label_key"]},
    )
    by_list: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    for row in found:
        by_list[row["list_id"]].append(_person(keys, row, summary_only, today))
    return [{**dict(row), "refugees": by_list[row["list_id"]]} for row in lists]


def distribution_lists(
    source: Source,
    *,
    today: date,
    summary_only: bool,
    municipality: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """Lists (newest first) with their persons; ``summary_only`` hides names until selection."""
    check_limit(limit)
    with reading(source) as conn:
        tables = serving_tables(conn, PROJECTION)
        lists = tables["lists"]
        query = lists.select()
        if municipality is not None:
            query = query.where(lists.c.municipality == municipality)
        if status is not None:
            query = query.where(lists.c.status == status)
        query = keyset(query, lists.c.created_at, lists.c.list_id, cursor, (datetime, str), limit)
        found = conn.execute(query).mappings().all()
        items = _with_persons(conn, tables, list(found), summary_only, today)
    return page(items, limit, lambda item: [item["created_at"].isoformat(), item["list_id"]])


def distribution_list(
    source: Source, list_id: str, *, today: date, summary_only: bool
) -> dict[str, Any] | None:
    """One list with its persons, or None."""
    with reading(source) as conn:
        tables = serving_tables(conn, PROJECTION)
        lists = tables["lists"]
        row = conn.execute(lists.select().where(lists.c.list_id == str(list_id))).mappings().first()
        if row is None:
            return None
        return _with_persons(conn, tables, [row], summary_only, today)[0]
