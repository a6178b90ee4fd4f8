"""Every event the write side can append gets an audit summary, including the rarer paths."""

from __future__ import annotations

from datetime import timedelta

from projections.audit_trail import audit_events
from settlement_domain import commands as c
from tests.given import IMDI, OSLO, TODAY, municipalities, person, quota, selected
from tests.integration.projections.conftest import catch_up


def test_imdi_setting_the_first_date_where_the_municipality_may_not_is_summarised(app, engine):
    municipalities(app)
    quota(app, "0301", persons=10, minors=2)
    someone = person(app, private=True)
    selected(app, OSLO, [someone])
    app.handle(
        IMDI,
        c.OpenDeviation(someone, "residence", "From reception", registered_private_by_known_deviation=True),
    )
    app.handle(IMDI, c.CorrectSettlementDate(someone, TODAY - timedelta(days=2), "R7d: IMDi registers"))
    app.handle(IMDI, c.CorrectSettlementDate(someone, TODAY, "Moved two days later"))
    catch_up(app, engine)
    corrected = audit_events(engine, person=str(someone), type="SettlementDateCorrected")["items"]
    assert [item["summary"] for item in corrected] == [
        f"Settlement date corrected from {TODAY - timedelta(days=2)} to {TODAY}",
        f"Settlement date {TODAY - timedelta(days=2)} set by IMDi in 0301",
    ]


def test_each_summary_is_kept_as_words_the_edge_shows_in_bokmal(app, engine):
    from api.messages import audit_summaries

    municipalities(app)
    quota(app, "0301", persons=10, minors=2)
    someone = person(app, private=True)
    selected(app, OSLO, [someone])
    app.handle(IMDI, c.CorrectSettlementDate(someone, TODAY, "R7d: IMDi registers"))
    catch_up(app, engine)
    items = audit_events(engine, limit=500)["items"]
    assert items and all(item["summary_text"] for item in items)
    shown = audit_summaries("nb", items)
    assert audit_summaries("en", items) == items  # English: the line as stored
    by_type = {item["type"]: item["summary"] for item in shown}
    assert by_type["SettlementDateCorrected"] == f"Bosettingsdato {TODAY:%d.%m.%Y} satt av IMDi i 0301"
    assert by_type["QuotaDecided"].startswith("Vedtak om antall for ")
    assert by_type["RefugeeSelected"].startswith("Tatt imot av 0301 for ")
    # Every line is translated: none is left as its English original.
    untranslated = [
        (i["type"], s["summary"]) for i, s in zip(items, shown, strict=True) if i["summary"] == s["summary"]
    ]
    assert untranslated == []
