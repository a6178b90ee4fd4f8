"""Cursors are the one caller input a query function parses: anything damaged or forged is a BadCursor."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.engine.paging import BadCursor, decode_cursor, encode_cursor


def raw(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode().rstrip("=")


def test_a_cursor_handed_out_reads_back():
    instant = datetime(2025, 6, 16, 12, 30, tzinfo=UTC)
    assert decode_cursor(encode_cursor([instant.isoformat(), "abc"]), datetime, str) == [instant, "abc"]
    assert decode_cursor(encode_cursor([42]), int) == [42]


@pytest.mark.parametrize(
    ("cursor", "kinds"),
    [
        ("not-a-cursor!", (int,)),
        (raw("{}"), (int,)),
        (raw("[1, 2]"), (int,)),
        (raw('["1"]'), (int,)),
        (raw("[1.5]"), (int,)),
        (raw("[true]"), (int,)),
        (raw(f"[{2**70}]"), (int,)),
        (raw("[[1]]"), (int,)),
        (raw("[1]"), (str,)),
        (raw('["a\\u0000b"]'), (str,)),
        (raw('["\\ud800"]'), (str,)),
        (raw('["yesterday", "x"]'), (datetime, str)),
        (raw('["0001-01-01T00:00:00", "x"]'), (datetime, str)),
        (raw("[" * 100_000), (int,)),
        (raw("1" * 5000), (int,)),
        ("\u00e6\u00f8\u00e5", (int,)),
    ],
)
def test_damaged_and_forged_cursors_are_refused(cursor, kinds):
    with pytest.raises(BadCursor):
        decode_cursor(cursor, *kinds)


@given(st.text(max_size=200))
def test_any_text_is_either_a_cursor_or_a_bad_cursor(text):
    for kinds in ((int,), (str,), (datetime, str), (str, str)):
        try:
            values = decode_cursor(text, *kinds)
        except BadCursor:
            continue
        assert [type(v) for v in values] == list(kinds)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
        max_leaves=8,
    )
)
def test_any_json_is_either_a_cursor_or_a_bad_cursor(value):
    cursor = raw(json.dumps(value))
    for kinds in ((int,), (str,), (datetime, str)):
        try:
            values = decode_cursor(cursor, *kinds)
        except BadCursor:
            continue
        assert [type(v) for v in values] == list(kinds)
