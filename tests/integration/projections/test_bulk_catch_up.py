"""A read model that has folded nothing yet is built the rebuild's way when the log is long: the
result must be exactly what the runner gives batch by batch (and a rebuild gives), a failure must
leave the empty generation serving at position 0, and the hash chain (R20) must still link every
event once."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select

from projections.catalog import PROJECTIONS
from projections.engine import chain as event_chain
from projections.engine import runner as runner_module
from projections.engine.projection import ProjectionError
from projections.engine.rows import MemoryRows
from projections.engine.state import STATE
from projections.engine.verify import verify
from tests.integration.projections.conftest import register, runner, snapshot
from tests.integration.projections.test_kept_rows import rebuilt


def states(engine) -> dict[str, tuple[int, int]]:
    with engine.connect() as conn:
        return {r.name: (r.generation, r.position) for r in conn.execute(select(STATE))}


def tables_of(engine, name: str, generation: int) -> list[str]:
    projection = PROJECTIONS[name]
    with engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
    return [t for t in (projection.table_name(s.name, generation) for s in projection.tables) if t in present]


def batch_by_batch(app, engine) -> dict:
    """The views the runner folds batch by batch from 0 (the path every other test takes)."""
    one = runner(app, engine, batch_size=7, bulk_from=None)
    one.catch_up()
    one.release()
    return snapshot(engine)


def test_a_fresh_store_built_in_bulk_equals_the_batch_by_batch_fold_and_a_rebuild(app, engine, history):
    head = app.position()
    bulk = runner(app, engine, batch_size=7, bulk_from=1)
    bulk.catch_up()
    assert {position for _, position in states(engine).values()} == {head}
    assert {generation for generation, _ in states(engine).values()} == {2}
    # Every event linked once, in order, though the views were built in one step (R20).
    assert event_chain.verify_chain(app, engine).intact
    with engine.connect() as conn:
        assert event_chain.head(conn)[0] == head
    bulk.release()  # drops the replaced empty generations after the readers' grace
    assert all(not tables_of(engine, name, 1) for name in PROJECTIONS)
    # `settlement audit verify`: the library's own decoder replayed against the built views.
    assert verify(app, engine, PROJECTIONS.values()).equal
    in_bulk = snapshot(engine)
    assert rebuilt(app, engine) == in_bulk

    # The same log folded batch by batch into a fresh install gives the same rows.
    with engine.begin() as conn:
        conn.execute(STATE.delete())
    assert batch_by_batch(app, engine) == in_bulk


def test_after_the_bulk_build_the_runner_follows_the_log_batch_by_batch(app, engine, history, monkeypatch):
    bulk = runner(app, engine, batch_size=7, bulk_from=1)
    bulk.catch_up()
    built = runner_module.Runner._build_in_bulk
    calls = []
    monkeypatch.setattr(
        runner_module.Runner, "_build_in_bulk", lambda self, *a: calls.append(a) or built(self, *a)
    )
    for i in range(9):
        register(app, f"Later {i}")
    bulk.catch_up()
    assert not calls, "read models past position 0 are never built in bulk again"
    assert {position for _, position in states(engine).values()} == {app.position()}
    bulk.release()
    live = snapshot(engine)
    assert rebuilt(app, engine) == live


def test_only_read_models_at_position_0_are_built_in_bulk(app, engine, history):
    first = runner(app, engine, batch_size=7, bulk_from=None)
    first.run_batch()  # every read model a batch in
    first.release()
    with engine.begin() as conn:  # one read model added later: installed empty, at position 0
        conn.execute(STATE.delete().where(STATE.c.name == "places"))
    for i in range(4):
        register(app, f"Meanwhile {i}")
    bulk = runner(app, engine, batch_size=7, bulk_from=1)
    bulk.catch_up()
    bulk.release()
    generations = {name: generation for name, (generation, _) in states(engine).items()}
    assert generations["places"] == 2
    assert {g for name, g in generations.items() if name != "places"} == {1}
    live = snapshot(engine)
    assert rebuilt(app, engine) == live


def test_a_bulk_build_that_fails_leaves_the_empty_generation_serving_and_is_done_again(
    app, engine, history, monkeypatch
):
    put = MemoryRows.put

    def broken(self, table, row):
        if self.projection.name == "places":
            raise ValueError("boom")
        put(self, table, row)

    monkeypatch.setattr(MemoryRows, "put", broken)
    failing = runner(app, engine, batch_size=7, bulk_from=1)
    with pytest.raises(ProjectionError, match="places"):
        failing.catch_up()
    failing.release()
    # Nothing swapped: every read model still at position 0 on its first (empty) generation.
    assert set(states(engine).values()) == {(1, 0)}
    monkeypatch.undo()
    again = runner(app, engine, batch_size=7, bulk_from=1)
    again.catch_up()
    again.release()
    assert {position for _, position in states(engine).values()} == {app.position()}
    live = snapshot(engine)
    assert rebuilt(app, engine) == live


def test_below_the_threshold_a_fresh_read_model_is_folded_batch_by_batch(app, engine, history, monkeypatch):
    calls = []
    monkeypatch.setattr(runner_module.Runner, "_build_in_bulk", lambda self, *a: calls.append(a) or 0)
    small = runner(app, engine, batch_size=7, bulk_from=app.position() + 1)
    small.catch_up()
    small.release()
    assert not calls
    assert {generation for generation, _ in states(engine).values()} == {1}


@pytest.mark.parametrize("linked_before", [0, 5])
def test_the_bulk_build_links_the_pages_it_reads_into_the_chain(app, engine, history, linked_before):
    """One read of the log for the chain and the read models; a chain already partly linked (by a
    checkpoint) goes on from its head, each event linked once (R20)."""
    event_chain.install(engine)
    if linked_before:
        event_chain.advance(app, engine, limit=linked_before)
    bulk = runner(app, engine, batch_size=7, bulk_from=1)
    bulk.run_batch()  # the bulk build: the chain reaches the head in the same step
    with engine.connect() as conn:
        assert event_chain.head(conn)[0] == app.position()
    report = event_chain.verify_chain(app, engine)
    assert report.intact and report.linked == report.log_events == app.position()
    bulk.release()
