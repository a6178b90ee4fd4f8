"""The HTTP API's composition root: ``create_app(settings)`` wires the write side, the read models and the routes."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date

from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import AuthenticationResult, DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from api.bootstrap import open_application
from api.http.access import check_role
from api.http.auth import TokenAuthenticationMiddleware, TokenVerifier
from api.http.context import (
    check_json_body,
    check_storable,
    command_context,
    correlation_middleware,
    current_actor,
    settlement_app,
)
from api.http.contract import honest_openapi
from api.http.controllers.audit import AuditController
from api.http.controllers.case_files import get_case_file
from api.http.controllers.completeness import CompletenessController
from api.http.controllers.distribution_lists import DistributionListController
from api.http.controllers.health import HealthController
from api.http.controllers.imports import ImportController
from api.http.controllers.letters import LetterController
from api.http.controllers.minor_capacity import MinorCapacityController
from api.http.controllers.municipalities import MunicipalityController
from api.http.controllers.refugees import RefugeeController
from api.http.controllers.reports import ReportController
from api.http.controllers.support_cases import SupportCaseController
from api.http.errors import EXCEPTION_HANDLERS
from api.http.metrics import Metrics, MetricsController
from api.http.reads import ReadModels
from api.http.reads import reads as read_models
from api.letters.erasure import undelivered_letters_lookup
from api.letters.outbox import Outbox
from api.logs import configure_logging
from api.settings import Settings
from api.web.edge import WebEdge
from projections.catalog import PROJECTIONS, install
from projections.engine.rebuild import rebuild_outdated
from projections.engine.runner import Runner
from projections.engine.store import open_read_store
from projections.read_expiry import read_expiry_steps
from settlement_domain.bulk import paused_garbage_collector
from settlement_domain.personal_keys import bind_read_store

API_PREFIX = "/api/v1"
# Handlers run in threads beside the event loop; a shorter GIL switch interval than the default 5 ms
# shortens the hand-over between them when both are busy (latency under load).
SWITCH_INTERVAL = 0.0005


def create_app(
    settings: Settings | None = None,
    *,
    clock: Callable[[], date] | None = None,
    live_projections: bool = True,
) -> Litestar:
    """The litestar app on the configured store.

    ``clock`` fixes the application's "today" (tests); ``live_projections`` runs the projection
    runner in this process (the embedded default), else another process keeps the read models.
    """
    settings = settings or Settings()
    verifier = TokenVerifier(settings)
    settlement = open_application(settings, clock=clock)
    if settings.read_database_url and live_projections:
        settlement.close()
        raise ValueError(
            "SETTLEMENT_READ_DATABASE_URL (reads from a replica) needs the projections in their own "
            "process: settlement serve --no-projections, beside settlement projections run"
        )
    engine = open_read_store(settings.read_database_url or settings.database_url)
    # R18: the views of this store open with this store's keys (also with the projections elsewhere).
    bind_read_store(engine, settlement.personal_keys)
    # R18e: an erasure waits for the letters naming the person (from the letters read model).
    settlement.letters_naming = undelivered_letters_lookup(settlement, engine)
    runner = (
        Runner(
            settlement,
            engine,
            PROJECTIONS.values(),
            poll_interval=settings.projection_poll_seconds,
            # R14: read records past the retention period are expired by this process itself.
            periodic=read_expiry_steps(
                settlement,
                engine,
                PROJECTIONS.values(),
                years=settings.read_retention_years,
                minutes=settings.read_expiry_minutes,
            ),
        )
        if live_projections
        else None
    )
    if runner is not None:
        settlement.on_saved.append(runner.wakeup.wake)  # this process's writes wake it at once
    if runner is None and not settings.read_database_url:
        install(engine)  # a replica cannot be written: the projection worker installs on the primary
    reads = ReadModels(
        engine, runner, settlement.position, settings.read_database_url or settings.database_url
    )
    # The HTTP imports' jobs table is written by every API process: the primary, not a replica.
    jobs_engine = open_read_store(settings.database_url) if settings.read_database_url else engine
    web = WebEdge(settings)  # the caseworkers' pages (api/web), beside the JSON API
    # R9: the letter outbox works beside the projections (it follows the letters read model).
    outbox = (
        Outbox.from_settings(settlement, engine, settings) if runner and settings.letters_worker else None
    )

    api = Router(
        path=API_PREFIX,
        route_handlers=[
            MunicipalityController,
            RefugeeController,
            DistributionListController,
            MinorCapacityController,
            SupportCaseController,
            LetterController,
            ReportController,
            AuditController,
            CompletenessController,
            ImportController,
            get_case_file,
        ],
        middleware=[DefineMiddleware(ApiAuthentication)],
        before_request=check_json_body,
        dependencies={
            "ctx": Provide(command_context, sync_to_thread=False),
            "app": Provide(settlement_app, sync_to_thread=False),
            "actor": Provide(current_actor, sync_to_thread=False),
            "reads": Provide(read_models),
        },
        security=[{"bearer": []}],
    )

    def start() -> None:
        if runner is not None:
            # Read models whose code changed since their tables were built are rebuilt before new
            # events are folded into them (an upgrade); on an up-to-date store this is one query.
            with paused_garbage_collector():
                rebuild_outdated(settlement, engine, PROJECTIONS.values())
            runner.wakeup.listen(settings.database_url)  # other processes' writes (PostgreSQL NOTIFY)
            runner.start()
        if outbox is not None:
            outbox.start(settings.letters_poll_seconds)

    async def open_reads() -> None:
        await reads.open_pool()  # in the server's event loop, where the reads run

    async def close_reads() -> None:
        await reads.close_pool()

    def close(app: Litestar) -> None:
        imports = getattr(app.state, "imports", None)
        if imports is not None:
            imports.wait()  # before the store closes under them
        if outbox is not None:
            outbox.stop()
        if runner is not None:
            runner.stop()
            runner.wakeup.close()
        engine.dispose()
        if jobs_engine is not engine:
            jobs_engine.dispose()
        settlement.close()

    state = State(
        {
            "settlement": settlement,
            "token_verifier": verifier,
            "settings": settings,
            "reads": reads,
            "import_jobs_engine": jobs_engine,
            "runner": runner,
            "outbox": outbox,
            **web.state(),
        }
    )
    metrics = state["metrics"] = Metrics(state)
    litestar = Litestar(
        route_handlers=[api, HealthController, MetricsController, *web.route_handlers()],
        state=state,
        stores=web.stores,
        middleware=[correlation_middleware, metrics.middleware],
        cors_config=cors_config(settings),
        request_max_body_size=settings.max_body_bytes,  # 413 beyond it (an import's file: its own limit)
        logging_config=None,  # api.logs configures logging (JSON lines), not litestar's queue handler
        exception_handlers=EXCEPTION_HANDLERS,
        on_startup=[start, open_reads],
        on_shutdown=[close_reads, close],
        openapi_config=OpenAPIConfig(
            title="Settlement API",
            version="1",
            description="IMDi and Norway's municipalities settle refugees. See docs/api-guide.md.",
            path="/schema",
            use_handler_docstrings=True,
            render_plugins=[web.swagger()],
            components=Components(
                security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")}
            ),
        ),
        debug=False,
    )
    return honest_openapi(litestar)


class ApiAuthentication(TokenAuthenticationMiddleware):
    """The bearer token, then the route's roles (403) and the NUL check of path and query (422): the
    API's guards, checked here rather than as litestar guards, which copy the route handler for each
    guard on every request (a few per cent of the hottest read's time)."""

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        result = await super().authenticate_request(connection)
        check_storable(connection.scope)
        check_role(result.user, connection.scope["route_handler"])
        return result


def cors_config(settings: Settings) -> CORSConfig | None:
    """Browsers on ``SETTLEMENT_CORS_ORIGINS`` may call the API; with none set, no CORS headers at all."""
    if not settings.cors_origins:
        return None
    return CORSConfig(
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "PUT", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "Accept", "Idempotency-Key", "X-Correlation-ID"],
        expose_headers=["X-Correlation-ID", "X-Event-Position", "Retry-After", "Location"],
        max_age=600,
    )


def create_worker_app() -> Litestar:
    """One of several API processes (``serve --workers``): settings from the environment, no projections."""
    sys.setswitchinterval(SWITCH_INTERVAL)
    settings = Settings()
    configure_logging(settings.log_level)  # in each worker process
    return create_app(settings, live_projections=False)
