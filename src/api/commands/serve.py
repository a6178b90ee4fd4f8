"""``settlement serve``: the HTTP API and the live projections in one process (uvicorn)."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

import uvicorn
from rich.console import Console

from api.app import create_app
from api.auth import issue_token, local_secret
from api.demo import play_story
from api.settings import Settings
from settlement_domain.application import SettlementApp
from settlement_domain.context import Role

SWITCH_INTERVAL_SECONDS = 0.0005

# One ready-made user per role, named like the demo story's own actors.
DEMO_USERS = (
    (Role.IMDI, "imdi-caseworker-ingrid", None),
    (Role.MUNICIPALITY, "caseworker-0301", "0301"),
    (Role.MUNICIPALITY, "caseworker-4601", "4601"),
    (Role.RECEPTION, "reception-system-udi", None),
    (Role.AUDITOR, "auditor-revisjon", None),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve", help="run the HTTP API with live projections",
        description="Serve the HTTP API (and, in the same process, the live projections) with uvicorn.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--demo", action="store_true",
                        help="on an empty store, load the demo story first; print a token per role")
    parser.add_argument("--no-projections", action="store_true",
                        help="do not run the projections here (a separate `settlement projections run` does)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Handlers run in threads beside the event loop; a shorter GIL switch interval than the default
    # 5 ms shortens the hand-over between them when both are busy (latency under load).
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    settings = Settings()
    console = Console()
    app = create_app(settings, live_projections=not args.no_projections)
    if args.demo:
        load_demo(app.state.settlement, console)
        print_tokens(settings, console, f"http://{args.host}:{args.port}")
    # The access log is off: query strings (audit free-text search) may carry names. The app logs
    # method, route, status and correlation id instead.
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="info")
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
        token = issue_token(secret, role=role, sub=sub, municipality=municipality, ttl=timedelta(hours=8),
                            issuer=settings.jwt_issuer, audience=settings.jwt_audience)
        label = f"{role.value} {municipality or ''}".strip()
        console.print(f"[cyan]{label}[/cyan] ({sub}):\n{token}\n", soft_wrap=True)
    console.print(f"OpenAPI: {base_url}/schema  (document: {base_url}/schema/openapi.json)", soft_wrap=True)
    console.print(f'Try: curl -H "Authorization: Bearer <token>" {base_url}/api/v1/municipalities\n', soft_wrap=True)
