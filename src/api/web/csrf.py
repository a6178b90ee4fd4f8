"""CSRF for a form that a route reads itself (see ``csrf_matches``)."""

from __future__ import annotations

from hmac import compare_digest

from litestar import Request
from litestar.config.csrf import CSRFConfig
from litestar.middleware.csrf import CSRF_SECRET_LENGTH, generate_csrf_hash


def csrf_matches(request: Request, token: object) -> bool:
    """The check litestar's CSRF middleware makes, for a route that reads its form only after the
    signed-in user's role allows it (a large upload: the middleware would read the whole body first)."""
    config: CSRFConfig = request.app.state.web_csrf
    cookie = request.cookies.get(config.cookie_name)

    def secret_of(value: object) -> str | None:
        if not isinstance(value, str) or len(value) <= CSRF_SECRET_LENGTH:
            return None
        secret, digest = value[:CSRF_SECRET_LENGTH], value[CSRF_SECRET_LENGTH:]
        return (
            secret if compare_digest(digest, generate_csrf_hash(token=secret, secret=config.secret)) else None
        )

    mine, theirs = secret_of(token), secret_of(cookie)
    return mine is not None and theirs is not None and compare_digest(mine, theirs)
