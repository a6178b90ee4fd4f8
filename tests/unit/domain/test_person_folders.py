"""R6: a person folder opens to the municipality once it has selected the person; every read is
checked and recorded (an event of its own), whoever reads."""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

from settlement_domain import commands as c
from settlement_domain.errors import Refusal
from tests.given import (
    AUDITOR,
    BERGEN,
    IMDI,
    OSLO,
    RECEPTION,
    decided,
    distribution_list,
    events_named,
    events_since,
    not_found,
    person,
    refused,
    selected,
)


def test_folder_reads_are_recorded_once_the_municipality_selected_the_person(given_places):
    app = given_places
    someone = person(app)
    list_id = distribution_list(app, "0301", [someone])
    with refused(app, "R6", Refusal.FORBIDDEN):
        app.handle(OSLO, c.RecordFolderRead(someone))
    with not_found(app):
        app.handle(BERGEN, c.RecordFolderRead(someone))
    app.handle(OSLO, c.ApproveDistributionList(list_id, (someone,)))
    before = app.position()
    result = app.handle(OSLO, c.RecordFolderRead(someone))
    app.handle(AUDITOR, c.RecordFolderRead(someone))
    viewed = events_since(app, before)
    assert [type(e).__name__ for e in viewed] == ["PersonFolderViewed", "PersonFolderViewed"]
    assert viewed[0].meta["sub"] == "kari" and viewed[0].refugee_id == someone
    assert viewed[0].municipality == "0301"
    assert viewed[1].meta["role"] == "auditor"
    assert result.extra["refugee_id"] == str(someone)


def test_imdi_reads_any_folder_and_the_read_is_recorded(given):
    someone = person(given)
    given.handle(IMDI, c.RecordFolderRead(someone))
    read = events_named(given, "PersonFolderViewed")[0]
    assert (read.refugee_id, read.municipality, read.meta["role"]) == (someone, None, "imdi")


def test_the_folder_stays_open_to_the_municipality_after_the_decision(given_places):
    someone = person(given_places)
    selected(given_places, OSLO, [someone])
    decided(given_places, someone)
    given_places.handle(OSLO, c.RecordFolderRead(someone))
    assert len(events_named(given_places, "PersonFolderViewed")) == 1


def test_reception_does_not_read_person_folders(given):
    someone = person(given)
    with refused(given, "R6", Refusal.FORBIDDEN) as caught:
        given.handle(RECEPTION, c.RecordFolderRead(someone))
    assert caught.value.message == "Only IMDi, the municipality or an auditor may read person folders."


def test_every_read_is_recorded_even_with_an_idempotency_key(given_places):
    someone = person(given_places)
    selected(given_places, OSLO, [someone])
    keyed = replace(OSLO, idempotency_key="read-1")
    given_places.handle(keyed, c.RecordFolderRead(someone))
    given_places.handle(keyed, c.RecordFolderRead(someone))
    assert len(events_named(given_places, "PersonFolderViewed")) == 2


def test_the_folder_of_an_unknown_person_is_not_found(given):
    with not_found(given):
        given.handle(IMDI, c.RecordFolderRead(uuid4()))
