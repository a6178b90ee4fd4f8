"""The pages, per area; ``ROUTES`` is every page route, ``render.NAVIGATION`` the tasks of the menu."""

from __future__ import annotations

from collections.abc import Callable

from litestar.handlers import BaseRouteHandler

from api.web.i18n import N_
from api.web.pages import account, home, lists, municipalities, persons, reports, work
from api.web.render import NAVIGATION, NavLink
from settlement_domain.context import Actor, Role

OWN = frozenset({Role.MUNICIPALITY})  # pages of the user's own municipality

ROUTES = [
    account.login_page,
    account.demo_login,
    account.oidc_start,
    account.oidc_callback,
    account.logout,
    account.language,
    account.help_page,
    home.front_page,
    municipalities.municipality_list,
    municipalities.municipality_page,
    municipalities.request_settlement,
    municipalities.decide_quota,
    municipalities.contact_page,
    municipalities.update_contact,
    lists.list_page,
    lists.new_list,
    lists.create_list,
    lists.one_list,
    lists.approve,
    lists.withdraw,
    persons.persons_page,
    persons.folder_page,
    persons.decide,
    persons.open_deviation,
    persons.resolve_deviation,
    persons.correct_date,
    persons.dates_page,
    persons.register_date,
    work.capacity_page,
    work.report_capacity,
    work.withdraw_capacity,
    work.capacity_filled,
    work.letters_page,
    work.support_page,
    work.file_case,
    work.case_page,
    work.answer_case,
    work.imports_page,
    work.upload_import,
    work.import_page,
    reports.reports_page,
    reports.mark_completeness,
    reports.download,
    reports.audit_page,
]


def _roles(handler: BaseRouteHandler) -> frozenset[Role]:
    roles: frozenset[Role] = handler.opt["roles"]
    return roles


def _own(path: str) -> Callable[[Actor], str]:
    return lambda user: path.format(number=user.municipality)


# The menu: each task shown to the roles its page's route serves (the same option the guard reads).
NAVIGATION.extend(
    [
        NavLink(lambda user: "/", N_("Front page"), _roles(home.front_page)),
        NavLink(lambda user: "/lists", N_("Distribution lists"), _roles(lists.list_page)),
        NavLink(lambda user: "/persons", N_("Persons"), _roles(persons.persons_page)),
        NavLink(lambda user: "/settlement-dates", N_("Settlement dates"), _roles(persons.dates_page)),
        NavLink(
            _own("/municipalities/{number}"),
            N_("Requests, decisions and places"),
            _roles(municipalities.municipality_page) & OWN,
        ),
        NavLink(
            lambda user: "/municipalities",
            N_("Municipalities"),
            _roles(municipalities.municipality_list) - OWN,
        ),
        NavLink(
            _own("/municipalities/{number}/contact"),
            N_("Contact information"),
            _roles(municipalities.contact_page) & OWN,
        ),
        NavLink(lambda user: "/capacity", N_("Capacity for minors"), _roles(work.capacity_page)),
        NavLink(lambda user: "/letters", N_("Letters"), _roles(work.letters_page)),
        NavLink(lambda user: "/support", N_("Support cases"), _roles(work.support_page)),
        NavLink(lambda user: "/reports", N_("Reports"), _roles(reports.reports_page)),
        NavLink(lambda user: "/audit", N_("Event log"), _roles(reports.audit_page)),
        NavLink(lambda user: "/imports", N_("Imports"), _roles(work.imports_page)),
    ]
)
