"""An upgrade: a read model whose code changed its version (and tables) is rebuilt before it folds again."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Column, Engine, select

from projections.engine.paging import ReadModelNotReady, serving_tables
from projections.engine.projection import TableSpec
from projections.engine.rebuild import outdated, rebuild_outdated
from projections.engine.runner import OutdatedReadModel, Runner
from projections.engine.state import STATE
from projections.places import PlacesProjection
from settlement_domain.application import SettlementApp
from tests.given import municipalities, quota


class PlacesWithoutMinorsOverQuota(PlacesProjection):
    """The places read model as another version of the code might have it: its tables of another shape."""

    version = PlacesProjection.version + 1

    def __init__(self) -> None:
        quotas, *rest = PlacesProjection.tables

        def columns() -> list[Column[Any]]:
            return [c for c in quotas.columns() if c.name != "over_quota_minors"]

        self.tables = (TableSpec(quotas.name, columns, quotas.key, quotas.indexes), *rest)
        super().__init__()


def caught_up(runner: Runner) -> int:
    """Catches up and lets go of the runner's locks (PostgreSQL), as a worker that stops does."""
    try:
        return runner.catch_up()
    finally:
        runner.release()


def test_a_read_model_of_an_older_version_is_rebuilt_before_the_runner_folds_into_it(
    app: SettlementApp, engine: Engine
) -> None:
    municipalities(app)
    quota(app, "0301", persons=10, minors=2)
    old = PlacesProjection()
    caught_up(Runner(app, engine, [old]))
    new = PlacesWithoutMinorsOverQuota()
    assert outdated(engine, [new]) == [new]

    # Reads of it wait for the rebuild (503), and the runner refuses to fold events into tables another
    # version built (it would fail on their shape).
    with engine.connect() as conn, pytest.raises(ReadModelNotReady, match="being rebuilt"):
        serving_tables(conn, new)
    quota(app, "4601", persons=5, minors=1)
    with pytest.raises(OutdatedReadModel, match="rebuild it"):
        caught_up(Runner(app, engine, [new]))

    report = rebuild_outdated(app, engine, [new])
    assert report is not None
    (rebuilt,) = report.projections
    assert rebuilt.replaced_version == old.version and rebuilt.comparisons == []
    assert outdated(engine, [new]) == []
    with engine.connect() as conn:
        quotas = serving_tables(conn, new)["quotas"]
        assert "over_quota_minors" not in quotas.c
        numbers = sorted(r.municipality for r in conn.execute(select(quotas.c.municipality)))
        assert (
            conn.execute(select(STATE.c.version).where(STATE.c.name == new.name)).scalar_one() == new.version
        )
    assert numbers == ["0301", "4601"]

    quota(app, "0301", persons=12, minors=2, year=2026)  # the runner folds again
    assert caught_up(Runner(app, engine, [new])) > 0
    assert rebuild_outdated(app, engine, [new]) is None  # current: nothing to do
