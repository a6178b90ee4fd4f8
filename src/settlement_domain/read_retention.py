"""R14: read records (``PersonFolderViewed``, ``PersonalDataListed``) are kept readable for the
retention period (default five years), then become unreadable by the same means as erasure (R18).

The persons a read record names are sealed with a key of the calendar month it was recorded in
(``reads:YYYY-MM``, in the key store beside the persons' keys). ``settlement keys expire`` deletes
the keys of the months wholly before the retention period; the records stay in the log (the hash chain
is untouched) but no longer say whose data was read. The process that runs the projections does the
same by itself, at start and then periodically (``projections/read_expiry.py``).
"""

from __future__ import annotations

import threading
import time
import weakref
from datetime import UTC, date, datetime

from settlement_domain.errors import RuleViolation
from settlement_domain.personal_keys import CACHE_SECONDS, PersonalKeys

PREFIX = "reads:"


def month_key(moment: datetime | date) -> str:
    """The key id of the month a read record belongs to (UTC)."""
    return f"{PREFIX}{moment.year:04d}-{moment.month:02d}"


def oldest_readable_month(today: date, years: int) -> date:
    """The first day of the oldest month whose read records are still readable: the month ``years``
    before today's."""
    return date(today.year - years, today.month, 1)


def expired_month_keys(month_keys: list[str], today: date, years: int) -> list[str]:
    """The month keys wholly before the retention period."""
    oldest = month_key(oldest_readable_month(today, years))
    return [k for k in month_keys if k < oldest]


def expire_read_keys(keys: PersonalKeys, today: date, years: int, *, now: date | None = None) -> list[str]:
    """Deletes the keys of the months before the retention period; answers the months deleted now.
    Refused (R14) when that would delete the key of the current month (``now``, the real date, when
    ``today`` is given otherwise) or a later one: read records being written now would lose it."""
    held = [k for k, alive in keys.key_ids(PREFIX) if alive]
    expired = expired_month_keys(held, today, years)
    current = month_key(now or today)
    if any(k >= current for k in expired):
        raise RuleViolation(
            "R14",
            "The key of the current month (%(month)s) or a later one is never expired.",
            field="today",
            params={"month": current[len(PREFIX) :]},
        )
    keys.delete_keys(expired)
    with _lock:
        _readable_from.pop(keys, None)
    return expired


_readable_from: weakref.WeakKeyDictionary[PersonalKeys, tuple[float, date | None]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def readable_from(keys: PersonalKeys | None, today: date, years: int) -> date:
    """The first day from which read records still name their persons: the month of the oldest month
    key still held; with none held, the month after the newest deleted one; with no read recorded
    yet (or a store without keys), the start of the retention period. Asked of the key store at most
    once every CACHE_SECONDS per process."""
    if keys is None:
        return oldest_readable_month(today, years)
    now = time.monotonic()
    with _lock:
        cached = _readable_from.get(keys)
    if cached is None or now - cached[0] >= CACHE_SECONDS:
        ids = keys.key_ids(PREFIX)
        alive = sorted(k for k, held in ids if held)
        gone = sorted(k for k, held in ids if not held)
        found: date | None = None
        if alive:
            found = _month(alive[0])
        elif gone:
            last = _month(gone[-1])
            found = date(last.year + last.month // 12, last.month % 12 + 1, 1)
        cached = (now, found)
        with _lock:
            _readable_from[keys] = cached
    return cached[1] or oldest_readable_month(today, years)


def month_span(key_id: str) -> tuple[datetime, datetime]:
    """The moments (UTC) a month key's read records were recorded between: ``[first, next month's first)``."""
    first = _month(key_id)
    after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return (
        datetime(first.year, first.month, 1, tzinfo=UTC),
        datetime(after.year, after.month, 1, tzinfo=UTC),
    )


def _month(key_id: str) -> date:
    year, month = key_id[len(PREFIX) :].split("-")
    return date(int(year), int(month), 1)
