"""R14: read records (``PersonFolderViewed``, ``PersonalDataListed``) are kept readable for the
retention period (default five years), then become unreadable by the same means as erasure (R18).

The persons a read record names are sealed with a key of the calendar month it was recorded in
(``reads:YYYY-MM``, in the key store beside the persons' keys). ``settlement keys expire`` deletes
the keys of the months wholly before the retention period; the records stay in the log (the hash chain
is untouched) but no longer say whose data was read.
"""

from __future__ import annotations

from datetime import date, datetime

from settlement_domain.personal_keys import PersonalKeys

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


def expire_read_keys(keys: PersonalKeys, today: date, years: int) -> list[str]:
    """Deletes the keys of the months before the retention period; answers the months deleted now."""
    held = [k for k, alive in keys.key_ids(PREFIX) if alive]
    expired = expired_month_keys(held, today, years)
    keys.delete_keys(expired)
    return expired
