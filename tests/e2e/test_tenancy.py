"""Who may call what, generated from the app's route table: every route, every role, allowed or refused.

A new route without an example here fails the test, so that no route escapes the check. The world has
resources of Oslo only; Bergen's caseworker must get 404 for them (or 403 where the path names the
public municipality registry) and must never see any of them in a list.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute

from settlement_domain.context import Role
from tests.e2e.conftest import AUDITOR, BERGEN, IMDI, MUNICIPALITY, OSLO, RECEPTION, Api, problem
from tests.e2e.story import approve, propose, register_refugee, request_and_decide, two_municipalities
from tests.e2e.test_imports import SMALL_FILE, imported
from tests.given import ADDRESS, TODAY

SECRET_NAME = "Hemmelig Oslo-person"


@dataclass
class World:
    """Oslo's resources: a selected and decided person with a deviation, an open list, a capacity report, a case."""

    person: str
    listed: str
    list_id: str
    deviation: str
    capacity: str
    case: str
    import_id: str = ""  # a file of IMDi's statistics, imported (R15)
    letter: str = ""  # the decision letter to Oslo (R9)

    def oslo_markers(self) -> list[str]:
        return [self.person, self.listed, self.list_id, self.capacity, self.case, SECRET_NAME]


def build_world(api: Api) -> World:
    two_municipalities(api)
    request_and_decide(api, OSLO, persons=5, minors=1)
    person = register_refugee(api, SECRET_NAME)
    approve(api, OSLO, propose(api, OSLO, [person]), [person])
    decision = api.ok(api.post(f"/refugees/{person}/settlement-decision", {"municipality": OSLO}, IMDI))
    listed = register_refugee(api, SECRET_NAME)
    list_id = propose(api, OSLO, [listed])
    deviation = api.ok(api.post(f"/refugees/{person}/deviations", {"kind": "k", "description": "d"}, IMDI))[
        "deviation_id"
    ]
    capacity = api.ok(
        api.post(
            f"/municipalities/{OSLO}/minor-capacity",
            {
                "places": 1,
                "expected_week": "2025-W40",
                "min_age": 15,
                "max_age": 17,
                "round_the_clock_staffing": False,
                "special_conditions": "",
            },
            MUNICIPALITY,
            OSLO,
        )
    )["id"]
    case = api.ok(api.post("/support-cases", {"subject": SECRET_NAME, "text": "?"}, MUNICIPALITY, OSLO))["id"]
    import_id = imported(api, SMALL_FILE)["id"]
    return World(person, listed, list_id, deviation, capacity, case, import_id, decision["letter_ids"][0])


@dataclass
class Example:
    """One request to a route: its path parameters, body and query; what another municipality gets."""

    path: dict[str, str]
    body: Any = None
    query: dict[str, str] | None = None
    # What Bergen gets acting on Oslo's resource: 404, or 403 where the path names the public registry.
    # None: 404, except for a list (a GET naming no resource), which answers 200 without Oslo's items.
    other: int | None = None

    def other_status(self, method: str) -> int:
        if self.other is not None:
            return self.other
        return 200 if method == "GET" and not self.path and not self.query else 404


EXAMPLES: dict[str, Callable[[World], Example]] = {
    "registerMunicipality": lambda w: Example(
        {}, {"number": "5001", "name": "Trondheim", "county": "Trøndelag"}
    ),
    "updateContact": lambda w: Example(
        {"number": OSLO},
        {"contact_person": "K", "email": "k@oslo.no", "phone": "1", "postal_address": ADDRESS},
        other=403,
    ),
    "renameMunicipality": lambda w: Example({"number": OSLO}, {"name": "Oslo"}, other=403),
    "requestSettlement": lambda w: Example(
        {"number": OSLO}, {"year": 2026, "persons": 5, "unaccompanied_minors": 0}
    ),
    "decideQuota": lambda w: Example(
        {"number": OSLO},
        {"year": 2026, "persons": 5, "unaccompanied_minors": 0, "decided_on": TODAY.isoformat()},
        other=403,
    ),
    "listMunicipalities": lambda w: Example({}),
    "getMunicipality": lambda w: Example({"number": OSLO}, other=200),
    "getPlaces": lambda w: Example({"number": OSLO}),
    "registerRefugee": lambda w: Example(
        {},
        {
            "full_name": "N",
            "birth_date": "1990-01-01",
            "unaccompanied_minor": False,
            "residence": {"kind": "private"},
            "postal_address": ADDRESS,
            "category": "asylum",
        },
    ),
    "recordMapping": lambda w: Example(
        {"refugee_id": w.person},
        {"education": "", "work_experience": "", "languages": [], "health_needs": "", "notes": ""},
    ),
    "listPersonsAwaitingSettlementDate": lambda w: Example({}),
    "getPersonFolder": lambda w: Example({"refugee_id": w.person}),
    # R21: Bergen searching for Oslo's person by name finds nobody (200, nothing of Oslo's).
    "searchPersons": lambda w: Example({}, query={"name": "hemmelig oslo"}, other=200),
    "getCaseHistory": lambda w: Example({"refugee_id": w.person}),
    "decideSettlement": lambda w: Example({"refugee_id": w.listed}, {"municipality": OSLO}),
    "registerSettlementDate": lambda w: Example({"refugee_id": w.person}, {"date": TODAY.isoformat()}),
    "correctSettlementDate": lambda w: Example(
        {"refugee_id": w.person}, {"date": TODAY.isoformat(), "reason": "r"}
    ),
    "openDeviation": lambda w: Example({"refugee_id": w.person}, {"kind": "k", "description": "d"}),
    # R18: only IMDi erases; the example person's case is open (R18b), so IMDi is refused too (409).
    "erasePersonalData": lambda w: Example(
        {"refugee_id": w.person}, {"legal_basis": "GDPR art. 17", "reason": "r"}
    ),
    "resolveDeviation": lambda w: Example(
        {"refugee_id": w.person, "deviation_id": w.deviation}, {"note": "n"}
    ),
    "createDistributionList": lambda w: Example(
        {}, {"municipality": OSLO, "refugee_ids": [w.listed], "respond_by": "2025-12-01"}
    ),
    "listDistributionLists": lambda w: Example({}),
    "getDistributionList": lambda w: Example({"list_id": w.list_id}),
    "withdrawDistributionList": lambda w: Example({"list_id": w.list_id}, {"reason": "r"}),
    "approveDistributionList": lambda w: Example(
        {"list_id": w.list_id}, {"accepted": [w.listed], "declined": []}
    ),
    "reportMinorCapacity": lambda w: Example(
        {"number": OSLO},
        {
            "places": 1,
            "expected_week": "2025-W40",
            "min_age": 15,
            "max_age": 17,
            "round_the_clock_staffing": False,
            "special_conditions": "",
        },
        other=403,
    ),
    "withdrawMinorCapacity": lambda w: Example({"capacity_id": w.capacity}, {"reason": "r"}),
    "markMinorCapacityFilled": lambda w: Example({"capacity_id": w.capacity}),
    "listMinorCapacity": lambda w: Example({}),
    "fileSupportCase": lambda w: Example({}, {"subject": "s", "text": "t"}),
    "answerSupportCase": lambda w: Example({"case_id": w.case}, {"text": "t", "close": False}),
    "listSupportCases": lambda w: Example({}),
    "getSupportCase": lambda w: Example({"case_id": w.case}),
    "listLetters": lambda w: Example({}),
    "getLetter": lambda w: Example({"letter_id": w.letter}),
    "getLetterPdf": lambda w: Example({"letter_id": w.letter}),
    "letterOpened": lambda w: Example({"letter_id": w.letter}, {}),
    "retryLetter": lambda w: Example({"letter_id": w.letter}),
    "getCaseFile": lambda w: Example({"refugee_id": w.person}),
    "reportRequestsAndDecisions": lambda w: Example({}),
    "reportSettledPersons": lambda w: Example({}, query={"municipality": OSLO}, other=404),
    "reportNational": lambda w: Example({}, query={"year": "2025"}, other=200),
    "markCompleteness": lambda w: Example({}, {"year": 2025, "municipality": OSLO, "complete": True}),
    "listCompleteness": lambda w: Example({}),
    "searchAuditEvents": lambda w: Example({}),
    "importFile": lambda w: Example({}),  # no file: 415 for IMDi, 403 for the others
    "listImports": lambda w: Example({}),
    "getImport": lambda w: Example({"import_id": w.import_id}),
}
# Routes that name no Oslo resource: Bergen acting there acts for itself (allowed like any municipality).
OWN_ACTIONS = {
    "registerMunicipality",
    "registerRefugee",
    "createDistributionList",
    "fileSupportCase",
    "listMunicipalities",
    "reportNational",
    "markCompleteness",
    "listCompleteness",
}
ACTORS: list[tuple[Role, str | None]] = [
    (IMDI, None),
    (AUDITOR, None),
    (RECEPTION, None),
    (MUNICIPALITY, BERGEN),
    (MUNICIPALITY, OSLO),
]


def api_routes(api: Api) -> list[tuple[str, str, HTTPRouteHandler]]:
    routes = []
    for route in api.app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/api/"):
            continue
        for handler in route.route_handlers:
            for method in handler.http_methods - {"OPTIONS", "HEAD"}:
                routes.append((method, route.path, handler))
    return sorted(routes, key=lambda r: (r[0] != "GET", r[1]))  # reads first, while the world is intact


def fill(path: str, params: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: params[m[1]], path).removeprefix("/api/v1")


def test_every_route_declares_its_roles_and_has_an_example(api: Api) -> None:
    seen = set()
    for _, path, handler in api_routes(api):
        assert handler.operation_id in EXAMPLES, f"add a tenancy example for {path} ({handler.operation_id})"
        assert handler.opt.get("roles"), f"{path} declares no roles"
        assert handler.fn.__doc__, f"{path} has no docstring"
        seen.add(handler.operation_id)
    assert seen == set(EXAMPLES)  # no example for a route that no longer exists


def test_every_route_allows_its_roles_refuses_the_others_and_hides_other_municipalities(api: Api) -> None:
    world = build_world(api)
    checked = 0
    for method, path, handler in api_routes(api):
        example = EXAMPLES[handler.operation_id](world)
        url = fill(path, example.path)
        roles: frozenset[Role] = handler.opt["roles"]
        # The refused first, so that an allowed write cannot change what they would see.
        for role, municipality in sorted(ACTORS, key=lambda a: a[0] in roles):
            response = api.request(method, url, role, municipality, json=example.body, params=example.query)
            where = f"{method} {url} as {role.value} {municipality or ''}"
            assert response.status_code < 500, f"{where}: {response.text}"
            if role not in roles:
                problem(response, 403)
            elif municipality == BERGEN and handler.operation_id not in OWN_ACTIONS:
                if example.other_status(method) == 200:
                    assert response.status_code == 200, f"{where}: {response.status_code} {response.text}"
                    leaked = [m for m in world.oslo_markers() if m in response.text]
                    assert not leaked, f"{where} shows Oslo's {leaked}"
                else:
                    problem(response, example.other_status(method))
            else:
                assert response.status_code not in (401, 403, 404), f"{where}: {response.text}"
            checked += 1
    assert checked == len(api_routes(api)) * len(ACTORS)
    # Every accepted write above must have been folded into the views without stopping them.
    health = api.client.get("/health")
    assert health.status_code == 200, health.text


def test_naming_another_municipality_in_a_filter_is_404(api: Api) -> None:
    build_world(api)
    for path in (
        "/distribution-lists",
        "/refugees",
        "/minor-capacity",
        "/letters",
        "/support-cases",
        "/reports/requests-and-decisions",
        "/reports/settled-persons",
        "/audit/events",
    ):
        problem(api.get(path, MUNICIPALITY, BERGEN, params={"municipality": OSLO}), 404)
        assert api.get(path, MUNICIPALITY, OSLO, params={"municipality": OSLO}).status_code == 200
    problem(api.get(f"/municipalities/{OSLO}/places", MUNICIPALITY, BERGEN), 404)
