"""A runner process for the crash test: announces each batch after writing it, before its commit."""

from __future__ import annotations

import sys
import time

from projections.catalog import PROJECTIONS
from projections.engine.rows import DatabaseRows
from projections.engine.runner import Runner
from projections.engine.store import open_read_store
from settlement_domain.application import SettlementApp
from settlement_domain.persistence import store_environment

flush = DatabaseRows.flush


def slow_flush(self: DatabaseRows) -> None:
    flush(self)
    # Rows are written but not committed: a SIGKILL now lands in the middle of the batch.
    print("flushed", flush=True)
    time.sleep(0.05)


if __name__ == "__main__":
    url = sys.argv[1]
    DatabaseRows.flush = slow_flush  # type: ignore[method-assign]
    app = SettlementApp(store_environment(url))
    Runner(app, open_read_store(url), PROJECTIONS.values(), batch_size=5).catch_up()
    print("done", flush=True)
