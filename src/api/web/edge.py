"""The web edge's composition: the pages' router (sessions, CSRF, login), its error pages, the static
files from the installed npm packages, and the OpenAPI page's Swagger UI served from them too."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path
from typing import Any

from litestar import Request, Response, Router
from litestar.config.csrf import CSRFConfig
from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException
from litestar.middleware import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.middleware.session import SessionMiddleware
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.stores.base import Store
from litestar.stores.file import FileStore
from litestar.stores.memory import MemoryStore
from litestar.types import ExceptionHandlersMap, Message

from api.http.access import role_guard
from api.http.errors import ReadModelsUnavailable, StaleRead
from api.messages import error_text
from api.settings import Settings
from api.web.i18n import HERE, N_
from api.web.oidc import OidcClient
from api.web.pages import ROUTES
from api.web.render import locale_of, page, translate
from api.web.session import NotSignedIn, SessionAuthenticationMiddleware, SessionExpired, web_secret
from settlement_domain.errors import NotFound, ReadNotRecorded, Refusal, RuleViolation

log = logging.getLogger(__name__)
REPOSITORY = Path(__file__).resolve().parents[3]
SESSION_STORE = "web_sessions"
SESSION_COOKIE = "settlement_session"
CSRF_COOKIE = "settlement_csrf"


class RenewingSessionBackend(ServerSideSessionBackend):
    """Server-side sessions whose id is replaced at login (no session fixation) and dropped at logout."""

    def get_session_id(self, connection: Any) -> str:
        renewed = connection.scope.get("_settlement_new_session_id")
        return renewed or super().get_session_id(connection)

    async def store_in_message(self, scope_session: Any, message: Message, connection: Any) -> None:
        if isinstance(scope_session, dict) and scope_session.pop("_renew", False):
            old = connection.cookies.get(self.config.key)
            if old:
                await self.delete(old, store=self.config.get_store_from_app(connection.scope["app"]))
            connection.scope["_settlement_new_session_id"] = self.generate_session_id()
        await super().store_in_message(scope_session, message, connection)


def _message(
    request: Request, status: int, title: str, *paragraphs: str, link: tuple[str, str] | None = None
):
    return page(
        request,
        "message.html",
        status=status,
        title=translate(request, title),
        paragraphs=[translate(request, p) for p in paragraphs],
        link=(link[0], translate(request, link[1])) if link else None,
    )


def not_signed_in(request: Request, _: NotSignedIn) -> Response[Any]:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"/login?next={target}" if request.method == "GET" else "/login", status_code=303)


def session_expired(request: Request, _: SessionExpired) -> Response[Any]:
    return _message(
        request,
        401,
        N_("Your session has expired"),
        N_("You were logged out because the page was not used for a while. Nothing you had saved is lost."),
        link=("/login", N_("Log in again")),
    )


def forbidden(request: Request, error: RuleViolation) -> Response[Any]:
    if error.refusal is not Refusal.FORBIDDEN:
        return _message(request, 409, N_("Not possible now"), error_text(locale_of(request), error))
    return _message(
        request,
        403,
        N_("You do not have access to this page"),
        N_("Your role does not give access to this page or this action."),
        link=("/", N_("Go to the front page")),
    )


def not_found(request: Request, _: Exception) -> Response[Any]:
    return _message(
        request,
        404,
        N_("The page was not found"),
        N_("The page does not exist, or you do not have access to what it shows."),
        link=("/", N_("Go to the front page")),
    )


def csrf_refused(request: Request, _: PermissionDeniedException) -> Response[Any]:
    return _message(
        request,
        403,
        N_("The form could not be sent"),
        N_("The form's security token was missing or too old. Open the page again and send the form anew."),
        link=("/", N_("Go to the front page")),
    )


def not_ready(request: Request, _: Exception) -> Response[Any]:
    response = _message(
        request,
        503,
        N_("Not quite ready"),
        N_("The overviews are being brought up to date. Try again in a moment."),
    )
    response.headers["Retry-After"] = "2"
    return response


def read_not_recorded(request: Request, _: Exception) -> Response[Any]:
    # R6/R14: a page with personal data is never shown unless its read is recorded.
    response = _message(
        request,
        503,
        N_("The read could not be recorded"),
        N_("Every read of personal data is recorded, and this one could not be. Try again in a moment."),
    )
    response.headers["Retry-After"] = "1"
    return response


def http_error(request: Request, error: HTTPException) -> Response[Any]:
    if error.status_code == 404:
        return not_found(request, error)
    if error.status_code == 403:
        return csrf_refused(request, error)  # type: ignore[arg-type]
    return _message(request, error.status_code, N_("The request could not be handled"), N_("Try again."))


def unexpected(request: Request, error: Exception) -> Response[Any]:
    # The type and the path pattern only: messages may quote personal data.
    handler = request.scope.get("route_handler")
    log.error(
        "Unexpected %s on page %s %s\n%s",
        type(error).__name__,
        request.method,
        handler.paths if handler else "?",
        "".join(traceback.format_tb(error.__traceback__)),
    )
    return _message(
        request, 500, N_("Something went wrong"), N_("Something went wrong on our side. Try again later.")
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    NotSignedIn: not_signed_in,
    SessionExpired: session_expired,
    RuleViolation: forbidden,
    NotFound: not_found,
    NotFoundException: not_found,
    PermissionDeniedException: csrf_refused,
    StaleRead: not_ready,
    ReadModelsUnavailable: not_ready,
    ReadNotRecorded: read_not_recorded,
    HTTPException: http_error,
    Exception: unexpected,
}


class WebEdge:
    """The pages, mounted beside the JSON API by ``api.http.app.create_app``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.assets = Path(settings.web_assets_dir or REPOSITORY / "node_modules")
        self.oidc = OidcClient(settings) if settings.oidc_issuer else None
        store: Store = (
            FileStore(Path(settings.web_session_dir), create_directories=True)
            if settings.web_session_dir
            else MemoryStore()
        )
        self.stores = {SESSION_STORE: store}
        max_age = settings.web_session_hours * 3600
        self.sessions = ServerSideSessionConfig(
            key=SESSION_COOKIE,
            store=SESSION_STORE,
            max_age=max_age,
            secure=settings.web_cookie_secure,
            httponly=True,
            samesite="lax",
        )
        self.csrf = CSRFConfig(
            secret=web_secret(settings),
            cookie_name=CSRF_COOKIE,
            cookie_secure=settings.web_cookie_secure,
            cookie_httponly=True,
            cookie_samesite="lax",
        )

    def state(self) -> dict[str, Any]:
        return {"web_oidc": self.oidc, "web_csrf": self.csrf}

    def route_handlers(self) -> list[Any]:
        pages = Router(
            path="/",
            route_handlers=ROUTES,
            middleware=[
                DefineMiddleware(SessionMiddleware, backend=RenewingSessionBackend(config=self.sessions)),
                DefineMiddleware(CSRFMiddleware, config=self.csrf),
                DefineMiddleware(SessionAuthenticationMiddleware),
            ],
            guards=[role_guard],
            exception_handlers=EXCEPTION_HANDLERS,
            include_in_schema=False,
        )
        return [pages, *self.static_routers()]

    def static_routers(self) -> list[Router]:
        """The npm packages' files the pages use, and the pages' own stylesheet; nothing from a CDN."""
        folders = {
            "ds": self.assets / "@digdir" / "designsystemet-css" / "dist" / "src",
            "theme": self.assets / "@digdir" / "designsystemet-theme" / "brand",
            "htmx": self.assets / "htmx.org" / "dist",
            "swagger": self.assets / "swagger-ui-dist",
            "web": HERE / "static",
        }
        return [
            create_static_files_router(
                path=f"/static/{name}",
                directories=[folder],
                name=f"static_{name}",
                include_in_schema=False,
                cache_control=None,
            )
            for name, folder in folders.items()
        ]

    def swagger(self) -> SwaggerRenderPlugin:
        """The OpenAPI page with Swagger UI from the installed ``swagger-ui-dist`` (no CDN, no favicon fetch)."""
        return SwaggerRenderPlugin(
            path="/",
            js_url="/static/swagger/swagger-ui-bundle.js",
            css_url="/static/swagger/swagger-ui.css",
            standalone_preset_js_url="/static/swagger/swagger-ui-standalone-preset.js",
            favicon="<link rel='icon' type='image/png' href='/static/swagger/favicon-32x32.png'>",
        )
