"""Every event the write side can append gets an audit summary, including the rarer paths."""

from __future__ import annotations

from datetime import timedelta

from projections.audit_trail import audit_events
from tests.builders import IMDI, OSLO, municipalities, person, selected
from tests.conftest import TODAY
from tests.projections.conftest import catch_up


def test_imdi_setting_the_first_date_where_the_municipality_may_not_is_summarised(app, engine):
    municipalities(app)
    someone = person(app, private=True)
    selected(app, OSLO, [someone])
    app.open_deviation(IMDI, someone, "residence", "From reception", registered_private_by_known_deviation=True)
    app.correct_settlement_date(IMDI, someone, TODAY - timedelta(days=2), "R7d: IMDi registers")
    app.correct_settlement_date(IMDI, someone, TODAY, "Moved two days later")
    catch_up(app, engine)
    corrected = audit_events(engine, person=str(someone), type="SettlementDateCorrected")["items"]
    assert [item["summary"] for item in corrected] == [
        f"Settlement date corrected from {TODAY - timedelta(days=2)} to {TODAY}",
        f"Settlement date {TODAY - timedelta(days=2)} set by IMDi in 0301",
    ]
