"""Values prepared for SQLite by the bulk writer are the text SQLAlchemy's column types store: rows
written in bulk (rebuild, runner) compare equal to rows written through SQLAlchemy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Date
from sqlalchemy.dialects import sqlite

from projections.engine.bulk_write import sqlite_date, sqlite_instant
from projections.engine.store import UTCDateTime

DIALECT = sqlite.dialect()
INSTANT = UTCDateTime().dialect_impl(DIALECT).bind_processor(DIALECT)
DAY = Date().dialect_impl(DIALECT).bind_processor(DIALECT)

zones = st.one_of(
    st.none(),
    st.just(UTC),
    st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes))),
)


@given(st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31)), zones)
def test_an_instant_is_stored_as_sqlalchemy_stores_it(moment, zone):
    value = moment.replace(tzinfo=zone)
    assert sqlite_instant(value) == INSTANT(value)


@given(st.dates())
def test_a_date_is_stored_as_sqlalchemy_stores_it(day):
    assert sqlite_date(day) == DAY(day)


def test_a_datetime_in_a_date_column_keeps_sqlalchemy_s_text():
    moment = datetime(2024, 5, 17, 13, 45)
    assert sqlite_date(moment) == DAY(moment) == "2024-05-17"
