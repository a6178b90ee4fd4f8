"""R14 over HTTP: places, the national report and a case as they stood at a past moment, replayed from the log."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from tests.e2e.conftest import AUDITOR, IMDI, MUNICIPALITY, OSLO, Api, problem
from tests.e2e.story import approve, propose, register_refugee, request_and_decide, two_municipalities


def moment() -> str:
    """Now, as an instant strictly between the writes before and after it."""
    time.sleep(0.01)
    now = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    return now


def test_places_and_the_national_report_as_of_a_moment_before_and_after_each_step(api: Api) -> None:
    two_municipalities(api)
    before_anything = moment()
    request_and_decide(api, OSLO, persons=5, minors=1)
    after_decision = moment()
    person = register_refugee(api)
    approve(api, OSLO, propose(api, OSLO, [person]), [person])
    after_selection = moment()
    api.ok(api.post(f"/refugees/{person}/settlement-decision", {"municipality": OSLO}, IMDI))
    api.ok(api.post(f"/refugees/{person}/settlement-date", {"date": "2025-06-16"}, MUNICIPALITY, OSLO))
    after_date = moment()

    def places(as_of: str, **params: str) -> dict:
        return api.ok(
            api.get(
                f"/municipalities/{OSLO}/places", AUDITOR, params={"year": 2025, "as_of": as_of, **params}
            )
        )

    def figures(found: dict) -> tuple:
        p = found["persons"]
        return (p["decided"], p["agreed"], p["settled"], p["vacant"])

    assert figures(places(before_anything)) == (None, 0, 0, None)
    assert figures(places(after_decision)) == (5, 0, 0, 5)
    assert figures(places(after_selection)) == (5, 1, 0, 4)
    assert figures(places(after_date)) == (5, 0, 1, 4)
    now = api.ok(api.get(f"/municipalities/{OSLO}/places", AUDITOR, params={"year": 2025}))
    assert places(after_date)["persons"] == now["persons"]  # the replay agrees with the read model
    # By business time the settlement date (2025-06-16) counts from its own day.
    assert figures(places("2025-06-17T00:00:00+00:00", by="business")) == (5, 0, 1, 4)

    def national_settled(as_of: str) -> int:
        report = api.ok(api.get("/reports/national", IMDI, params={"year": 2025, "as_of": as_of}))
        return report["total"]["settled"]

    assert (national_settled(after_selection), national_settled(after_date)) == (0, 1)


def test_a_case_by_business_time_and_bad_moments(api: Api) -> None:
    two_municipalities(api)
    request_and_decide(api, OSLO, persons=5, minors=1)
    person = register_refugee(api)
    approve(api, OSLO, propose(api, OSLO, [person]), [person])
    api.ok(api.post(f"/refugees/{person}/settlement-decision", {"municipality": OSLO}, IMDI))
    api.ok(api.post(f"/refugees/{person}/settlement-date", {"date": "2025-06-16"}, MUNICIPALITY, OSLO))
    history = api.ok(
        api.get(
            f"/refugees/{person}/history", IMDI, params={"as_of": "2025-06-17T00:00:00Z", "by": "business"}
        )
    )
    assert history["state"]["settlement_date"] == "2025-06-16"
    earlier = api.ok(
        api.get(
            f"/refugees/{person}/history", IMDI, params={"as_of": "2025-06-15T00:00:00Z", "by": "business"}
        )
    )
    # The case's first dated fact is its selection on 2025-06-16: by business time it did not exist before.
    assert earlier["state"] is None
    problem(api.get(f"/municipalities/{OSLO}/places", IMDI, params={"as_of": "yesterday"}), 422)
    problem(
        api.get(f"/municipalities/{OSLO}/places", IMDI, params={"as_of": "2025-06-12T00:00:00Z", "by": "x"}),
        422,
    )
    problem(
        api.get(f"/municipalities/{OSLO}/places", IMDI, params={"as_of": "0001-01-01T00:00:00+01:00"}), 422
    )
