"""The HTTP API's composition root: ``create_app(settings)`` wires the write side, the views and the routes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from api.access import role_guard
from api.auth import TokenAuthenticationMiddleware, TokenVerifier
from api.bootstrap import open_application
from api.context import command_context, correlation_middleware, current_actor, settlement_app
from api.controllers.distribution_lists import DistributionListController
from api.controllers.minor_capacity import MinorCapacityController
from api.controllers.municipalities import MunicipalityController
from api.controllers.refugees import RefugeeController
from api.controllers.support_cases import SupportCaseController
from api.errors import EXCEPTION_HANDLERS
from api.settings import Settings

API_PREFIX = "/api/v1"


def create_app(
    settings: Settings | None = None,
    *,
    clock: Callable[[], date] | None = None,
) -> Litestar:
    """The litestar app on the configured store; ``clock`` fixes the application's "today" (tests)."""
    settings = settings or Settings()
    settlement = open_application(settings, clock=clock)
    verifier = TokenVerifier(settings)

    api = Router(
        path=API_PREFIX,
        route_handlers=[
            MunicipalityController,
            RefugeeController,
            DistributionListController,
            MinorCapacityController,
            SupportCaseController,
        ],
        middleware=[DefineMiddleware(TokenAuthenticationMiddleware)],
        guards=[role_guard],
        dependencies={
            "ctx": Provide(command_context, sync_to_thread=False),
            "app": Provide(settlement_app, sync_to_thread=False),
            "actor": Provide(current_actor, sync_to_thread=False),
        },
        security=[{"bearer": []}],
    )

    def close() -> None:
        settlement.close()

    return Litestar(
        route_handlers=[api],
        state=State({"settlement": settlement, "token_verifier": verifier, "settings": settings}),
        middleware=[correlation_middleware],
        exception_handlers=EXCEPTION_HANDLERS,
        on_shutdown=[close],
        openapi_config=OpenAPIConfig(
            title="Settlement API",
            version="1",
            description="IMDi and Norway's municipalities settle refugees. See docs/user-guide.md.",
            path="/schema",
            use_handler_docstrings=True,
            render_plugins=[SwaggerRenderPlugin(path="/")],
            components=Components(
                security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")}
            ),
        ),
        debug=False,
    )
