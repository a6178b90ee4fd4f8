"""The audit trail's one-pass rendering of a summary stores exactly what the two-pass one did (R14)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from enum import StrEnum
from uuid import UUID

import pytest

from projections import audit_trail
from projections.audit_trail import _summary_json, encode_text, render
from settlement_domain.errors import Text as T


class Colour(StrEnum):
    RED = "red"


SAMPLES = [
    T("Mapping recorded"),
    T("Person registered: %(category)s", {"category": T("asylum")}),
    T("Settled in %(year)s: %(persons)s persons", {"year": "2024", "persons": 12}),
    T("decided on %(date)s", {"date": date(2024, 2, 29)}),
    T("at %(when)s", {"when": datetime(2024, 2, 29, 13, 5, tzinfo=UTC)}),
    T("flag %(flag)s and %(none)s", {"flag": True, "none": None}),
    T("persons %(ids)s", {"ids": ["a", 2, date(2020, 1, 1)]}),
    T("tuple %(ids)s", {"ids": ("x", "y")}),
    T("id %(id)s", {"id": UUID(int=7)}),
    T("enum %(colour)s", {"colour": Colour.RED}),
    T("ratio %(ratio)s", {"ratio": 0.5}),
    T('file %(file)s «Ålesund» "quoted" \\ tab\t', {"file": 'bosetting «æøå» "x"\n.csv'}),
    T(
        "%(line)s%(imported)s",
        {
            "line": T(
                "%(places)s of %(year)s", {"places": T("%(count)s places", {"count": 3}), "year": "2024"}
            ),
            "imported": T(", imported from %(file)s line %(line)s", {"file": "h.csv", "line": 12}),
        },
    ),
    T("optional %(part)s", {"part": ""}),
]


@pytest.mark.parametrize("line", SAMPLES, ids=lambda line: line.template[:24])
def test_one_pass_render_equals_the_english_line_and_the_encoded_words(line):
    english, encoded = render(line)
    assert english == str(line)
    assert encoded == encode_text(line)
    # Byte for byte what the view stored before: json.dumps with the text as it is (no \\u escapes).
    assert _summary_json(encoded) == json.dumps(encode_text(line), ensure_ascii=False)


def test_the_summary_json_falls_back_to_the_plain_encoder(monkeypatch):
    monkeypatch.setattr(audit_trail, "_SUMMARY_C_JSON", None)
    line = SAMPLES[-3]
    assert _summary_json(encode_text(line)) == json.dumps(encode_text(line), ensure_ascii=False)
