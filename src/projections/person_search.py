"""Person search (personsøk, R21): a blind index of names, birth dates and DUF numbers.

The index holds no name, date or number, only keyed hashes (HMAC-SHA-256 with the search key, cut to
128 bits) of normalised tokens: every prefix of two letters or more of each name part, the birth date,
the DUF number. A search hashes its terms the same way and looks them up; it never reads the log. The
key lives outside the database (``SETTLEMENT_SEARCH_KEY``, or a file made once in ``var/``); without
it the index tells nothing of whom it holds. The composition root hands the key over with
:func:`use_key` before any projection runs; a changed key needs ``settlement projections rebuild
person_search``.

Names are normalised before hashing: case folded, accents dropped (é -> e, å -> a), æ -> ae, ø -> o,
split at anything that is not a letter or digit; so "Ærø-Hansen" is found by "aero" and by "hans".
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import Column, String, and_, func, or_, select

from projections import person_folders
from projections.engine.paging import Source, check_limit, reading, serving_tables, source_keys
from projections.engine.projection import Handler, Projection, TableSpec
from projections.engine.rows import Rows
from projections.engine.store import JSONValue
from settlement_domain.model import Refugee
from settlement_domain.personal_keys import opened_date, opened_name, prefetch_view_keys
from settlement_domain.rules import check_duf_number, refuse_input

MIN_PREFIX = 2  # a single letter finds too many to be a search, and tells too much of a name
MAX_PART = 40  # longer name parts are indexed (and searched) by their first 40 letters
MAX_TERMS = 8

_KEY: bytes | None = None
_SPLIT = re.compile(r"[^0-9a-z]+")
_FOLDED = str.maketrans({"æ": "ae", "ø": "o", "đ": "d", "ł": "l", "þ": "th", "ð": "d"})


def use_key(key: bytes) -> None:
    """The search key (at least 16 bytes) every process that folds or searches the index uses."""
    global _KEY
    if len(key) < 16:
        raise ValueError("The person search key must be at least 16 bytes.")
    _KEY = key


def _hash(kind: str, value: str) -> str:
    if _KEY is None:
        raise RuntimeError("The person search index has no key (the composition root sets it with use_key).")
    return hmac.new(_KEY, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]


def name_parts(text: str) -> list[str]:
    """The normalised parts of a name: case folded, without accents, æ as ae and ø as o."""
    folded = unicodedata.normalize("NFKD", text.casefold().translate(_FOLDED))
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch)).translate(_FOLDED)
    return [part[:MAX_PART] for part in _SPLIT.split(plain) if part]


def tokens(full_name: str | None, birth_date: date | str | None, duf_number: str | None) -> set[str]:
    """The hashed tokens a person is found by."""
    found = set()
    for part in name_parts(full_name or ""):
        for end in range(min(MIN_PREFIX, len(part)), len(part) + 1):
            found.add(_hash("name", part[:end]))
    if birth_date is not None:
        found.add(_hash("born", birth_date if isinstance(birth_date, str) else birth_date.isoformat()))
    if duf_number:
        found.add(_hash("duf", duf_number))
    return found


def _token_columns() -> list[Column[Any]]:
    return [
        Column("token", String(32), primary_key=True),
        Column("refugee_id", String(36), primary_key=True),
    ]


def _person_columns() -> list[Column[Any]]:
    return [
        Column("refugee_id", String(36), primary_key=True),
        Column("tokens", JSONValue, nullable=False),  # the person's tokens, purged with them (R18)
    ]


class PersonSearchProjection(Projection):
    """The blind index of person search (R21); an erased person's tokens are purged (R18)."""

    name = "person_search"
    version = 2  # 2: the tokens of each person, purged on erasure (R18)
    tables = (
        TableSpec("tokens", _token_columns, ("token", "refugee_id"), indexes=(("refugee_id",),)),
        TableSpec("persons", _person_columns, ("refugee_id",)),
    )

    def handler_map(self) -> Mapping[type[Any], Handler]:
        return {Refugee.RefugeeRegistered: self.registered, Refugee.PersonalDataErased: self.erased}

    def registered(self, e: Refugee.RefugeeRegistered, position: int, rows: Rows) -> None:
        refugee_id = str(e.originator_id)
        personal = e.personal
        found = sorted(
            tokens(personal.get("full_name"), personal.get("birth_date"), personal.get("duf_number"))
        )
        for token in found:
            rows.put("tokens", {"token": token, "refugee_id": refugee_id})
        if found:
            rows.put("persons", {"refugee_id": refugee_id, "tokens": found})

    def erased(self, e: Refugee.PersonalDataErased, position: int, rows: Rows) -> None:
        refugee_id = str(e.originator_id)
        person = rows.get("persons", (refugee_id,))
        if person is None:
            return
        for token in person["tokens"]:
            rows.delete("tokens", (token, refugee_id))
        rows.delete("persons", (refugee_id,))


PROJECTION = PersonSearchProjection()


def search_terms(name: str | None, birth_date: date | None, duf: str | None) -> list[str]:
    """The hashed terms of a search (each must match); a refusal names the field (R21)."""
    terms = []
    if name is not None:
        parts = name_parts(name)
        if not parts:
            raise refuse_input("R21", "Search by name with at least one name part.", "name")
        if len(parts) > MAX_TERMS:
            raise refuse_input("R21", f"Search with at most {MAX_TERMS} name parts.", "name")
        if any(len(part) < MIN_PREFIX for part in parts):
            raise refuse_input("R21", f"Each name part has at least {MIN_PREFIX} letters.", "name")
        terms += [_hash("name", part) for part in parts]
    if birth_date is not None:
        terms.append(_hash("born", birth_date.isoformat()))
    if duf is not None:
        check_duf_number(duf, "duf")
        terms.append(_hash("duf", duf))
    if not terms:
        raise refuse_input("R21", "Search by name, birth date or DUF number.", "name")
    return list(dict.fromkeys(terms))


def search_persons(
    source: Source,
    *,
    name: str | None = None,
    birth_date: date | None = None,
    duf: str | None = None,
    municipality: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """Persons matching every term: name parts by prefix, birth date, DUF number (R21).

    ``municipality`` limits the answer to persons it selected or was decided to settle.
    """
    check_limit(limit)
    terms = search_terms(name, birth_date, duf)
    with reading(source) as conn:
        index = serving_tables(conn, PROJECTION)["tokens"]
        folders = serving_tables(conn, person_folders.PROJECTION)["folders"]
        matching = (
            select(index.c.refugee_id)
            .where(index.c.token.in_(terms))
            .group_by(index.c.refugee_id)
            .having(func.count() == len(terms))
            .subquery()
        )
        query = select(folders).join(matching, matching.c.refugee_id == folders.c.refugee_id)
        if municipality is not None:
            query = query.where(
                or_(
                    folders.c.decided_for == municipality,
                    and_(folders.c.decided_for.is_(None), folders.c.selected_by == municipality),
                )
            )
        rows = conn.execute(query.order_by(folders.c.refugee_id).limit(limit + 1)).mappings().all()
    keys = source_keys(source)
    prefetch_view_keys(keys, (r["refugee_id"] for r in rows[:limit]))
    items = [
        {
            "refugee_id": r["refugee_id"],
            "full_name": opened_name(keys, r["refugee_id"], r["full_name"]),
            "birth_date": opened_date(keys, r["refugee_id"], r["birth_date"]),
            "status": r["status"],
            "municipality": r["decided_for"] or r["selected_by"],
            "unaccompanied_minor": r["unaccompanied_minor"],
        }
        for r in rows[:limit]
    ]
    return {"items": items, "truncated": len(rows) > limit}
