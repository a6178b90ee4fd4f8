"""Who is signed in to the pages: a server-side session (litestar's), its expiry, and the actor it names."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from api.settings import Settings
from settlement_domain.context import Actor, Role


class NotSignedIn(Exception):
    """No session: the page sends the browser to the login page."""


class SessionExpired(Exception):
    """The session was unused too long, or is older than its longest life: sign in again."""


def web_secret(settings: Settings) -> str:
    """The secret the CSRF tokens are signed with: the configured one, else a random one kept in a file."""
    if settings.web_secret is not None:
        return settings.web_secret.get_secret_value()
    path = Path(settings.web_secret_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_text().strip()
        if len(secret) < 32:
            raise ValueError(f"The web secret file {path} holds no usable secret.") from None
        return secret
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def sign_in(session: dict[str, Any], actor: Actor, name: str, how: str) -> None:
    """Starts a signed-in session (a fresh one: whatever the browser had before is dropped)."""
    language = session.get("language")
    session.clear()
    now = time.time()
    session.update(
        {
            "sub": actor.sub,
            "role": actor.role.value,
            "municipality": actor.municipality,
            "name": name,
            "how": how,
            "signed_in_at": now,
            "seen_at": now,
            "_renew": True,  # a new session id at login: an id planted before it is worth nothing
        }
    )
    if language:
        session["language"] = language


def sign_out(session: dict[str, Any]) -> None:
    """Ends the session: the stored one is deleted, the browser gets a new id (keeping only its language)."""
    language = session.get("language")
    session.clear()
    session["_renew"] = True
    if language:
        session["language"] = language


def session_actor(session: dict[str, Any], settings: Settings) -> Actor:
    """The actor of a signed-in session, refreshing its last use; raises when there is none or it expired."""
    if not session.get("sub"):
        raise NotSignedIn()
    now = time.time()
    idle = now - float(session.get("seen_at", 0))
    age = now - float(session.get("signed_in_at", 0))
    if idle > settings.web_session_idle_minutes * 60 or age > settings.web_session_hours * 3600:
        sign_out(session)
        raise SessionExpired()
    session["seen_at"] = now
    return Actor(session["sub"], Role(session["role"]), session.get("municipality"))


class SessionAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    """Puts the signed-in actor on ``request.user`` for every page but those marked ``public``."""

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        settings: Settings = connection.app.state.settings
        session = connection.scope.get("session")
        if not isinstance(session, dict):
            raise NotSignedIn()
        return AuthenticationResult(user=session_actor(session, settings), auth=None)
