"""The live runner keeps a read model's rows in memory between batches: never past a moment when
someone else may have written its tables (a rebuild's swap, another runner, a failed batch), and
always giving the rows a rebuild gives."""

from __future__ import annotations

from datetime import date

import pytest

from projections.catalog import select_projections
from projections.engine import runner as runner_module
from projections.engine.projection import ProjectionError
from projections.engine.rebuild import rebuild
from projections.engine.rows import DatabaseRows
from settlement_domain import commands as c
from tests.given import OSLO
from tests.integration.projections.conftest import register, runner, snapshot


def rebuilt(app, engine) -> dict:
    """The views a rebuild of the whole log gives (and leaves serving)."""
    rebuild(app, engine, select_projections(None), grace_seconds=0)
    return snapshot(engine)


def more(app, n: int, prefix: str) -> None:
    for i in range(n):
        register(app, f"{prefix} {i}")


def test_a_runner_keeps_rows_between_batches_and_equals_a_rebuild(app, engine, history):
    kept = runner(app, engine, batch_size=7)
    kept.catch_up()
    assert kept._kept, "rows were kept between batches"
    more(app, 9, "Later")
    kept.catch_up()
    kept.release()
    live = snapshot(engine)
    assert rebuilt(app, engine) == live


def test_after_a_rebuild_swapped_the_runner_starts_over_on_the_new_generation(app, engine, history):
    kept = runner(app, engine, batch_size=7)
    kept.catch_up()
    rebuild(app, engine, select_projections(None), grace_seconds=0)  # generation 2 now serves
    more(app, 8, "After the swap")
    kept.catch_up()
    assert {k.generation for k in kept._kept.values()} == {2}
    kept.release()
    live = snapshot(engine)
    assert rebuilt(app, engine) == live


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_when_another_runner_folded_meanwhile_the_kept_rows_are_dropped(app, engine, history):
    """Two runners on one SQLite store take turns (its write lock); each sees the other's positions."""
    first, second = runner(app, engine, batch_size=5), runner(app, engine, batch_size=5)
    first.catch_up()
    before = {name: kept.rows for name, kept in first._kept.items()}
    more(app, 6, "For the second")
    second.catch_up()
    more(app, 6, "For the first")
    first.catch_up()  # its rows of before the second runner's batches must not be used
    assert before and all(first._kept[name].rows is not rows for name, rows in before.items())
    live = snapshot(engine)
    assert rebuilt(app, engine) == live


def test_a_failed_batch_drops_the_kept_rows_and_the_same_runner_resumes_correctly(
    app, engine, history, monkeypatch
):
    kept = runner(app, engine, batch_size=7)
    kept.catch_up()
    app.handle(OSLO, c.DecideQuota("0301", 2025, 9, 1, date(2025, 4, 1)))
    more(app, 3, "Before the failure")

    flush = DatabaseRows.flush

    def broken(self):
        if self.projection.name == "places":
            raise OSError("disk full")
        flush(self)

    # The read models before places in the batch folded and flushed in memory and in the
    # transaction; the rollback undoes their rows, so what they kept must go too.
    monkeypatch.setattr(DatabaseRows, "flush", broken)
    with pytest.raises(ProjectionError, match="places"):
        kept.catch_up()
    assert not kept._kept
    monkeypatch.undo()
    kept.catch_up()
    kept.release()
    live = snapshot(engine)
    assert rebuilt(app, engine) == live


def test_a_runner_behind_reads_small_tables_whole_and_looks_nothing_up(app, engine, history, monkeypatch):
    """Started on read models that hold rows, far behind: tables are read whole at their first
    lookup (no lookup per key), and the result is the rebuild's."""
    first = runner(app, engine, batch_size=50)
    first.catch_up()
    first.release()
    more(app, 12, "Backfill")
    lookups = []
    execute = DatabaseRows.get

    def counting(self, table, key):
        if key not in self.cache[table] and table not in self.complete:
            lookups.append(table)
        return execute(self, table, key)

    monkeypatch.setattr(DatabaseRows, "get", counting)
    monkeypatch.setattr(runner_module, "LOAD_PER_EVENT", 1_000)
    behind = runner(app, engine, batch_size=10)  # more than one batch behind: catching up
    behind.catch_up()
    behind.release()
    # One first lookup per table looked up (it reads the table whole), never one per key.
    assert len(lookups) == len(set(lookups))
    monkeypatch.undo()
    live = snapshot(engine)
    assert rebuilt(app, engine) == live


def test_a_runner_far_behind_bounded_by_no_loading_still_equals_a_rebuild(app, engine, history, monkeypatch):
    """With loading off (tables too large), every lookup goes to the database, kept afterwards."""
    first = runner(app, engine, batch_size=50)
    first.catch_up()
    first.release()
    more(app, 10, "Lazily")
    monkeypatch.setattr(runner_module, "LOAD_PER_EVENT", 0)
    monkeypatch.setattr(runner_module, "KEPT_AT_HEAD", 0)  # dropped after every batch at the head
    lazy = runner(app, engine, batch_size=4)
    lazy.catch_up()
    lazy.release()
    live = snapshot(engine)
    assert rebuilt(app, engine) == live


def test_rows_that_outgrew_the_bound_are_not_read_whole_again_at_every_batch(
    app, engine, history, monkeypatch
):
    """A read model whose kept rows passed the catching-up bound is dropped once; until the head its
    tables are looked up key by key, not read whole again at each batch (review of issue 12)."""
    first = runner(app, engine, batch_size=50)
    first.catch_up()
    first.release()
    more(app, 30, "Outgrown")
    limits: list[object] = []
    made = DatabaseRows.__init__

    def recording(self, *args, **kwargs):
        limits.append(kwargs.get("load_limit"))
        made(self, *args, **kwargs)

    monkeypatch.setattr(DatabaseRows, "__init__", recording)
    monkeypatch.setattr(runner_module, "LOAD_PER_EVENT", 1_000)
    monkeypatch.setattr(runner_module, "KEPT_CATCHING_UP", 1)  # every read model outgrows it at once
    behind = runner(app, engine, batch_size=5)
    behind.catch_up()
    behind.release()
    loading = [limit for limit in limits if limit is not None]
    read_models = len(select_projections(None))
    # At most one loading start per read model (its first batch), then key by key.
    assert 0 < len(loading) <= read_models, (len(loading), read_models, len(limits))
    monkeypatch.undo()
    live = snapshot(engine)
    assert rebuilt(app, engine) == live
