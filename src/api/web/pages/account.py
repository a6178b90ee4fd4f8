"""Logging in and out (demo users, or an OIDC provider), the language switch and the help page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body
from litestar.response import Redirect
from markdown_it import MarkdownIt

from api.settings import Settings
from api.web.demo_users import DEMO_USERS
from api.web.i18n import LOCALES, N_
from api.web.oidc import OidcClient, Pending, SignInFailed
from api.web.pages.base import form_of
from api.web.render import done, page, translate
from api.web.session import sign_in, sign_out
from settlement_domain.context import Actor, Role

FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
PUBLIC = {"exclude_from_auth": True}
USER_GUIDE = Path(__file__).resolve().parents[4] / "docs" / "user-guide.md"

ROLE_LABELS = {
    Role.IMDI: N_("IMDi caseworker"),
    Role.MUNICIPALITY: N_("Municipal caseworker"),
    Role.AUDITOR: N_("Auditor"),
    Role.RECEPTION: N_("Reception system"),
}


def safe_next(value: Any) -> str:
    """Where to go after logging in: a path of this site only (never another site)."""
    text = str(value or "/")
    if not text.startswith("/") or text.startswith("//") or "\\" in text or "\n" in text or "\r" in text:
        return "/"
    return text


def demo_users(request: Request) -> list[dict[str, str]]:
    settings: Settings = request.app.state.settings
    if not settings.web_demo_login:
        return []
    users = []
    for role, sub, municipality in DEMO_USERS:
        if role is Role.RECEPTION:
            continue  # an integration, not a person at a screen
        label = translate(request, ROLE_LABELS[role])
        users.append({"sub": sub, "label": f"{label} {municipality}" if municipality else label})
    return users


def oidc_client(request: Request) -> OidcClient | None:
    return request.app.state.web_oidc


def redirect_uri(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return settings.oidc_redirect_url or str(request.url_for("web_login_callback"))


@get("/login", opt=PUBLIC, name="web_login", sync_to_thread=False)
def login_page(request: Request) -> Response[str]:
    return page(
        request,
        "login.html",
        title=translate(request, "Log in"),
        next=safe_next(request.query_params.get("next")),
        demo_users=demo_users(request),
        oidc=oidc_client(request) is not None,
        problem=None,
    )


@post("/login/demo", opt=PUBLIC, sync_to_thread=False)
def demo_login(request: Request, data: FormData) -> Response[Any]:
    settings: Settings = request.app.state.settings
    if not settings.web_demo_login:
        raise NotFoundException()
    form = form_of(data)
    chosen = next((u for u in DEMO_USERS if u[1] == form.get("user") and u[0] is not Role.RECEPTION), None)
    if chosen is None:
        raise NotFoundException()
    role, sub, municipality = chosen
    name = translate(request, ROLE_LABELS[role]) + (f" {municipality}" if municipality else "")
    sign_in(request.session, Actor(sub, role, municipality), name, "demo")
    return done(request, safe_next(form.get("next")), N_("You are logged in."))


@get("/login/oidc", opt=PUBLIC, sync_to_thread=True)
def oidc_start(request: Request) -> Response[Any]:
    client = oidc_client(request)
    if client is None:
        raise NotFoundException()
    try:
        address, pending = client.start(redirect_uri(request), safe_next(request.query_params.get("next")))
    except SignInFailed as error:
        return _login_problem(request, str(error))
    request.session["oidc"] = pending.as_dict()
    return Redirect(address, status_code=303)


@get("/login/callback", opt=PUBLIC, name="web_login_callback", sync_to_thread=True)
def oidc_callback(request: Request) -> Response[Any]:
    client = oidc_client(request)
    if client is None:
        raise NotFoundException()
    session = request.session
    kept = session.pop("oidc", None)
    state, code = request.query_params.get("state"), request.query_params.get("code")
    if not isinstance(kept, dict) or not state or not code:
        return _login_problem(
            request, N_("The login was interrupted or came back without an answer. Try again.")
        )
    try:
        actor, name = client.finish(Pending(**kept), state, code, redirect_uri(request))
    except SignInFailed as error:
        return _login_problem(request, str(error))
    sign_in(session, actor, name, "oidc")
    return done(request, safe_next(kept.get("next")), N_("You are logged in."))


def _login_problem(request: Request, message: str) -> Response[str]:
    return page(
        request,
        "login.html",
        status=401,
        title=translate(request, "Log in"),
        next="/",
        demo_users=demo_users(request),
        oidc=oidc_client(request) is not None,
        problem=translate(request, message),
    )


@post("/logout", sync_to_thread=False)
def logout(request: Request) -> Response[Any]:
    sign_out(request.session)
    return done(request, "/login", N_("You are logged out."))


@post("/language", opt=PUBLIC, sync_to_thread=False)
def language(request: Request, data: FormData) -> Response[Any]:
    form = form_of(data)
    chosen = form.get("language")
    if chosen in LOCALES:
        request.session["language"] = chosen
    return Redirect(safe_next(form.get("next")), status_code=303)


@get("/help", opt=PUBLIC, sync_to_thread=True)
def help_page(request: Request) -> Response[str]:
    """The user guide (docs/user-guide.md), as a page."""
    html = MarkdownIt("commonmark", {"html": False}).enable("table").render(USER_GUIDE.read_text("utf-8"))
    return page(request, "help.html", title=translate(request, "User guide"), guide=html)
