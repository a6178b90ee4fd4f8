"""The front page of each role: what is new and waiting, and the tasks with their short help."""

from __future__ import annotations

from litestar import Request, Response, get

from api.http.access import EVERYONE, allowed
from api.web.pages.base import actor, reads, record_shown
from api.web.render import page, translate
from projections.distribution_lists import distribution_lists
from projections.letters import letters
from projections.municipalities import municipality
from projections.person_folders import persons_with_status
from projections.support_cases import support_cases
from settlement_domain.context import Role


@get("/", opt=allowed(*EVERYONE), sync_to_thread=True)
def front_page(request: Request) -> Response[str]:
    user = actor(request)
    models = reads(request)
    today = request.app.state.settlement.clock()
    context: dict = {"role": user.role.value}
    if user.role in (Role.MUNICIPALITY, Role.IMDI):
        context["open_lists"] = models.query(
            distribution_lists,
            today=today,
            summary_only=user.role is Role.MUNICIPALITY,
            municipality=user.municipality,
            status="open",
            limit=50,
        )["items"]
        context["open_cases"] = models.query(support_cases, user.municipality, status="open", limit=50)[
            "items"
        ]
    if user.role is Role.MUNICIPALITY:
        context["unopened_letters"] = models.query(letters, user.municipality, status="digital", limit=50)[
            "items"
        ]
        context["municipality"] = models.query(municipality, user.municipality)
    if user.role is Role.IMDI:
        context["selected"] = models.query(persons_with_status, "selected", limit=50)["items"]
        record_shown(request, context["selected"])
    return page(request, "home.html", title=translate(request, "IMDinett – settlement"), **context)
