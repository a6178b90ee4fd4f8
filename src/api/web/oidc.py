"""Sign-in through an OIDC provider: the authorization-code flow with PKCE (S256), as ID-porten and
Entra ID give it, and the mapping of the ID token's claims to a role and a municipality."""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from api.settings import Settings
from api.web.i18n import N_
from settlement_domain.context import MUNICIPALITY_NUMBER, Actor, Role

log = logging.getLogger(__name__)
DISCOVERY_SECONDS = 3600


class SignInFailed(Exception):
    """The provider's answer did not sign anyone in; the message says why, without any token in it."""


@dataclass(frozen=True)
class Provider:
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    issuer: str
    end_session_endpoint: str | None = None


@dataclass(frozen=True)
class Pending:
    """What the browser's session keeps between sending the user to the provider and the callback."""

    state: str
    nonce: str
    verifier: str
    next: str

    def as_dict(self) -> dict[str, str]:
        return {"state": self.state, "nonce": self.nonce, "verifier": self.verifier, "next": self.next}


def challenge(verifier: str) -> str:
    """PKCE S256: the unpadded base64url of the verifier's SHA-256."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OidcClient:
    """One configured provider, its discovery document cached for an hour."""

    def __init__(self, settings: Settings) -> None:
        if not (settings.oidc_issuer and settings.oidc_client_id):
            raise ValueError("OIDC needs SETTLEMENT_OIDC_ISSUER and SETTLEMENT_OIDC_CLIENT_ID.")
        for value in settings.oidc_role_map.values():
            Role(value)  # a mapping to no role is a configuration error, found at start
        self.settings = settings
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self._provider: Provider | None = None
        self._fetched = 0.0
        self._jwks: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()

    def provider(self) -> Provider:
        with self._lock:
            if self._provider is None or time.monotonic() - self._fetched > DISCOVERY_SECONDS:
                try:
                    answer = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=5)
                    answer.raise_for_status()
                    document = answer.json()
                    self._provider = Provider(
                        authorization_endpoint=document["authorization_endpoint"],
                        token_endpoint=document["token_endpoint"],
                        jwks_uri=document["jwks_uri"],
                        issuer=document.get("issuer", self.issuer),
                        end_session_endpoint=document.get("end_session_endpoint"),
                    )
                except (httpx.HTTPError, KeyError, ValueError) as error:
                    log.warning("OIDC discovery failed: %s", type(error).__name__)
                    raise SignInFailed(N_("The login provider could not be reached.")) from None
                self._jwks = jwt.PyJWKClient(
                    self._provider.jwks_uri, cache_keys=True, lifespan=300, timeout=5
                )
                self._fetched = time.monotonic()
            return self._provider

    def start(self, redirect_uri: str, next_path: str) -> tuple[str, Pending]:
        """The provider's address to send the browser to, and what to keep until it comes back."""
        pending = Pending(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            verifier=secrets.token_urlsafe(48),
            next=next_path,
        )
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "scope": self.settings.oidc_scopes,
                "state": pending.state,
                "nonce": pending.nonce,
                "code_challenge": challenge(pending.verifier),
                "code_challenge_method": "S256",
            }
        )
        return f"{self.provider().authorization_endpoint}?{query}", pending

    def finish(self, pending: Pending, state: str, code: str, redirect_uri: str) -> tuple[Actor, str]:
        """Exchanges the code (with the PKCE verifier) for an ID token, verifies it and maps its claims."""
        if not secrets.compare_digest(state, pending.state):
            raise SignInFailed(N_("The login answer does not belong to this browser's login."))
        provider = self.provider()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.client_id,
            "code_verifier": pending.verifier,
        }
        auth = None
        if self.settings.oidc_client_secret is not None:
            auth = (self.client_id, self.settings.oidc_client_secret.get_secret_value())
        try:
            answer = httpx.post(provider.token_endpoint, data=form, auth=auth, timeout=10)
        except httpx.HTTPError as error:
            log.warning("OIDC token request failed: %s", type(error).__name__)
            raise SignInFailed(N_("The login provider could not be reached.")) from None
        if answer.status_code != 200:
            log.warning("OIDC token request refused: %s", answer.status_code)
            raise SignInFailed(N_("The login provider refused the login."))
        id_token = answer.json().get("id_token")
        if not isinstance(id_token, str):
            raise SignInFailed(N_("The login provider gave no ID token."))
        claims = self.verify(id_token)
        if not secrets.compare_digest(str(claims.get("nonce", "")), pending.nonce):
            raise SignInFailed(N_("The ID token does not belong to this login."))
        return self.actor(claims), str(claims.get("name") or claims.get(self.settings.oidc_subject_claim))

    def verify(self, id_token: str) -> dict[str, Any]:
        provider = self.provider()
        assert self._jwks is not None
        try:
            key = self._jwks.get_signing_key_from_jwt(id_token).key
            return jwt.decode(
                id_token,
                key,
                algorithms=["RS256", "ES256", "PS256"],
                audience=self.client_id,
                issuer=provider.issuer,
                leeway=self.settings.jwt_leeway_seconds,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except (jwt.InvalidTokenError, jwt.PyJWKClientError) as error:
            log.warning("OIDC ID token refused: %s", type(error).__name__)
            raise SignInFailed(N_("The ID token does not verify.")) from None

    def actor(self, claims: dict[str, Any]) -> Actor:
        """The claims mapped to an actor: the role claim through ``oidc_role_map``, the municipality claim."""
        settings = self.settings
        subject = claims.get(settings.oidc_subject_claim)
        if not isinstance(subject, str) or not subject or len(subject) > 200:
            raise SignInFailed(N_("The ID token names no usable user."))
        values = claims.get(settings.oidc_role_claim)
        candidates = values if isinstance(values, list) else [values]
        role: Role | None = None
        for value in candidates:
            mapped = settings.oidc_role_map.get(str(value)) if settings.oidc_role_map else value
            if isinstance(mapped, str) and mapped in Role.__members__.values():
                role = Role(mapped)
                break
        if role is None or role is Role.RECEPTION:
            raise SignInFailed(N_("The user has no role in this service."))
        municipality = claims.get(settings.oidc_municipality_claim)
        if role is Role.MUNICIPALITY:
            if not isinstance(municipality, str) or not MUNICIPALITY_NUMBER.match(municipality):
                raise SignInFailed(N_("A municipality user needs a 4-digit municipality number."))
            return Actor(subject, role, municipality)
        return Actor(subject, role)
