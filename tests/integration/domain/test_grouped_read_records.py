"""Read records (R6, R14) appended in groups, on both backends: every read recorded exactly once, its
answer only after its group committed, a failed group failing each of its requests (never a silent
loss), and the records sealed with the month's key as a lone save seals them."""

from __future__ import annotations

import threading
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError

from settlement_domain import commands as c
from settlement_domain.application import CommandResult, SettlementApp
from settlement_domain.errors import ConcurrencyConflict, NotFound, ReadNotRecorded
from tests.given import BERGEN, IMDI, OSLO, events_named, municipalities, person, quota, selected

READERS = 12


def _race(actions: list[Any]) -> list[Any]:
    """Runs each action in a thread of its own, released together; their results or errors."""
    barrier = threading.Barrier(len(actions))
    outcomes: list[Any] = [None] * len(actions)

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = actions[i]()
        except Exception as error:
            outcomes[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def _held_first_group(app: SettlementApp, waiting: int) -> threading.Event:
    """Makes the appender's first save wait until ``waiting`` more records queue behind it, so that
    the test knows the groups it makes: the first record alone, then all the others in one."""
    appender = app.read_records
    save = appender._save
    first = threading.Event()

    def slow_save(*aggregates: Any) -> Any:
        if not first.is_set():
            first.set()
            for _ in range(500):
                with appender._waiting_lock:
                    if len(appender._waiting) >= waiting:
                        break
                threading.Event().wait(0.01)
        return save(*aggregates)

    appender._save = slow_save  # type: ignore[method-assign]
    return first


@pytest.fixture
def people(app: SettlementApp) -> list[UUID]:
    municipalities(app)
    quota(app)
    found = [person(app) for _ in range(3)]
    selected(app, OSLO, found)
    return found


def test_simultaneous_reads_are_each_recorded_exactly_once_in_few_transactions(
    app: SettlementApp, people: list[UUID]
) -> None:
    """R6/R14: twelve reads at once (folders and lists, two actors): twelve records, each answered with
    its own record's position, written in two transactions (the first alone, the rest together)."""
    _held_first_group(app, READERS - 1)
    before = app.position()
    actions = []
    for i in range(READERS):
        who = OSLO if i % 2 else IMDI
        if i % 3:
            actions.append(lambda who=who, i=i: app.handle(who, c.RecordFolderRead(people[i % 3])))
        else:
            actions.append(
                lambda who=who: app.handle(who, c.RecordPersonalDataListed("GET /refugees", tuple(people)))
            )
    outcomes = _race(actions)
    assert all(isinstance(o, CommandResult) for o in outcomes), outcomes
    assert app.read_records.groups == 2 and app.read_records.records == READERS
    folders = events_named(app, "PersonFolderViewed", since=before)
    listings = events_named(app, "PersonalDataListed", since=before)
    assert len(folders) + len(listings) == READERS
    recorded = {e.originator_id: e for e in folders + listings}
    assert {UUID(o.id) for o in outcomes} == set(recorded)  # each answer names its own record
    positions = sorted(o.position for o in outcomes)
    assert positions == list(range(before + 1, before + READERS + 1))  # one position each, no gap
    for outcome in outcomes:
        event = app.mapper.to_domain_event(
            app.recorder.select_notifications(start=outcome.position, limit=1)[0]
        )
        assert event.originator_id == UUID(outcome.id)
    # Who read: each record carries its own request's actor (R14).
    actors = sorted(e.meta["sub"] for e in recorded.values())
    assert actors == sorted(("kari" if i % 2 else "ingrid") for i in range(READERS))
    # The persons listed are kept as given, and sealed at rest with the month's key (R14).
    for listing in listings:
        assert listing.refugee_ids == people
        raw = app.recorder.select_notifications(start=before + 1, limit=READERS)
        stored = b"".join(n.state for n in raw)
        assert all(str(p).encode() not in stored and p.hex.encode() not in stored for p in people)


def test_a_failed_group_fails_every_read_in_it_and_records_none(
    app: SettlementApp, people: list[UUID]
) -> None:
    """A group whose transaction fails answers each of its requests with ReadNotRecorded (a 503
    problem over HTTP): no read is answered unrecorded, and the next reads are recorded again."""
    _held_first_group(app, READERS - 1)
    appender = app.read_records
    held = appender._save
    calls = 0

    def failing_second(*aggregates: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("the database went away")
        return held(*aggregates)

    appender._save = failing_second  # type: ignore[method-assign]
    before = app.position()
    outcomes = _race([lambda: app.handle(OSLO, c.RecordFolderRead(people[0])) for _ in range(READERS)])
    answered = [o for o in outcomes if isinstance(o, CommandResult)]
    failed = [o for o in outcomes if isinstance(o, Exception)]
    assert len(answered) == 1 and len(failed) == READERS - 1
    assert all(isinstance(f, ReadNotRecorded) for f in failed)
    assert len({id(f) for f in failed}) == len(failed)  # each request raises its own
    assert len(events_named(app, "PersonFolderViewed", since=before)) == 1
    again = app.handle(OSLO, c.RecordFolderRead(people[0]))
    assert len(events_named(app, "PersonFolderViewed", since=before)) == 2
    assert again.position == app.position()


def test_a_conflict_in_a_group_is_a_conflict_for_each_read(app: SettlementApp, people: list[UUID]) -> None:
    appender = app.read_records

    def conflicting(*aggregates: Any) -> Any:
        raise IntegrityError("duplicate key")

    appender._save = conflicting  # type: ignore[method-assign]
    before = app.position()
    outcomes = _race([lambda: app.handle(IMDI, c.RecordFolderRead(people[1])) for _ in range(4)])
    assert all(isinstance(o, ConcurrencyConflict) for o in outcomes)
    assert events_named(app, "PersonFolderViewed", since=before) == []


def test_a_refused_read_is_refused_in_its_own_request_and_never_joins_a_group(
    app: SettlementApp, people: list[UUID]
) -> None:
    """R6 tenancy is checked before the record is handed over: Bergen's read of Oslo's person is
    refused alone, the reads beside it are recorded."""
    before = app.position()
    outcomes = _race(
        [lambda: app.handle(BERGEN, c.RecordFolderRead(people[0]))]
        + [lambda: app.handle(OSLO, c.RecordFolderRead(people[0])) for _ in range(5)]
    )
    assert isinstance(outcomes[0], NotFound)
    assert all(isinstance(o, CommandResult) for o in outcomes[1:])
    assert len(events_named(app, "PersonFolderViewed", since=before)) == 5
    assert app.read_records.records == 5
