"""``settlement bench --import``: a generated person-level history imported into a fresh store.

Measures, in one run: reading and checking the file, recording it (the whole import through
:func:`api.imports.backfill.import_file`, as ``settlement import`` runs it), and bringing the read
models level with a catch-up afterwards. Rates are events appended (or folded) per second.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from api.bench.history_file import EVENTS_PER_PERSON, generate
from api.bench.scratch_store import fresh_store
from api.bootstrap import open_application
from api.imports import person_history
from api.imports.backfill import import_file
from api.settings import Settings
from projections.catalog import PROJECTIONS
from projections.engine.runner import Runner
from projections.engine.store import open_read_store
from settlement_domain.bulk import paused_garbage_collector

TARGET = 20_000  # events/s for a person-level file into PostgreSQL (the backfills issue)


@dataclass(frozen=True)
class ImportBenchOptions:
    backend: str = "postgres"
    postgres_url: str | None = None
    events: int = 100_000
    seed: int = 1


def run(options: ImportBenchOptions, console: Console) -> dict[str, Any]:
    history = generate(max(1, options.events // EVENTS_PER_PERSON), seed=options.seed)
    console.print(
        f"generated {history.lines:,} lines for {history.persons:,} persons ({len(history.content):,} bytes)"
    )
    with fresh_store(options.backend, options.postgres_url) as url:
        app = open_application(Settings(database_url=url))
        try:
            started = time.perf_counter()
            person_history.parse(history.content, "bench.jsonl")
            parse_seconds = time.perf_counter() - started
            before = app.position()
            started = time.perf_counter()
            with paused_garbage_collector():
                report = import_file(app, history.content, "bench.jsonl")
            import_seconds = time.perf_counter() - started
            appended = app.position() - before
            if not report.imported:
                raise RuntimeError(
                    f"the generated file did not import: {report.bad_rows[:3]} {report.conflicts[:3]}"
                )
            engine = open_read_store(url)
            runner = Runner(app, engine, PROJECTIONS.values())
            try:
                started = time.perf_counter()
                with paused_garbage_collector():
                    folded = runner.catch_up()
                catch_up_seconds = time.perf_counter() - started
            finally:
                runner.release()
                engine.dispose()
        finally:
            app.close()
    rate = appended / import_seconds
    return {
        "backend": options.backend,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "lines": history.lines,
        "persons": history.persons,
        "events_appended": appended,
        "parse_seconds": round(parse_seconds, 2),
        "import_seconds": round(import_seconds, 2),
        "import_events_per_second": round(rate),
        "target_events_per_second": TARGET,
        "ratio_to_target": round(rate / TARGET, 2),
        "catch_up_events": folded,
        "catch_up_seconds": round(catch_up_seconds, 2),
        "catch_up_events_per_second": round(folded / catch_up_seconds) if catch_up_seconds else None,
    }
