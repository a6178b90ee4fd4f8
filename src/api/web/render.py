"""Pages from Jinja2 templates, in the request's language, and the answers a page gives (PRG, errors)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, Undefined, select_autoescape
from litestar import Request, Response
from litestar.enums import MediaType
from litestar.response import Redirect
from litestar.utils.scope.state import ScopeState

from api.web import i18n
from api.web.refusals import explain
from settlement_domain.context import Actor, Role
from settlement_domain.errors import Refusal, RuleViolation

TEMPLATES = i18n.HERE / "templates"
CATEGORY_NAMES = {
    "asylum": i18n.N_("granted asylum"),
    "resettlement": i18n.N_("resettlement refugee"),
    "family_reunification": i18n.N_("family reunification"),
    "collective_protection": i18n.N_("collective protection"),
}
STATUS_NAMES = {
    "registered": i18n.N_("registered"),
    "proposed": i18n.N_("proposed"),
    "selected": i18n.N_("accepted by the municipality"),
    "decided": i18n.N_("settlement decided"),
    "settled": i18n.N_("settled"),
}


LETTER_KINDS = {
    "request": i18n.N_("Request letter"),
    "selection": i18n.N_("Selection letter"),
    "decision_municipality": i18n.N_("Settlement decision (to the municipality)"),
    "decision_person": i18n.N_("Settlement decision (to the person)"),
}
CASE_STATES = {"open": i18n.N_("open"), "answered": i18n.N_("answered"), "closed": i18n.N_("closed")}
ROLE_NAMES = {
    Role.IMDI: i18n.N_("IMDi"),
    Role.MUNICIPALITY: i18n.N_("municipality"),
    Role.AUDITOR: i18n.N_("auditor"),
    Role.RECEPTION: i18n.N_("reception system"),
}


@dataclass(frozen=True)
class NavLink:
    """A task in the navigation: its address for the user, its label, and the roles its route serves."""

    href: Callable[[Actor], str]
    label: str
    roles: frozenset[Role]


NAVIGATION: list[NavLink] = []  # filled by ``api.web.pages`` from its routes


def navigation(request: Request) -> list[dict[str, str]]:
    user: Actor = request.user
    locale = locale_of(request)
    return [
        {"href": link.href(user), "label": i18n.gettext(locale, link.label)}
        for link in NAVIGATION
        if user.role in link.roles
    ]


@cache
def environment(locale: str) -> Environment:
    """One Jinja2 environment per language, its gettext installed (autoescaped HTML, strict names)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=Undefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(i18n.translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.filters["date"] = i18n.format_date
    env.filters["moment"] = i18n.format_moment
    env.filters["number"] = lambda value: i18n.format_number(value, locale)
    env.globals["locale"] = locale
    env.globals["form_key"] = lambda: uuid.uuid4().hex  # the idempotency key of one filled-in form
    return env


def locale_of(request: Request) -> str:
    session = request.scope.get("session")
    chosen = session.get("language") if isinstance(session, dict) else None
    return i18n.choose_locale(chosen, request.headers.get("accept-language"))


def translate(request: Request, message: str, **values: Any) -> str:
    return i18n.gettext(locale_of(request), message, **values)


def csrf_token(request: Request) -> str:
    token = ScopeState.from_scope(request.scope).csrf_token
    return token if isinstance(token, str) else ""  # Empty: no token in this request


@dataclass
class Form:
    """What a form was filled with and what was wrong with it: field -> message, in the page's language."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    def get(self, name: str, default: Any = "") -> Any:
        value = self.values.get(name, default)
        return default if value is None else value

    def text(self, name: str, label: str, *, required: bool = True, max_length: int = 2000) -> str:
        value = str(self.values.get(name) or "").strip()
        if (required and not value) or len(value) > max_length:
            self.errors.setdefault(name, label)
        return value

    def whole(self, name: str, message: str, *, low: int = 0, high: int = 1_000_000) -> int:
        raw = str(self.values.get(name) or "").strip().replace("\u00a0", "").replace(" ", "")
        try:
            number = int(raw)
        except ValueError:
            self.errors.setdefault(name, message)
            return 0
        if not low <= number <= high:
            self.errors.setdefault(name, message)
        return number

    def day(self, name: str, message: str) -> date:
        try:
            return i18n.parse_date(str(self.values.get(name) or ""))
        except (ValueError, TypeError):
            self.errors.setdefault(name, message)
            return date.min

    def checked(self, name: str) -> bool:
        return str(self.values.get(name) or "") in ("on", "true", "1", "yes")

    @property
    def ok(self) -> bool:
        return not self.errors and not self.general


def refuse(request: Request, form: Form, error: RuleViolation, fields: dict[str, str] | None = None) -> None:
    """A refusal of the domain on the form: in words of the page's language, beside the field it names.
    A refusal of the role (403) is not the form's fault: it shows the forbidden page."""
    if error.refusal is Refusal.FORBIDDEN:
        raise error
    message = explain(locale_of(request), error)
    field_name = (fields or {}).get(error.field or "", error.field or "")
    if field_name and field_name in form.values:
        form.errors[field_name] = message
    else:
        form.general.append(message)


def page(
    request: Request, template: str, *, status: int = 200, title: str = "", **context: Any
) -> Response[str]:
    """The page ``template`` in the request's language."""
    locale = locale_of(request)
    session = request.scope.get("session")
    user = request.scope.get("user")
    flash = None
    if isinstance(session, dict):
        flash = session.pop("flash", None)
    html = (
        environment(locale)
        .get_template(template)
        .render(
            request=request,
            user=user if isinstance(user, Actor) else None,
            user_name=session.get("name") if isinstance(session, dict) else None,
            Role=Role,
            csrf_token=csrf_token(request),
            flash=flash,
            title=title,
            path=request.url.path,
            category_names={k: i18n.gettext(locale, v) for k, v in CATEGORY_NAMES.items()},
            status_names={k: i18n.gettext(locale, v) for k, v in STATUS_NAMES.items()},
            letter_kinds={k: i18n.gettext(locale, v) for k, v in LETTER_KINDS.items()},
            case_states={k: i18n.gettext(locale, v) for k, v in CASE_STATES.items()},
            nav=navigation(request) if isinstance(user, Actor) else [],
            role_name=i18n.gettext(locale, ROLE_NAMES[user.role]) if isinstance(user, Actor) else "",
            here=quote(request.url.path + (f"?{request.url.query}" if request.url.query else "")),
            **context,
        )
    )
    return Response(
        html,
        status_code=status,
        media_type=MediaType.HTML,
        headers={
            "Content-Language": locale,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
            "Content-Security-Policy": (
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                "frame-ancestors 'none'; form-action 'self'"
            ),
        },
    )


def done(request: Request, to: str, message: str, **values: Any) -> Redirect:
    """POST-redirect-GET: the change is made; the next page says so once."""
    session = request.scope.get("session")
    if isinstance(session, dict):
        session["flash"] = translate(request, message, **values)
    return Redirect(to, status_code=303)
