"""The real HTTP app in-process on each backend, and a client that signs its requests as any role."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from api.http.app import create_app
from api.http.auth import issue_token
from api.settings import Settings
from settlement_domain.context import Role
from tests.given import TODAY

SECRET = "test-secret-" + "x" * 40

IMDI, MUNICIPALITY, RECEPTION, AUDITOR = Role.IMDI, Role.MUNICIPALITY, Role.RECEPTION, Role.AUDITOR
OSLO, BERGEN = "0301", "4601"


def token(role: Role, municipality: str | None = None, sub: str | None = None, **kwargs: Any) -> str:
    return issue_token(
        SECRET,
        role=role,
        sub=sub or f"{role.value}-{municipality or 'x'}",
        municipality=municipality,
        **kwargs,
    )


def auth(role: Role, municipality: str | None = None, **kwargs: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role, municipality, **kwargs)}"}


class Api:
    """A test client whose calls name the role they are made as: ``api.post(path, body, IMDI)``."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        # The tests read problems and summaries in English, which their assertions quote; bokmål, the
        # default, is tested by tests/e2e/test_problem_language.py (which sends its own Accept-Language).
        client.headers.setdefault("Accept-Language", "en")
        self.position = 0  # the latest X-Event-Position seen: reads wait for it (read-your-writes)

    @property
    def app(self) -> Litestar:
        return self.client.app

    def request(
        self,
        method: str,
        path: str,
        role: Role | None,
        municipality: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        sent = {**(auth(role, municipality) if role else {}), **(headers or {})}
        if method == "GET" and self.position:
            kwargs["params"] = {"min_position": self.position, **(kwargs.get("params") or {})}
        response = self.client.request(method, "/api/v1" + path, headers=sent, **kwargs)
        if "X-Event-Position" in response.headers:
            self.position = max(self.position, int(response.headers["X-Event-Position"]))
        return response

    def post(
        self, path: str, body: Any, role: Role, municipality: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        return self.request("POST", path, role, municipality, json=body, **kwargs)

    def put(
        self, path: str, body: Any, role: Role, municipality: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        return self.request("PUT", path, role, municipality, json=body, **kwargs)

    def get(self, path: str, role: Role, municipality: str | None = None, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, role, municipality, **kwargs)

    def ok(self, response: httpx.Response) -> dict[str, Any]:
        assert response.status_code < 300, f"{response.status_code}: {response.text}"
        return response.json()


def settings_for(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(
        database_url=database_url,
        jwt_secret=SECRET,
        jwt_secret_file=tmp_path / "jwt-secret",
        projection_poll_seconds=0.02,
        **{
            # The letter outbox runs only where a test asks for it (it appends events of its own).
            "letters_worker": False,
            "letters_outbox_dir": tmp_path / "outbox",
            "letters_print_dir": tmp_path / "print",
            **overrides,
        },
    )


@pytest.fixture
def http_app(database_url: str, tmp_path: Path) -> Litestar:
    return create_app(settings_for(database_url, tmp_path), clock=lambda: TODAY)


@pytest.fixture
def api(http_app: Litestar) -> Iterator[Api]:
    with TestClient(http_app) as client:
        yield Api(client)


def problem(response: httpx.Response, status: int, rule: str | None = None) -> dict[str, Any]:
    """Asserts an RFC 9457 problem with this status (and rule) and returns its body."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    if rule is not None:
        assert body.get("rule") == rule, body
    return body


DAY = timedelta(days=1)
