"""Login through OIDC (authorization code + PKCE) against a small local provider, with a claim mapping."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from litestar.testing import TestClient

from tests.e2e.test_web_pages import WEB, Browserless, text, web_app

CLIENT_ID = "settlement-pages"


class Provider:
    """Discovery, authorize (answers at once, as if the user had logged in), token (checks PKCE S256), JWKS."""

    def __init__(self, claims: dict[str, Any]) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.claims = claims
        self.codes: dict[str, dict[str, str]] = {}
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def answer(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                data = json.dumps(body).encode() if body is not None else b""
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path == "/.well-known/openid-configuration":
                    self.answer(200, provider.discovery())
                elif url.path == "/jwks":
                    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(provider.key.public_key()))
                    self.answer(200, {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]})
                elif url.path == "/authorize":
                    query = {k: v[0] for k, v in parse_qs(url.query).items()}
                    code = f"code-{len(provider.codes)}"
                    provider.codes[code] = query
                    target = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query["state"]})
                    self.answer(302, headers={"Location": target})
                else:
                    self.answer(404)

            def do_POST(self) -> None:
                form = {
                    k: v[0]
                    for k, v in parse_qs(
                        self.rfile.read(int(self.headers["Content-Length"])).decode()
                    ).items()
                }
                asked = provider.codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "")
                digest = (
                    base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                )
                if (
                    asked is None
                    or digest != asked["code_challenge"]
                    or asked["code_challenge_method"] != "S256"
                ):
                    self.answer(400, {"error": "invalid_grant"})
                    return
                now = int(time.time())
                claims = {
                    "iss": provider.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                    "nonce": asked["nonce"], **provider.claims,
                }  # fmt: skip
                token = jwt.encode(claims, provider.key, algorithm="RS256", headers={"kid": "k1"})
                self.answer(200, {"id_token": token, "access_token": "a", "token_type": "Bearer"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def discovery(self) -> dict[str, str]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
        }


@pytest.fixture
def provider() -> Iterator[Provider]:
    found = Provider({"sub": "kari.nordmann", "name": "Kari Nordmann", "roles": ["ansatt", "kommune-bosetting"],
                      "kommunenr": "0301"})  # fmt: skip
    yield found
    found.server.shutdown()


def web_with(provider: Provider, database_url: str, tmp_path: Path) -> Any:
    return web_app(
        database_url,
        tmp_path,
        web_demo_login=False,
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret="client-secret",
        oidc_role_claim="roles",
        oidc_role_map={"kommune-bosetting": "municipality", "imdi-bosetting": "imdi"},
        oidc_municipality_claim="kommunenr",
    )


def test_a_caseworker_logs_in_through_the_provider_with_pkce_and_mapped_claims(
    provider: Provider, database_url: str, tmp_path: Path
) -> None:
    with TestClient(web_with(provider, database_url, tmp_path), base_url=WEB) as client:
        web = Browserless(client, None)  # type: ignore[arg-type]
        login = web.get("/login")
        assert "Logg inn med virksomheten din" in text(login) and "Demobrukere" not in text(login)
        start = web.get("/login/oidc", params={"next": "/lists"})
        assert start.status_code == 303 and start.headers["location"].startswith(
            f"{provider.issuer}/authorize?"
        )
        sent = parse_qs(urlparse(start.headers["location"]).query)
        assert sent["code_challenge_method"] == ["S256"] and sent["redirect_uri"] == [f"{WEB}/login/callback"]
        back = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
        signed_in = web.get(back.removeprefix(WEB))
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/lists"
        page = web.get("/")
        assert page.status_code == 200 and "Kari Nordmann" in text(page)
        assert "/municipalities/0301/contact" in page.text  # the municipality from the mapped claim


def test_a_callback_that_does_not_belong_to_the_login_is_refused(
    provider: Provider, database_url: str, tmp_path: Path
) -> None:
    with TestClient(web_with(provider, database_url, tmp_path), base_url=WEB) as client:
        web = Browserless(client, None)  # type: ignore[arg-type]
        start = web.get("/login/oidc")
        back = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
        forged = web.get(back.removeprefix(WEB).replace("state=", "state=x"))
        assert forged.status_code == 401 and "hører ikke til innloggingen" in text(forged)
        assert web.get("/").status_code == 303  # nobody is signed in


def test_a_user_without_a_mapped_role_is_not_signed_in(database_url: str, tmp_path: Path) -> None:
    provider = Provider({"sub": "ola", "roles": ["ansatt"]})
    try:
        with TestClient(web_with(provider, database_url, tmp_path), base_url=WEB) as client:
            web = Browserless(client, None)  # type: ignore[arg-type]
            start = web.get("/login/oidc")
            back = httpx.get(start.headers["location"], follow_redirects=False).headers["location"]
            refused = web.get(back.removeprefix(WEB))
            assert refused.status_code == 401 and "Brukeren har ingen rolle i denne tjenesten." in text(
                refused
            )
    finally:
        provider.server.shutdown()
