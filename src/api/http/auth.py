"""Login: JWT bearer tokens verified with PyJWT (HS256 locally, RS256/ES256 from a JWKS), and issued locally."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
import jwt
from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from api.settings import Settings
from settlement_domain.context import Actor, Role
from settlement_domain.errors import RuleViolation

log = logging.getLogger(__name__)

HMAC_ALGORITHMS = ("HS256",)
KEY_ALGORITHMS = ("RS256", "ES256")
REQUIRED_CLAIMS = ("exp", "iss", "aud", "sub", "role")
# Verified tokens are remembered until they expire: a client sends the same token with every request,
# and checking its signature again each time cost more than the rest of a read's work in this service.
TOKEN_CACHE_SIZE = 10_000
JWKS_KEYS_SECONDS = 300  # how long the provider's keys (a JWKS URL) are kept before fetched again


class Unauthenticated(Exception):
    """No token, or one that does not verify: answered 401 with a reason that reveals no key material."""


def local_secret(settings: Settings) -> str:
    """The HS256 secret: the configured one, else a random one created once in ``jwt_secret_file``.

    Never a built-in default: a secret in the source would let anyone who read it sign tokens.
    """
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    path = Path(settings.jwt_secret_file)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        # O_EXCL: two processes starting at once must not each write a different secret.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_text().strip()
        if not secret:
            raise Unauthenticated(f"The local token secret file {path} is empty.") from None
        return secret
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def issue_token(
    secret: str,
    *,
    role: Role,
    sub: str,
    municipality: str | None = None,
    name: str | None = None,
    ttl: timedelta = timedelta(hours=8),
    issuer: str = "settlement",
    audience: str = "settlement-api",
) -> str:
    """A token signed with the local HS256 secret (``settlement token``, demo, tests)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "name": name or sub,
        "role": role.value,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + int(ttl.total_seconds()),
    }
    if municipality is not None:
        claims["municipality"] = municipality
    return jwt.encode(claims, secret, algorithm="HS256")


class _JwksFile:
    """Keys from a JWKS file, read once (restart the server to rotate keys given as a file)."""

    def __init__(self, path: str) -> None:
        self.keys = jwt.PyJWKSet.from_dict(json.loads(Path(path).read_text()))

    def key_for(self, kid: str | None) -> Any:
        for key in self.keys.keys:
            if kid is None or key.key_id == kid:
                return key.key
        raise Unauthenticated("The token's signing key is not among the configured keys.")


class _JwksUrl:
    """Keys from an OIDC provider's JWKS URL, fetched on demand and cached by PyJWT."""

    def __init__(self, url: str) -> None:
        self.client = jwt.PyJWKClient(url, cache_keys=True, lifespan=JWKS_KEYS_SECONDS, timeout=5)
        self.lock = threading.Lock()

    def key_for_token(self, token: str) -> Any:
        try:
            with self.lock:
                return self.client.get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientError as error:
            log.warning("JWKS lookup failed: %s", type(error).__name__)
            raise Unauthenticated("The token's signing key could not be found.") from None


class TokenVerifier:
    """Checks signature, issuer, audience and expiry, and turns the claims into an :class:`Actor`."""

    def __init__(self, settings: Settings) -> None:
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.leeway = settings.jwt_leeway_seconds
        self.jwks_file: _JwksFile | None = None
        self.jwks_url: _JwksUrl | None = None
        if settings.jwt_jwks:
            if settings.jwt_jwks.startswith(("https://", "http://")):
                self.jwks_url = _JwksUrl(settings.jwt_jwks)
            else:
                self.jwks_file = _JwksFile(settings.jwt_jwks)
        # With a JWKS configured and no explicit secret, locally signed tokens are not accepted at all.
        self.secret: str | None = (
            local_secret(settings) if settings.jwt_secret is not None or not settings.jwt_jwks else None
        )
        self.clock = time.time
        # Digest of a verified token -> (its actor, the moment it stops being accepted: exp + leeway).
        self._verified: dict[bytes, tuple[Actor, float, float]] = {}  # actor, trusted until, expiry

    def _key(self, token: str) -> tuple[Any, tuple[str, ...]]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise Unauthenticated("The bearer token is not a JWT.") from None
        algorithm = header.get("alg")
        if algorithm in HMAC_ALGORITHMS and self.secret is not None:
            return self.secret, HMAC_ALGORITHMS
        if algorithm in KEY_ALGORITHMS and self.jwks_url is not None:
            return self.jwks_url.key_for_token(token), KEY_ALGORITHMS
        if algorithm in KEY_ALGORITHMS and self.jwks_file is not None:
            return self.jwks_file.key_for(header.get("kid")), KEY_ALGORITHMS
        raise Unauthenticated("The token's signing algorithm is not accepted here.")

    def verify(self, token: str) -> Actor:
        """The token's actor; a token verified before is not checked again until it expires (its
        expiry is, whatever the cache holds)."""
        digest = hashlib.sha256(token.encode()).digest()
        cached = self._verified.get(digest)
        if cached is not None:
            actor, until, expired_at = cached
            now = self.clock()
            if now < until:
                return actor
            self._verified.pop(digest, None)
            if now >= expired_at:
                raise Unauthenticated("The token has expired.")
            # else: remembered as long as the provider's keys are (JWKS URL), verified again below
        actor, expires = self._verify(token)
        if len(self._verified) >= TOKEN_CACHE_SIZE:
            self._forget_expired()
        expired_at = expires + self.leeway
        # With keys fetched from the provider, a key it withdraws stops a token within the time the
        # keys are kept (as before the cache), not only when the token expires.
        until = min(expired_at, self.clock() + JWKS_KEYS_SECONDS) if self.jwks_url is not None else expired_at
        self._verified[digest] = (actor, until, expired_at)
        return actor

    def _forget_expired(self) -> None:
        """Drops the expired tokens, and, if the cache is still full, every token (they verify again)."""
        now = self.clock()
        self._verified = {d: entry for d, entry in self._verified.items() if entry[1] > now}
        if len(self._verified) >= TOKEN_CACHE_SIZE:
            self._verified = {}

    def _verify(self, token: str) -> tuple[Actor, float]:
        """The actor of a token whose signature, issuer, audience and expiry verify, and its expiry."""
        key, algorithms = self._key(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(algorithms),
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("The token has expired.") from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated("The token was issued by an issuer this service does not trust.") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated("The token is meant for another audience.") from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated("The token's signature does not verify.") from None
        except jwt.InvalidTokenError as error:
            raise Unauthenticated(f"The token is not valid: {type(error).__name__}.") from None
        return actor_from_claims(claims), float(claims["exp"])


def actor_from_claims(claims: dict[str, Any]) -> Actor:
    """The actor a verified token names; a municipality role without a municipality claim is refused."""
    sub, role, municipality = claims.get("sub"), claims.get("role"), claims.get("municipality")
    # The subject is stored on every event the actor causes: no control characters, no huge values.
    if not isinstance(sub, str) or not sub or len(sub) > 200 or any(ord(ch) < 32 for ch in sub):
        raise Unauthenticated("The token has no usable subject.")
    if not isinstance(role, str) or role not in Role.__members__.values():
        raise Unauthenticated("The token's role is not one of imdi, municipality, reception, auditor.")
    if municipality is not None and not isinstance(municipality, str):
        raise Unauthenticated("The token's municipality claim is not a 4-digit string.")
    try:
        return Actor(sub, Role(role), municipality)
    except RuleViolation:
        raise Unauthenticated("A municipality token needs a 4-digit municipality claim.") from None


def bearer_token(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send a bearer token: Authorization: Bearer <JWT>.")
    return token.strip()


class TokenAuthenticationMiddleware(AbstractAuthenticationMiddleware):
    """Verifies the bearer token of every request under /api; the actor becomes ``request.user``."""

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        verifier: TokenVerifier = connection.app.state.token_verifier
        token = bearer_token(connection.headers.get("authorization"))
        if verifier.jwks_url is not None:
            # A JWKS cache miss fetches over the network: keep that off the event loop.
            actor = await anyio.to_thread.run_sync(verifier.verify, token)
        else:
            actor = verifier.verify(token)
        return AuthenticationResult(user=actor, auth=None)
