"""The PostgreSQL recorder of settlement's log: the library's, and a NOTIFY on the schema's channel.

Every transaction that appends events also sends ``NOTIFY settlement_<schema>``, which PostgreSQL
delivers when (and only if) the transaction commits: a projection runner listening on the channel
(``projections.engine.wakeup``), in this process or another, folds the new events at once instead of
at its next poll. The statement goes through the library's extension point for statements run before
the insert in the same pipelined transaction (``_insert_events``), so it costs no round trip of its
own. The library's own ``NOTIFY settlement_events`` is on one channel for every schema of the
database; this one is the schema's alone. The library's database functions are not used (they stay
switched off, see :func:`settlement_domain.persistence.store_environment`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder

from settlement_domain.persistence import notify_channel


class NotifyingPostgresRecorder(PostgresApplicationRecorder):
    """The library's application recorder, whose inserts also notify the schema's channel."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notify_statement = notify_statement(notify_channel(self.datastore.schema))

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        if stored_events:
            curs.execute(self.notify_statement)


def notify_statement(channel: str) -> str:
    """``NOTIFY "<channel>"``, the channel quoted as an identifier."""
    return 'NOTIFY "' + channel.replace('"', '""') + '"'
