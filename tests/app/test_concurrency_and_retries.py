"""Races and retries: optimistic concurrency, idempotency keys and the bulk unit of work, on both backends."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from settlement_domain.application import SettlementApp
from settlement_domain.errors import ConcurrencyConflict, IdempotencyKeyReused, NotFound, RuleViolation
from settlement_domain.persistence import store_environment
from tests.builders import IMDI, OSLO, distribution_list, events_since, municipalities, person
from tests.conftest import TODAY


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


@pytest.mark.slow
def test_many_simultaneous_approvals_of_one_list_store_exactly_one(database_url):
    app = SettlementApp(store_environment(database_url), clock=lambda: TODAY)
    try:
        municipalities(app)
        people = [person(app) for _ in range(3)]
        list_id = distribution_list(app, "0301", people)
        outcomes = race(12, lambda: app.approve_distribution_list(OSLO, list_id, people, {}))
        successes = [o for o in outcomes if not isinstance(o, Exception)]
        failures = [o for o in outcomes if isinstance(o, Exception)]
        assert len(successes) == 1
        # The losers either collided on the list's version (conflict), or loaded it after the winner
        # committed and found it no longer open (R4); both answer 409 over HTTP.
        assert all(
            isinstance(f, ConcurrencyConflict) or (isinstance(f, RuleViolation) and f.rule == "R4")
            for f in failures
        ), failures
        approvals = [e for e in events_since(app, 0) if type(e).__name__ == "DistributionListApproved"]
        selections = [e for e in events_since(app, 0) if type(e).__name__ == "RefugeeSelected"]
        assert len(approvals) == 1 and len(selections) == 3
    finally:
        app.close()


def test_a_stale_writer_gets_the_conflict_error_and_nothing_is_half_written(app):
    municipalities(app)
    someone = person(app)
    list_id = distribution_list(app, "0301", [someone])
    stale = app.refugee(someone)
    app.approve_distribution_list(OSLO, list_id, [someone], {})
    before = app.position()
    stale.open_deviation(meta={}, deviation_id="d", kind="k", description="d",
                         registered_private_by_known_deviation=False)
    with pytest.raises(Exception) as caught:
        app.save(stale)
    assert "Integrity" in type(caught.value).__name__
    assert app.position() == before


def test_the_same_key_with_another_body_is_refused_and_appends_nothing(app):
    municipalities(app)
    keyed = replace(IMDI, idempotency_key="k-1")
    app.request_settlement(keyed, "0301", 2025, 100, 5)
    before = app.position()
    with pytest.raises(IdempotencyKeyReused):
        app.request_settlement(keyed, "0301", 2025, 101, 5)
    with pytest.raises(IdempotencyKeyReused):
        app.decide_quota(replace(OSLO, idempotency_key="k-1", actor=IMDI.actor), "0301", 2025, 1, 0, TODAY)
    assert app.position() == before


def test_keys_are_scoped_to_the_actor(app):
    municipalities(app)
    first = app.decide_quota(replace(OSLO, idempotency_key="same"), "0301", 2025, 10, 1, TODAY)
    other = app.request_settlement(replace(IMDI, idempotency_key="same"), "0301", 2025, 12, 1)
    assert not other.replayed and other.id == first.id and other.version > first.version


def test_a_key_never_replays_across_municipalities_or_roles(app):
    """One person may work for two municipalities with the same subject (ID-porten identifies the person)."""
    from settlement_domain.context import Actor, Role

    municipalities(app)
    kari_in_oslo = replace(OSLO, idempotency_key="k")
    kari_in_bergen = replace(OSLO, actor=Actor("kari", Role.MUNICIPALITY, "4601"), idempotency_key="k")
    first = app.decide_quota(kari_in_oslo, "0301", 2025, 10, 1, TODAY)
    with pytest.raises(RuleViolation) as caught:  # checked afresh, not a replay of Oslo's answer
        app.decide_quota(kari_in_bergen, "0301", 2025, 10, 1, TODAY)
    assert caught.value.rule == "R2"
    second = app.decide_quota(kari_in_bergen, "4601", 2025, 10, 1, TODAY)
    assert not second.replayed and second.id != first.id


def test_every_folder_read_is_checked_and_recorded_even_with_a_key(app):
    from settlement_domain.context import Actor, Role
    from tests.builders import selected

    municipalities(app)
    someone = person(app)
    selected(app, OSLO, [someone])
    keyed = replace(OSLO, idempotency_key="read-1")
    app.record_folder_view(keyed, someone)
    app.record_folder_view(keyed, someone)
    views = [e for e in events_since(app, 0) if type(e).__name__ == "PersonFolderViewed"]
    assert len(views) == 2
    elsewhere = replace(keyed, actor=Actor("kari", Role.MUNICIPALITY, "4601"))
    with pytest.raises(NotFound):
        app.record_folder_view(elsewhere, someone)


@pytest.mark.slow
def test_simultaneous_retries_with_one_key_append_once(database_url):
    app = SettlementApp(store_environment(database_url), clock=lambda: TODAY)
    try:
        municipalities(app)
        keyed = replace(IMDI, idempotency_key="retry-storm")
        outcomes = race(8, lambda: app.request_settlement(keyed, "0301", 2025, 100, 5))
        answers = [o for o in outcomes if not isinstance(o, Exception)]
        assert all(not isinstance(o, Exception) or isinstance(o, ConcurrencyConflict) for o in outcomes)
        assert {a.id for a in answers} == {answers[0].id}
        requests = [e for e in events_since(app, 0) if type(e).__name__ == "SettlementRequested"]
        assert len(requests) == 1
    finally:
        app.close()


def test_a_unit_of_work_stores_many_commands_in_one_flush(app):
    before = app.position()
    with app.unit_of_work() as unit:
        municipalities(app)
        app.request_settlement(IMDI, "0301", 2025, 10, 1)
        app.decide_quota(OSLO, "0301", 2025, 8, 1, TODAY)  # sees the unflushed quota year
        assert app.position() == before
        position = unit.flush()
    assert position == app.position() > before
    assert app.quota_year("0301", 2025).decided == (8, 1)


def test_a_refused_command_in_a_unit_leaves_no_trace(app):
    with app.unit_of_work():
        municipalities(app)
        people = [person(app, family_id="f"), person(app, family_id="f")]
        list_id = distribution_list(app, "0301", people)
        with pytest.raises(RuleViolation):
            # R4 refuses after loading the list; the list must stay open and unchanged.
            app.approve_distribution_list(OSLO, list_id, [people[0]], {people[1]: "split"})
        app.approve_distribution_list(OSLO, list_id, people, {})
    assert app.refugee(people[0]).selected_by == "0301"
    approvals = [e for e in events_since(app, 0) if type(e).__name__ == "DistributionListApproved"]
    assert len(approvals) == 1


def test_an_error_leaving_a_unit_drops_its_unflushed_work(app):
    with pytest.raises(RuntimeError), app.unit_of_work() as unit:
        municipalities(app)
        unit.flush()
        app.request_settlement(IMDI, "0301", 2025, 10, 1)
        raise RuntimeError("crash in the middle of an import")
    assert app.quota_year("0301", 2025) is None
    assert app.municipality("0301").name == "Oslo"


def test_a_busy_quota_year_is_snapshotted_and_loads_the_same(app):
    from settlement_domain.quota import QuotaYear
    from tests.builders import quota, selected

    municipalities(app)
    quota(app, persons=60, minors=0)
    people = [person(app) for _ in range(55)]
    selected(app, OSLO, people)
    for someone in people:
        app.decide_settlement(IMDI, someone, "0301", 2025)
    quota_id = QuotaYear.create_id("0301", 2025)
    snapshots = list(app.snapshots.get(quota_id, desc=True, limit=1))
    assert snapshots and snapshots[0].originator_version == 50
    from_snapshot = app.repository.get(quota_id)
    replayed = None
    for event in app.events.get(quota_id):
        replayed = event.mutate(replayed)
    assert vars(from_snapshot) == vars(replayed)
    assert from_snapshot.places_taken == 55 and from_snapshot.decided == (60, 0)


def test_a_refusal_after_unflushed_changes_keeps_them_to_be_stored_once(app):
    """A refused command in a unit puts back the aggregates it touched, unflushed events included."""
    from tests.builders import quota, selected

    with app.unit_of_work() as unit:
        municipalities(app)
        quota(app)
        someone = person(app, private=True)
        selected(app, OSLO, [someone])
        app.decide_settlement(IMDI, someone, "0301", 2025)
        deviation = app.open_deviation(IMDI, someone, "address", "Check address").extra["deviation_id"]
        with pytest.raises(RuleViolation) as caught:
            app.register_settlement_date(OSLO, someone, TODAY)
        assert caught.value.rule == "R7c"
        unit.flush()
        app.resolve_deviation(IMDI, someone, deviation, "Fine")
        unit.flush()
        app.register_settlement_date(OSLO, someone, TODAY)
    refugee = app.refugee(someone)
    assert refugee.settlement_date == TODAY and not refugee.has_open_deviation
    opened = [e for e in events_since(app, 0) if type(e).__name__ == "DeviationOpened"]
    assert len(opened) == 1
