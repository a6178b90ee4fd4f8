"""Races and retries on both backends: optimistic concurrency, idempotency keys (also across tenants),
bulk runs (many commands, one transaction per flush) and snapshots of a busy quota year."""

from __future__ import annotations

import threading
from dataclasses import replace
from uuid import UUID

import pytest

from settlement_domain import commands as c
from settlement_domain.application import SettlementApp
from settlement_domain.bulk import BulkRun, bulk_run, paused_garbage_collector
from settlement_domain.context import Actor, Role
from settlement_domain.errors import ConcurrencyConflict, IdempotencyKeyReused, NotFound, RuleViolation
from settlement_domain.model import QuotaYear
from settlement_domain.persistence import store_environment
from settlement_domain.values import Decline
from tests.given import (
    IMDI,
    OSLO,
    TODAY,
    distribution_list,
    events_named,
    municipalities,
    person,
    quota,
    refused,
    registration,
    selected,
)


def race(workers: int, action) -> list[object]:
    """Runs ``action`` in ``workers`` threads released at the same instant; returns results or errors."""
    barrier = threading.Barrier(workers)
    outcomes: list[object] = [None] * workers

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = action()
        except Exception as error:
            outcomes[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def iter_actions(actions):
    """One action per racing worker, handed out in order."""
    lock = threading.Lock()
    pending = list(actions)

    def next_action():
        with lock:
            action = pending.pop(0)
        return action()

    return next_action


@pytest.mark.slow
def test_many_simultaneous_approvals_of_one_list_store_exactly_one(database_url):
    app = SettlementApp(store_environment(database_url), clock=lambda: TODAY)
    try:
        municipalities(app)
        quota(app)
        people = [person(app) for _ in range(3)]
        list_id = distribution_list(app, "0301", people)
        outcomes = race(12, lambda: app.handle(OSLO, c.ApproveDistributionList(list_id, tuple(people))))
        successes = [o for o in outcomes if not isinstance(o, Exception)]
        failures = [o for o in outcomes if isinstance(o, Exception)]
        assert len(successes) == 1
        # The losers either collided on the list's version (conflict), or loaded it after the winner
        # committed and found it no longer open (R4); both answer 409 over HTTP.
        assert all(
            isinstance(f, ConcurrencyConflict) or (isinstance(f, RuleViolation) and f.rule == "R4")
            for f in failures
        ), failures
        assert len(events_named(app, "DistributionListApproved")) == 1
        assert len(events_named(app, "RefugeeSelected")) == 3
        assert len(events_named(app, "PlacesTakenBySelection")) == 1
        assert app.quota_year("0301", 2025).used == (3, 0)
    finally:
        app.close()


@pytest.mark.slow
def test_simultaneous_approvals_of_two_lists_never_take_more_places_than_vacant(database_url):
    """R4/R10 under a race: the quota year is one aggregate, so two lists cannot both take its last place."""
    app = SettlementApp(store_environment(database_url), clock=lambda: TODAY)
    try:
        municipalities(app)
        quota(app, persons=1, minors=0)
        first, second = person(app), person(app)
        lists = [distribution_list(app, "0301", [first]), distribution_list(app, "0301", [second])]
        outcomes = race(
            2,
            iter_actions(
                [
                    lambda: app.handle(OSLO, c.ApproveDistributionList(lists[0], (first,))),
                    lambda: app.handle(OSLO, c.ApproveDistributionList(lists[1], (second,))),
                ]
            ),
        )
        assert len([o for o in outcomes if not isinstance(o, Exception)]) <= 1
        assert app.quota_year("0301", 2025).vacant() in ((0, 0), (1, 0))
        assert app.quota_year("0301", 2025).used[0] == len(events_named(app, "RefugeeSelected"))
    finally:
        app.close()


def test_a_stale_writer_gets_the_conflict_error_and_nothing_is_half_written(app):
    municipalities(app)
    quota(app)
    someone = person(app)
    list_id = distribution_list(app, "0301", [someone])
    stale = app.refugee(someone)
    app.handle(OSLO, c.ApproveDistributionList(list_id, (someone,)))
    before = app.position()
    stale.open_deviation({}, "d", "k", "d", registered_private_by_known_deviation=False)
    with pytest.raises(Exception) as caught:
        app.save(stale)
    assert "Integrity" in type(caught.value).__name__
    assert app.position() == before


def test_the_same_key_with_another_body_is_refused_and_appends_nothing(app):
    municipalities(app)
    keyed = replace(IMDI, idempotency_key="k-1")
    app.handle(keyed, c.RequestSettlement("0301", 2025, 100, 5))
    before = app.position()
    with pytest.raises(IdempotencyKeyReused):
        app.handle(keyed, c.RequestSettlement("0301", 2025, 101, 5))
    with pytest.raises(IdempotencyKeyReused):
        app.handle(
            replace(OSLO, idempotency_key="k-1", actor=IMDI.actor), c.DecideQuota("0301", 2025, 1, 0, TODAY)
        )
    assert app.position() == before


def test_keys_are_scoped_to_the_actor(app):
    municipalities(app)
    first = app.handle(replace(OSLO, idempotency_key="same"), c.DecideQuota("0301", 2025, 10, 1, TODAY))
    other = app.handle(replace(IMDI, idempotency_key="same"), c.RequestSettlement("0301", 2025, 12, 1))
    assert not other.replayed and other.id == first.id and other.version > first.version


def test_a_key_never_replays_across_municipalities_or_roles(app):
    """One person may work for two municipalities with the same subject (ID-porten identifies the person)."""
    municipalities(app)
    kari_in_oslo = replace(OSLO, idempotency_key="k")
    kari_in_bergen = replace(OSLO, actor=Actor("kari", Role.MUNICIPALITY, "4601"), idempotency_key="k")
    kari_at_imdi = replace(OSLO, actor=Actor("kari", Role.IMDI), idempotency_key="k")
    first = app.handle(kari_in_oslo, c.DecideQuota("0301", 2025, 10, 1, TODAY))
    with refused(app, "R2"):  # checked afresh, not a replay of Oslo's answer
        app.handle(kari_in_bergen, c.DecideQuota("0301", 2025, 10, 1, TODAY))
    second = app.handle(kari_in_bergen, c.DecideQuota("4601", 2025, 10, 1, TODAY))
    assert not second.replayed and second.id != first.id
    third = app.handle(kari_at_imdi, c.DecideQuota("0301", 2025, 10, 1, TODAY))
    assert not third.replayed and third.version > first.version


def test_every_folder_read_is_checked_and_recorded_even_with_a_key(app):
    municipalities(app)
    quota(app)
    someone = person(app)
    selected(app, OSLO, [someone])
    keyed = replace(OSLO, idempotency_key="read-1")
    app.handle(keyed, c.RecordFolderRead(someone))
    app.handle(keyed, c.RecordFolderRead(someone))
    assert len(events_named(app, "PersonFolderViewed")) == 2
    elsewhere = replace(keyed, actor=Actor("kari", Role.MUNICIPALITY, "4601"))
    with pytest.raises(NotFound):
        app.handle(elsewhere, c.RecordFolderRead(someone))


@pytest.mark.slow
def test_simultaneous_retries_with_one_key_append_once(database_url):
    app = SettlementApp(store_environment(database_url), clock=lambda: TODAY)
    try:
        municipalities(app)
        keyed = replace(IMDI, idempotency_key="retry-storm")
        outcomes = race(8, lambda: app.handle(keyed, c.RequestSettlement("0301", 2025, 100, 5)))
        answers = [o for o in outcomes if not isinstance(o, Exception)]
        assert all(not isinstance(o, Exception) or isinstance(o, ConcurrencyConflict) for o in outcomes)
        assert {a.id for a in answers} == {answers[0].id}
        assert len(events_named(app, "SettlementRequested")) == 1
        assert len(events_named(app, "LetterIssued")) == 1
    finally:
        app.close()


# Bulk runs --------------------------------------------------------------------------------------


def test_a_bulk_run_stores_many_commands_in_one_flush(app):
    before = app.position()
    with bulk_run(app) as run:
        run.handle(IMDI, c.RegisterMunicipality("0301", "Oslo", "Oslo"))
        run.handle(IMDI, c.RequestSettlement("0301", 2025, 10, 1))
        result = run.handle(OSLO, c.DecideQuota("0301", 2025, 8, 1, TODAY))  # sees the unflushed quota year
        assert (result.position, app.position(), run.commands) == (0, before, 3)
        position = run.flush()
    assert position == app.position() > before
    assert app.quota_year("0301", 2025).decided == (8, 1)


def test_a_bulk_run_refuses_idempotency_keys(app):
    run = BulkRun(app)
    with pytest.raises(ValueError, match="Idempotency keys"):
        run.handle(replace(IMDI, idempotency_key="k"), c.RegisterMunicipality("0301", "Oslo", "Oslo"))
    assert app.position() == 0


def test_a_refused_command_in_a_bulk_run_leaves_no_trace(app):
    with bulk_run(app) as run:
        run.handle(IMDI, c.RegisterMunicipality("0301", "Oslo", "Oslo"))
        run.handle(IMDI, c.DecideQuota("0301", 2025, 2, 0, TODAY))
        people = [UUID(run.handle(IMDI, registration(family_id="f")).id) for _ in range(2)]
        list_id = UUID(
            run.handle(IMDI, c.CreateDistributionList("0301", tuple(people), TODAY.replace(day=30))).id
        )
        with pytest.raises(RuleViolation) as caught:
            # R4 refuses after loading the list; the list must stay open and unchanged.
            run.handle(OSLO, c.ApproveDistributionList(list_id, (people[0],), (Decline(people[1], "split"),)))
        assert caught.value.rule == "R4"
        run.handle(OSLO, c.ApproveDistributionList(list_id, tuple(people)))
    assert app.refugee(people[0]).selected_by == "0301"
    assert len(events_named(app, "DistributionListApproved")) == 1
    assert app.quota_year("0301", 2025).used == (2, 0)


def test_a_capacity_refusal_in_a_bulk_run_puts_back_the_list_and_the_quota_year(app):
    """R4's place check runs after the list recorded its approval: the refusal must undo both."""
    with bulk_run(app) as run:
        run.handle(IMDI, c.RegisterMunicipality("0301", "Oslo", "Oslo"))
        run.handle(IMDI, c.DecideQuota("0301", 2025, 1, 0, TODAY))
        people = [UUID(run.handle(IMDI, registration()).id) for _ in range(2)]
        list_id = UUID(
            run.handle(IMDI, c.CreateDistributionList("0301", tuple(people), TODAY.replace(day=30))).id
        )
        with pytest.raises(RuleViolation) as caught:
            run.handle(OSLO, c.ApproveDistributionList(list_id, tuple(people)))
        assert caught.value.rule == "R4"
        run.handle(OSLO, c.DecideQuota("0301", 2025, 2, 0, TODAY))
        run.handle(OSLO, c.ApproveDistributionList(list_id, tuple(people)))
    assert [type(e).__name__ for e in app.events.get(list_id)] == [
        "DistributionListCreated",
        "DistributionListApproved",
    ]
    assert app.quota_year("0301", 2025).used == (2, 0)


def test_an_error_leaving_a_bulk_run_drops_its_unflushed_work(app):
    with pytest.raises(RuntimeError), bulk_run(app) as run:
        run.handle(IMDI, c.RegisterMunicipality("0301", "Oslo", "Oslo"))
        run.flush()
        run.handle(IMDI, c.RequestSettlement("0301", 2025, 10, 1))
        raise RuntimeError("crash in the middle of an import")
    assert app.quota_year("0301", 2025) is None
    assert app.municipality("0301").name == "Oslo"


def test_a_refusal_after_unflushed_changes_keeps_them_to_be_stored_once(app):
    """A refused command in a bulk run puts back the aggregates it touched, unflushed events included."""
    with paused_garbage_collector(), bulk_run(app) as run:
        run.handle(IMDI, c.RegisterMunicipality("0301", "Oslo", "Oslo"))
        run.handle(IMDI, c.DecideQuota("0301", 2025, 10, 2, TODAY))
        someone = UUID(run.handle(IMDI, registration(private=True)).id)
        list_id = UUID(
            run.handle(IMDI, c.CreateDistributionList("0301", (someone,), TODAY.replace(day=30))).id
        )
        run.handle(OSLO, c.ApproveDistributionList(list_id, (someone,)))
        run.handle(IMDI, c.DecideSettlement(someone, "0301"))
        deviation = run.handle(IMDI, c.OpenDeviation(someone, "address", "Check address")).extra[
            "deviation_id"
        ]
        with pytest.raises(RuleViolation) as caught:
            run.handle(OSLO, c.RegisterSettlementDate(someone, TODAY))
        assert caught.value.rule == "R7c"
        run.flush()
        run.handle(IMDI, c.ResolveDeviation(someone, deviation, "Fine"))
        run.flush()
        run.handle(OSLO, c.RegisterSettlementDate(someone, TODAY))
    refugee = app.refugee(someone)
    assert refugee.settlement_date == TODAY and not refugee.has_open_deviation
    assert len(events_named(app, "DeviationOpened")) == 1


def test_two_bulk_runs_writing_the_same_aggregate_conflict_and_the_loser_stores_nothing(app):
    municipalities(app)
    first, second = BulkRun(app), BulkRun(app)
    first.handle(IMDI, c.RequestSettlement("0301", 2025, 10, 1))
    second.handle(IMDI, c.RequestSettlement("0301", 2025, 11, 1))
    first.flush()
    before = app.position()
    with pytest.raises(ConcurrencyConflict):
        second.flush()
    assert app.position() == before
    assert app.quota_year("0301", 2025).requested == (10, 1)


# Snapshots --------------------------------------------------------------------------------------


def test_a_busy_quota_year_is_snapshotted_and_loads_the_same(app):
    municipalities(app)
    quota(app, persons=60, minors=0)
    app.handle(IMDI, c.DecideQuota("0301", 2026, 60, 0, TODAY))
    people = [person(app) for _ in range(55)]
    for someone in people:  # one list each: a PlacesTakenBySelection event each
        selected(app, OSLO, [someone])
    for someone in people[:5]:  # and a few places moved to 2026 (released from 2025)
        app.handle(IMDI, c.DecideSettlement(someone, "0301", 2026))
    quota_id = QuotaYear.create_id("0301", 2025)
    snapshots = list(app.snapshots.get(quota_id, desc=True, limit=1))
    assert snapshots and snapshots[0].originator_version == 50
    from_snapshot = app.repository.get(quota_id)
    replayed = None
    for event in app.events.get(quota_id):
        replayed = event.mutate(replayed)
    assert vars(from_snapshot) == vars(replayed)
    assert from_snapshot.version == 1 + 2 + 55 + 5  # opened, requested, decided, 55 selections, 5 releases
    assert from_snapshot.used == (50, 0) and from_snapshot.decided == (60, 0)
