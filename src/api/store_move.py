"""Moving a store into a new, empty one, sealing on the way what an older store holds in the clear (R18).

Events written before per-person keys keep their personal parts in the clear, and the log is never
rewritten in place (it is append-only and chained, R20). ``settlement store move --to URL`` copies the
whole log into a new store instead:

1. the target must be empty (no event, no key): anything else is refused;
2. the key table is copied first, each key as it was wrapped, each erased key as its tombstone;
3. the log is copied in log order, in batches (one transaction each), every event with its aggregate
   id, version and time. Each event is read as the source reads it (its sealed parts opened with the
   keys just copied) and stored again through the target's own mapper, which seals every personal
   part with its key exactly as a new event is sealed (``personal_keys.SealingMapper``): the parts an
   older store holds in the clear, and those older code kept apart (a family's text beside the sealed
   personal part), alike. A part of a person erased before the move is dropped (it reads as erased,
   as it did), and a read record of an expired month names nobody (R14);
4. the target's projection runner links the hash chain (R20) and builds every read model;
5. it verifies: the target holds as many events as were copied, its chain is intact and every read
   model equals a replay of its log (``settlement audit verify``).

Stop every process of the source first: events written during the move are not copied. A move that
stops part-way leaves a partial target: drop that database (or schema) and move again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from api.bootstrap import open_application
from api.settings import Settings
from projections.catalog import PROJECTIONS
from projections.engine import chain as event_chain
from projections.engine.runner import Runner
from projections.engine.store import open_read_store
from projections.engine.verify import verify
from settlement_domain.application import SettlementApp
from settlement_domain.bulk import paused_garbage_collector
from settlement_domain.personal_keys import PersonalKeys


class TargetNotEmpty(ValueError):
    """The target store already holds events or keys: a move only fills a new, empty store."""


@dataclass(frozen=True)
class MoveReport:
    """What a move did: events copied and found in the target, keys copied, the verification."""

    events: int
    target_events: int
    keys: int
    chain_intact: bool
    read_models_equal: bool
    differences: int
    seconds: float

    source_head: int  # the source's last position when the copy began
    source_head_after: int  # ... and at the end: higher if the old store was written to meanwhile

    @property
    def ok(self) -> bool:
        return (
            self.events == self.target_events
            and self.source_head_after == self.source_head
            and self.chain_intact
            and self.read_models_equal
        )


def _keys(app: SettlementApp, which: str) -> PersonalKeys:
    if app.personal_keys is None:
        raise ValueError(f"the {which} store keeps no data keys (an in-memory store)")
    return app.personal_keys


def move_store(
    settings: Settings,
    target_url: str,
    *,
    batch_size: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> MoveReport:
    """Moves the store of ``settings`` into the empty store at ``target_url`` (module doc)."""
    if batch_size < 1:
        raise ValueError("--batch-size must be at least 1")
    if target_url == settings.database_url:
        raise TargetNotEmpty("the target is the store being moved")
    started = time.perf_counter()
    source = open_application(settings)
    target = open_application(settings.model_copy(update={"database_url": target_url}))
    try:
        source_keys, target_keys = _keys(source, "source"), _keys(target, "target")
        if target.recorder.max_notification_id() or target_keys.counts() != (0, 0):
            raise TargetNotEmpty("the target store is not empty (it holds events or keys)")
        held = _copy_keys(source_keys, target_keys)
        events, head = _copy_log(source, target, target_keys, held, batch_size, progress)
        engine = open_read_store(target_url)
        try:
            with paused_garbage_collector():
                runner = Runner(target, engine, PROJECTIONS.values(), batch_size=batch_size)
                try:
                    runner.catch_up()  # links the chain (R20) and builds every read model
                finally:
                    runner.release()
                chain = event_chain.verify_chain(target, engine)
                report = verify(target, engine, PROJECTIONS.values())
        finally:
            engine.dispose()
        # A process still writing to the old store (a worker, the outbox, an import) made events the
        # move did not copy: the move is then not complete, whatever the target's own checks say.
        source_after = source.recorder.max_notification_id() or 0
    finally:
        target.close()
        source.close()
    return MoveReport(
        events=events,
        target_events=chain.log_events,
        keys=len(held),
        chain_intact=chain.intact and chain.unlinked == 0,
        read_models_equal=report.equal,
        differences=len(report.differences),
        seconds=time.perf_counter() - started,
        source_head=head,
        source_head_after=source_after,
    )


def _copy_keys(source: PersonalKeys, target: PersonalKeys) -> set[str]:
    """Copies the key table in batches; answers the key ids copied."""
    copied: set[str] = set()
    after = 0
    while rows := source.export_rows(after):
        target.import_rows(rows)
        copied.update(str(row[1]) for row in rows)
        after = int(rows[-1][0])
    return copied


def _copy_log(
    source: SettlementApp,
    target: SettlementApp,
    keys: PersonalKeys,
    held: set[str],
    batch_size: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[int, int]:
    """Copies the log in batches, each event sealed by the target's mapper (module doc); a person
    without a key gets one made in the transaction of the batch that first seals for them."""
    head = source.recorder.max_notification_id() or 0
    mapper: Any = target.mapper
    mapper.moving_keys = set(held)
    copied, start = 0, 1
    while True:
        page = source.recorder.select_notifications(start, batch_size, stop=head, inclusive_of_start=True)
        if not page:
            return copied, head
        with keys.pending_for_one_save():
            # Opened with the source's keys (an erased person's parts read as erased), sealed again with
            # the same keys, copied: the target stores each event as new code would have stored it.
            stored = [mapper.to_stored_event(source.mapper.to_domain_event(n)) for n in page]
            target.recorder.insert_events(stored)
        copied += len(page)
        start = page[-1].id + 1
        if progress is not None:
            progress(copied, head)
