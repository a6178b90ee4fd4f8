"""A person's case history as a municipality reads it: its own handling only, never another municipality's."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from tests.e2e.conftest import BERGEN, IMDI, MUNICIPALITY, OSLO, Api
from tests.e2e.story import approve, propose, register_refugee, two_municipalities, with_places


def test_a_municipality_reading_a_history_sees_nothing_of_another_municipalitys_handling(api: Api) -> None:
    two_municipalities(api)
    with_places(api, OSLO)
    person = register_refugee(api)
    bergen_list = propose(api, BERGEN, [person])
    approve(api, BERGEN, bergen_list, [], declined=[person])
    oslo_list = propose(api, OSLO, [person])
    approve(api, OSLO, oslo_list, [person])

    now = api.ok(api.get(f"/refugees/{person}/history", MUNICIPALITY, OSLO))
    assert now["state"]["selected_by"] == OSLO
    assert now["state"]["proposed_to"] in (None, OSLO)
    assert any(e["type"] == "RefugeeSelected" for e in now["items"])
    everything = api.ok(api.get(f"/refugees/{person}/history", IMDI))["items"]
    proposed_to_bergen = next(
        e["recorded_at"] for e in everything if e["type"] == "RefugeeProposed" and e["municipality"] == BERGEN
    )
    oslo_first = min(
        datetime.fromisoformat(e["recorded_at"]) for e in now["items"] if e["municipality"] == OSLO
    )
    before_oslo = api.ok(
        api.get(f"/refugees/{person}/history", MUNICIPALITY, OSLO, params={"as_of": proposed_to_bergen})
    )
    assert (
        api.ok(api.get(f"/refugees/{person}/history", IMDI, params={"as_of": proposed_to_bergen}))["state"][
            "proposed_to"
        ]
        == BERGEN
    )  # what Oslo must not be shown
    past_end = api.ok(
        api.get(
            f"/refugees/{person}/history",
            MUNICIPALITY,
            OSLO,
            params={"as_of": (oslo_first - timedelta(microseconds=1)).isoformat()},
        )
    )

    for history in (now, before_oslo, past_end):
        assert bergen_list not in json.dumps(history), history
        assert BERGEN not in json.dumps(history["state"]), history["state"]
        for event in history["items"]:
            assert event["municipality"] in (None, OSLO), event
            assert event["actor"]["municipality"] in (None, OSLO) and BERGEN not in event["actor"]["sub"], (
                event
            )
            assert BERGEN not in event["summary"], event
    for history in (before_oslo, past_end):
        assert history["state"]["proposed_to"] is None and history["state"]["selected_by"] is None
