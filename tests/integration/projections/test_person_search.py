"""R21: person search through the blind index, on both backends."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from projections import person_search
from projections.catalog import PROJECTIONS
from projections.engine.paging import serving_tables
from projections.person_search import search_persons
from settlement_domain.errors import RuleViolation
from tests.given import BERGEN, OSLO, municipalities, person, quota, selected
from tests.integration.projections.conftest import catch_up

BORN = date(1985, 1, 1)


@pytest.fixture
def persons(app, engine):
    municipalities(app)
    quota(app, "0301")
    found = {
        "aase": person(app, name="Åse Ærø-Hansen", birth_date=date(1990, 5, 17), duf_number="123456789012"),
        "amina": person(app, name="Amina Hassan", birth_date=BORN),
        "amina2": person(app, name="AMÍNA Håkonsen", birth_date=BORN),
        "other": person(app, name="Bjørn Østby", birth_date=date(1970, 2, 3)),
    }
    selected(app, OSLO, [found["amina"]])
    catch_up(app, engine)
    return {k: str(v) for k, v in found.items()}


def names(engine, **terms):
    return sorted(p["full_name"] for p in search_persons(engine, **terms)["items"])


def test_names_are_found_by_prefix_ignoring_case_and_accents(app, engine, persons):
    assert names(engine, name="ase") == ["Åse Ærø-Hansen"]
    assert names(engine, name="AERO") == ["Åse Ærø-Hansen"]
    assert names(engine, name="hans") == ["Åse Ærø-Hansen"]  # a prefix of Hansen, not Hassan
    assert names(engine, name="ami") == ["AMÍNA Håkonsen", "Amina Hassan"]
    assert names(engine, name="amina has") == ["Amina Hassan"]
    assert names(engine, name="hakon amin") == ["AMÍNA Håkonsen"]  # any order, each a prefix
    assert names(engine, name="bjorn ostby") == ["Bjørn Østby"]
    assert names(engine, name="aminah") == []


def test_birth_date_and_duf_number_and_terms_together(app, engine, persons):
    assert names(engine, birth_date=BORN) == ["AMÍNA Håkonsen", "Amina Hassan"]
    assert names(engine, name="amina", birth_date=BORN) == ["AMÍNA Håkonsen", "Amina Hassan"]
    assert names(engine, name="amina", birth_date=date(1990, 5, 17)) == []
    assert names(engine, duf="123456789012") == ["Åse Ærø-Hansen"]
    assert names(engine, duf="123456789013") == []


def test_a_municipality_finds_only_the_persons_it_selected(app, engine, persons):
    assert names(engine, name="amina", municipality="0301") == ["Amina Hassan"]
    assert names(engine, name="amina", municipality=BERGEN.actor.municipality) == []


def test_the_index_holds_no_name_date_or_number(app, engine, persons):
    with engine.connect() as conn:
        rows = conn.execute(select(serving_tables(conn, PROJECTIONS["person_search"])["tokens"])).all()
    text = repr(rows).lower()
    assert rows and all(len(token) == 32 for token, _ in rows)
    for clear in ("amina", "hassan", "ase", "1985", "123456789012"):
        assert clear not in text


def test_bad_searches_are_refused_naming_the_field(app, engine, persons):
    for terms, field in (
        ({"name": "a"}, "name"),
        ({"name": "--"}, "name"),
        ({}, "name"),
        ({"duf": "1234"}, "duf"),
        ({"duf": "１２３４５６７８９０１２"}, "duf"),  # full-width digits are no DUF number
    ):
        with pytest.raises(RuleViolation) as refused:
            search_persons(engine, **terms)
        assert (refused.value.rule, refused.value.field) == ("R21", field)


def test_a_registration_refuses_a_duf_number_that_is_not_12_digits(app):
    with pytest.raises(RuleViolation) as refused:
        person(app, duf_number="12345678901")
    assert (refused.value.rule, refused.value.field) == ("R21", "duf_number")


def test_another_key_finds_nothing_until_the_index_is_rebuilt(app, engine, persons, search_key):
    person_search.use_key(b"another-key-of-sixteen-bytes-or-more")
    try:
        assert names(engine, name="amina") == []
    finally:
        person_search.use_key(search_key.encode())
    assert names(engine, name="amina") == ["AMÍNA Håkonsen", "Amina Hassan"]
