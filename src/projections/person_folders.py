"""What do we know about this person, and who still awaits a settlement date (R6)?"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Boolean, Column, Date, Integer, String, Text, and_, or_

from projections.engine.paging import (
    Source,
    check_limit,
    decode_cursor,
    page,
    reading,
    serving_tables,
    source_keys,
)
from projections.engine.projection import Handler, Projection, TableSpec
from projections.engine.rows import Rows
from projections.engine.store import JSONValue, UTCDateTime
from settlement_domain.model import Family, Refugee
from settlement_domain.personal_keys import (
    ERASED_NAME,
    ERASED_VIEW,
    Erased,
    ViewKeys,
    aggregate_key_id,
    open_view,
    opened,
    opened_date,
    opened_name,
    prefetch_view_keys,
    seal_view,
)


def _folder_columns() -> list[Column[Any]]:
    return [
        Column("refugee_id", String(36), primary_key=True),
        # Personal values are sealed with the person's key (R18): see personal_keys.seal_view.
        Column("full_name", Text, nullable=True),
        Column("birth_date", Text, nullable=True),
        Column("postal_address", Text, nullable=True),
        Column("family_id", Text, nullable=True),
        # The key the family's text is sealed with: the family's (``family:<id>``), whose deletion makes
        # it read as erased for every member (R18); a registration that names no family id: the person's.
        Column("family_label_key", String(80), nullable=True),
        Column("unaccompanied_minor", Boolean, nullable=False),
        Column("residence", JSONValue, nullable=False),
        Column("category", String(40), nullable=False),
        Column("mapping", Text, nullable=True),
        Column("erased", Boolean, nullable=False),
        Column("deviation_ids", JSONValue, nullable=False),  # whose texts an erasure seals away
        Column("status", String(20), nullable=False),
        Column("list_id", String(36), nullable=True),
        Column("proposed_to", String(4), nullable=True),
        Column("selected_by", String(4), nullable=True),
        Column("selected_on", Date, nullable=True),
        Column("selection_year", Integer, nullable=True),
        Column("decided_for", String(4), nullable=True),
        Column("decision_year", Integer, nullable=True),
        Column("decided_on", Date, nullable=True),
        Column("settlement_date", Date, nullable=True),
        Column("date_source", String(20), nullable=True),
        Column("open_deviations", Integer, nullable=False),
        Column("registered_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
    ]


def _deviation_columns() -> list[Column[Any]]:
    return [
        Column("refugee_id", String(36), primary_key=True),
        Column("deviation_id", String(36), primary_key=True),
        Column("kind", Text, nullable=False),
        Column("description", Text, nullable=False),
        Column("registered_private_by_known_deviation", Boolean, nullable=False),
        Column("status", String(10), nullable=False),
        Column("opened_at", UTCDateTime, nullable=False),
        Column("resolved_at", UTCDateTime, nullable=True),
        Column("resolution_note", Text, nullable=True),
    ]


class PersonFoldersProjection(Projection):
    """Person folders (personmappe) with deviations, for IMDi and the selecting municipality (R6)."""

    name = "person_folders"
    version = 3  # 2: personal values sealed with the person's key, erasure (R18); 3: the family's text sealed
    tables = (
        TableSpec(
            "folders",
            _folder_columns,
            ("refugee_id",),
            indexes=(("selected_by",), ("decided_for",)),
        ),
        TableSpec("deviations", _deviation_columns, ("refugee_id", "deviation_id")),
    )

    def handler_map(self) -> Mapping[type[Any], Handler]:
        return {
            Refugee.RefugeeRegistered: self.registered,
            Refugee.MappingRecorded: self.mapping_recorded,
            Refugee.RefugeeProposed: self.proposed,
            Refugee.ProposalWithdrawn: self.proposal_withdrawn,
            Refugee.RefugeeDeclined: self.declined,
            Refugee.RefugeeSelected: self.selected,
            Refugee.SettlementDecided: self.settlement_decided,
            Refugee.SettlementDateRegistered: self.date_registered,
            Refugee.SettlementDateCorrected: self.date_corrected,
            Refugee.DeviationOpened: self.deviation_opened,
            Refugee.DeviationResolved: self.deviation_resolved,
            Refugee.PersonalDataErased: self.erased,
            Family.FamilyLabelErased: self.family_label_erased,
        }

    def registered(self, e: Refugee.RefugeeRegistered, position: int, rows: Rows) -> None:
        personal = e.personal
        person = str(e.originator_id)
        erased = personal.get("erased") is True
        label_key = family_label_key(e)
        rows.put(
            "folders",
            {
                "refugee_id": person,
                "full_name": ERASED_VIEW
                if erased
                else seal_view(rows.keys, person, personal.get("full_name")),
                "birth_date": ERASED_VIEW
                if erased
                else seal_view(rows.keys, person, personal.get("birth_date")),
                "postal_address": ERASED_VIEW
                if erased
                else seal_view(rows.keys, person, personal.get("postal_address")),
                "family_id": sealed_family_label(rows.keys, e, label_key),
                "family_label_key": label_key,
                "unaccompanied_minor": bool(e.unaccompanied_minor),
                "residence": e.residence,
                "category": e.category,
                "mapping": None,
                "erased": False,
                "deviation_ids": [],
                "status": "registered",
                "list_id": None,
                "proposed_to": None,
                "selected_by": None,
                "selected_on": None,
                "selection_year": None,
                "decided_for": None,
                "decision_year": None,
                "decided_on": None,
                "settlement_date": None,
                "date_source": None,
                "open_deviations": 0,
                "registered_at": e.timestamp,
                "updated_at": e.timestamp,
            },
        )

    def _update(self, rows: Rows, e: Any, **changes: Any) -> dict[str, Any]:
        folder = rows.get("folders", (str(e.originator_id),))
        if folder is None:
            raise LookupError(f"person {e.originator_id} was never registered")
        folder = {**folder, **changes, "updated_at": e.timestamp}
        rows.put("folders", folder)
        return folder

    def mapping_recorded(self, e: Refugee.MappingRecorded, position: int, rows: Rows) -> None:
        self._update(rows, e, mapping=seal_view(rows.keys, e.originator_id, e.personal))

    def proposed(self, e: Refugee.RefugeeProposed, position: int, rows: Rows) -> None:
        self._update(rows, e, status="proposed", list_id=str(e.list_id), proposed_to=e.municipality)

    def proposal_withdrawn(self, e: Refugee.ProposalWithdrawn, position: int, rows: Rows) -> None:
        self._update(rows, e, status="registered", list_id=None, proposed_to=None)

    def declined(self, e: Refugee.RefugeeDeclined, position: int, rows: Rows) -> None:
        self._update(rows, e, status="registered", list_id=None, proposed_to=None)

    def selected(self, e: Refugee.RefugeeSelected, position: int, rows: Rows) -> None:
        self._update(
            rows,
            e,
            status="selected",
            list_id=None,
            selected_by=e.municipality,
            selected_on=e.selected_on,
            selection_year=e.year,
        )

    def settlement_decided(self, e: Refugee.SettlementDecided, position: int, rows: Rows) -> None:
        folder = rows.get("folders", (str(e.originator_id),))
        status = "settled" if folder and folder["settlement_date"] else "decided"
        self._update(
            rows, e, status=status, decided_for=e.municipality, decision_year=e.year, decided_on=e.decided_on
        )

    def date_registered(self, e: Refugee.SettlementDateRegistered, position: int, rows: Rows) -> None:
        self._update(rows, e, status="settled", settlement_date=e.settlement_date, date_source=e.source)

    def date_corrected(self, e: Refugee.SettlementDateCorrected, position: int, rows: Rows) -> None:
        self._update(rows, e, status="settled", settlement_date=e.settlement_date, date_source="correction")

    def deviation_opened(self, e: Refugee.DeviationOpened, position: int, rows: Rows) -> None:
        folder = rows.get("folders", (str(e.originator_id),)) or {}
        self._update(
            rows,
            e,
            open_deviations=folder.get("open_deviations", 0) + 1,
            deviation_ids=[*folder.get("deviation_ids", []), str(e.deviation_id)],
        )
        rows.put(
            "deviations",
            {
                "refugee_id": str(e.originator_id),
                "deviation_id": str(e.deviation_id),
                "kind": e.kind,
                "description": seal_view(rows.keys, e.originator_id, e.description),
                "registered_private_by_known_deviation": bool(e.registered_private_by_known_deviation),
                "status": "open",
                "opened_at": e.timestamp,
                "resolved_at": None,
                "resolution_note": None,
            },
        )

    def deviation_resolved(self, e: Refugee.DeviationResolved, position: int, rows: Rows) -> None:
        key = (str(e.originator_id), str(e.deviation_id))
        deviation = rows.get("deviations", key)
        if deviation is None:
            raise LookupError(f"deviation {e.deviation_id} was never opened")
        rows.put(
            "deviations",
            {
                **deviation,
                "status": "resolved",
                "resolved_at": e.timestamp,
                "resolution_note": seal_view(rows.keys, e.originator_id, e.note),
            },
        )
        folder = rows.get("folders", key[:1])
        self._update(rows, e, open_deviations=(folder or {}).get("open_deviations", 0) - 1)

    def erased(self, e: Refugee.PersonalDataErased, position: int, rows: Rows) -> None:
        """R18: what a rebuild would write now that the key is gone (the values of an erased person)."""
        person = str(e.originator_id)
        folder = rows.get("folders", (person,))
        if folder is None:
            raise LookupError(f"person {person} was never registered")
        for deviation_id in folder.get("deviation_ids") or []:
            deviation = rows.get("deviations", (person, deviation_id))
            if deviation is not None:
                rows.put(
                    "deviations",
                    {
                        **deviation,
                        "description": ERASED_VIEW,
                        "resolution_note": None if deviation["resolution_note"] is None else ERASED_VIEW,
                    },
                )
        self._update(
            rows,
            e,
            full_name=ERASED_VIEW,
            birth_date=ERASED_VIEW,
            postal_address=ERASED_VIEW,
            mapping=None if folder["mapping"] is None else ERASED_VIEW,
            family_id=None if folder["family_id"] is None else ERASED_VIEW,
            erased=True,
        )

    def family_label_erased(self, e: Family.FamilyLabelErased, position: int, rows: Rows) -> None:
        """R18: a member was erased and the family's key with it; its text reads as erased for all."""
        for member in map(str, e.members):
            folder = rows.get("folders", (member,))
            if folder is not None and folder["family_id"] is not None:
                rows.put("folders", {**folder, "family_id": ERASED_VIEW})


PROJECTION = PersonFoldersProjection()


def family_label_key(e: Refugee.RefugeeRegistered) -> str | None:
    """The key a registration's family text is sealed with in the read models: the family's, where the
    registration names its family (version 2); else the person's (the text is in its event, R18)."""
    if e.family_ref is not None:
        return aggregate_key_id("family", e.family_ref)
    return str(e.originator_id) if e.family_id is not None else None


def sealed_family_label(keys: ViewKeys, e: Refugee.RefugeeRegistered, label_key: str | None) -> Any:
    """The family's text as a read model keeps it: sealed with ``label_key``; erased when the person's
    own registration no longer opens (it kept the text in its personal part)."""
    if label_key is None:
        return None
    if e.family_id is None:
        return ERASED_VIEW  # version 2, the person erased: the text went with the personal part
    return seal_view(keys, label_key, e.family_id)


def opened_family_label(keys: ViewKeys, row: Any) -> Any:
    """The family's text of a read model's row: ``slettet`` once erased (R18), None for no family."""
    if row["family_id"] is None:
        return None
    return opened_name(keys, row["family_label_key"] or row["refugee_id"], row["family_id"])


def open_personal(keys: ViewKeys, row: Any) -> dict[str, Any]:
    """A folder row with its personal values opened with ``keys`` (and ``erased`` true once they are
    gone)."""
    folder = dict(row)
    person = folder["refugee_id"]
    name = open_view(keys, person, folder["full_name"])
    folder["erased"] = bool(folder.get("erased")) or isinstance(name, Erased)
    folder["full_name"] = ERASED_NAME if isinstance(name, Erased) else name
    folder["birth_date"] = opened_date(keys, person, folder["birth_date"])
    folder["postal_address"] = opened(keys, person, folder["postal_address"])
    folder["mapping"] = opened(keys, person, folder["mapping"])
    folder["family_id"] = opened_family_label(keys, row)
    folder.pop("family_label_key", None)
    folder.pop("deviation_ids", None)
    return folder


def _folder(keys: ViewKeys, row: Any, deviations: list[dict[str, Any]]) -> dict[str, Any]:
    folder = open_personal(keys, row)
    folder["municipality"] = folder["decided_for"] or folder["selected_by"]
    person = folder["refugee_id"]
    for deviation in deviations:
        deviation["description"] = opened(keys, person, deviation["description"]) or ""
        deviation["resolution_note"] = opened(keys, person, deviation["resolution_note"])
    folder["deviations"] = deviations
    return folder


def person_folder(source: Source, refugee_id: str) -> dict[str, Any] | None:
    """The whole folder of one person (personal details, mapping, status, deviations), or None.

    ``proposed_to``, ``selected_by`` and ``decided_for`` let the caller apply R6 and tenancy.
    """
    with reading(source) as conn:
        tables = serving_tables(conn, PROJECTION)
        folders, deviations = tables["folders"], tables["deviations"]
        row = conn.execute(folders.select().where(folders.c.refugee_id == str(refugee_id))).mappings().first()
        if row is None:
            return None
        found = (
            conn.execute(
                deviations.select()
                .where(deviations.c.refugee_id == str(refugee_id))
                .order_by(deviations.c.opened_at, deviations.c.deviation_id)
            )
            .mappings()
            .all()
        )
    return _folder(
        source_keys(source), row, [{k: v for k, v in d.items() if k != "refugee_id"} for d in found]
    )


def persons_awaiting_settlement_date(
    source: Source, municipality: str | None = None, *, cursor: str | None = None, limit: int = 100
) -> dict[str, Any]:
    """Persons selected by or decided for a municipality (or any) who have no settlement date yet."""
    check_limit(limit)
    with reading(source) as conn:
        folders = serving_tables(conn, PROJECTION)["folders"]
        query = folders.select().where(
            folders.c.settlement_date.is_(None),
            or_(folders.c.selected_by.is_not(None), folders.c.decided_for.is_not(None)),
        )
        if municipality is not None:
            query = query.where(
                or_(
                    folders.c.decided_for == municipality,
                    and_(folders.c.decided_for.is_(None), folders.c.selected_by == municipality),
                )
            )
        if cursor:
            (after,) = decode_cursor(cursor, str)
            query = query.where(folders.c.refugee_id > after)
        rows = conn.execute(query.order_by(folders.c.refugee_id).limit(limit + 1)).mappings().all()
    keys = source_keys(source)
    prefetch_view_keys(keys, (r["refugee_id"] for r in rows))
    items = [
        {
            "refugee_id": r["refugee_id"],
            "full_name": opened_name(keys, r["refugee_id"], r["full_name"]),
            "municipality": r["decided_for"] or r["selected_by"],
            "status": r["status"],
            "selected_on": r["selected_on"],
            "decision_year": r["decision_year"],
            "residence_kind": (r["residence"] or {}).get("kind"),
            "open_deviations": r["open_deviations"],
            "unaccompanied_minor": r["unaccompanied_minor"],
        }
        for r in rows
    ]
    return page(items, limit, lambda item: [item["refugee_id"]])


def persons_with_status(
    source: Source, status: str, *, cursor: str | None = None, limit: int = 100
) -> dict[str, Any]:
    """Persons whose case has ``status`` (``registered``: free to propose; ``selected``: awaiting IMDi's
    decision), by id; what a caseworker at IMDi picks from."""
    check_limit(limit)
    with reading(source) as conn:
        folders = serving_tables(conn, PROJECTION)["folders"]
        query = folders.select().where(folders.c.status == status)
        if cursor:
            (after,) = decode_cursor(cursor, str)
            query = query.where(folders.c.refugee_id > after)
        rows = conn.execute(query.order_by(folders.c.refugee_id).limit(limit + 1)).mappings().all()
    keys = source_keys(source)
    prefetch_view_keys(
        keys,
        [*(r["refugee_id"] for r in rows), *(r["family_label_key"] for r in rows if r["family_label_key"])],
    )
    items = [
        {
            "refugee_id": r["refugee_id"],
            "full_name": opened_name(keys, r["refugee_id"], r["full_name"]),
            "birth_date": opened_date(keys, r["refugee_id"], r["birth_date"]),
            "family_id": opened_family_label(keys, r),
            "unaccompanied_minor": r["unaccompanied_minor"],
            "category": r["category"],
            "residence_kind": (r["residence"] or {}).get("kind"),
            "selected_by": r["selected_by"],
            "selection_year": r["selection_year"],
            "open_deviations": r["open_deviations"],
        }
        for r in rows
    ]
    return page(items, limit, lambda item: [item["refugee_id"]])
