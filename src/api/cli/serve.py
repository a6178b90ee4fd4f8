"""``settlement serve``: the HTTP API and the live projections in one process (uvicorn)."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import timedelta
from typing import Any

import uvicorn
from rich.console import Console

from api.bootstrap import open_application
from api.cli.companions import Companions
from api.cli.language import _
from api.cli.main import UsageError
from api.demo.story import play_story
from api.http.app import SWITCH_INTERVAL, create_app
from api.http.auth import issue_token, local_secret
from api.http.server import uvicorn_options
from api.logs import configure_logging
from api.settings import Settings
from api.web.demo_users import DEMO_USERS
from projections.catalog import install
from projections.engine.store import open_read_store
from settlement_domain.application import SettlementApp


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the HTTP API with live projections",
        description="Serve the HTTP API (and, in the same process, the live projections) with uvicorn.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="on an empty store, load the demo story first; print a token per role",
    )
    parser.add_argument(
        "--no-projections",
        action="store_true",
        help="do not run the projections here (a separate `settlement projections run` does)",
    )
    parser.add_argument(
        "--projections-process",
        action="store_true",
        help="run the projections (and the letter outbox) in processes of their own, started and "
        "stopped with this one (PostgreSQL): the API process keeps its interpreter for requests",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="API processes (PostgreSQL only; the projections then run in their own "
        "`settlement projections run` process)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    sys.setswitchinterval(SWITCH_INTERVAL)
    settings = Settings()
    if args.demo:
        # The pages' local login lists the demo users (an OIDC provider, when configured, stays beside it).
        settings = settings.model_copy(update={"web_demo_login": True})
    console = Console()
    configure_logging(settings.log_level)
    options = uvicorn_options(settings, args.host, args.port, workers=args.workers)
    companions: Companions | None = None
    if args.projections_process:
        if not settings.database_url.startswith("postgres"):
            raise UsageError(
                _("--projections-process needs PostgreSQL (SETTLEMENT_DATABASE_URL=postgresql://...).")
            )
        if args.no_projections:
            raise UsageError(_("--projections-process runs the projections; leave out --no-projections."))
        beside = [["projections", "run"]]
        if (
            settings.letters_worker
        ):  # R9: the outbox works beside the projections (it follows their letters view)
            beside.append(["letters", "run"])
        companions = Companions(beside)
    try:
        return _serve(args, settings, console, options, companions)
    finally:
        if companions is not None:
            companions.stop()


def _serve(
    args: argparse.Namespace,
    settings: Settings,
    console: Console,
    options: dict[str, Any],
    companions: Companions | None,
) -> int:
    if args.workers > 1:
        if not settings.database_url.startswith("postgres"):
            raise UsageError(_("--workers needs PostgreSQL (SETTLEMENT_DATABASE_URL=postgresql://...)."))
        if args.demo:
            settlement = open_application(settings)
            try:
                load_demo(settlement, console)
            finally:
                settlement.close()
            print_tokens(settings, console, f"http://{args.host}:{args.port}")
        # The workers read their settings from the environment: the demo login, and sessions they share.
        if args.demo:
            os.environ["SETTLEMENT_WEB_DEMO_LOGIN"] = "true"
        os.environ.setdefault("SETTLEMENT_WEB_SESSION_DIR", "var/web-sessions")
        if companions is not None:
            engine = open_read_store(settings.database_url)
            try:
                install(engine)  # the views' tables, before the workers and the projections start
            finally:
                engine.dispose()
            companions.start()
        else:
            console.print("API workers without projections: run `settlement projections run` beside them.")
        uvicorn.run("api.http.app:create_worker_app", factory=True, workers=args.workers, **options)
        return 0
    app = create_app(settings, live_projections=not (args.no_projections or companions))
    if args.demo:
        load_demo(app.state.settlement, console)
        print_tokens(settings, console, f"http://{args.host}:{args.port}")
    if companions is not None:
        companions.start()  # create_app has installed the views' tables: the workers find them
        # Stopped in the server's own shutdown: uvicorn ends the process by re-raising SIGTERM after it.
        app.on_shutdown.insert(0, companions.stop)  # first: no other hook's failure skips it
    uvicorn.run(app, **options)
    return 0


def load_demo(settlement: SettlementApp, console: Console) -> None:
    """Plays the demo story into an empty store; a store with events is left as it is."""
    if settlement.position() > 0:
        console.print(f"The store already holds {settlement.position()} events: demo data not loaded again.")
        return
    play_story(settlement, console)


def print_tokens(settings: Settings, console: Console, base_url: str) -> None:
    if settings.jwt_jwks and settings.jwt_secret is None:
        console.print("Tokens come from your OIDC provider (SETTLEMENT_JWT_JWKS is set): none printed.")
        return
    secret = local_secret(settings)
    console.print("\n[bold]Ready tokens (valid 8 hours):[/bold]")
    for role, sub, municipality in DEMO_USERS:
        token = issue_token(
            secret,
            role=role,
            sub=sub,
            municipality=municipality,
            ttl=timedelta(hours=8),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
        label = f"{role.value} {municipality or ''}".strip()
        console.print(f"[cyan]{label}[/cyan] ({sub}):\n{token}\n", soft_wrap=True)
    console.print(f"[bold]Pages (log in as a demo user): {base_url}/[/bold]", soft_wrap=True)
    console.print(f"OpenAPI: {base_url}/schema  (document: {base_url}/schema/openapi.json)", soft_wrap=True)
    console.print(
        f'Try: curl -H "Authorization: Bearer <token>" {base_url}/api/v1/municipalities\n', soft_wrap=True
    )
