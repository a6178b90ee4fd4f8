"""Hard edges: one client cannot stall the server or fill its memory (issue 12, found by an outside test).

The body, the head, keys per object, the error list, open connections and slow or idle connections are
bounded; each refusal is a problem-details answer (413, 431, 422, 429, 408) or a closed connection.
Checked against the real server (uvicorn with its bounded protocol) where the limit lives there.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from api.bench.ports import free_port
from api.http.app import create_app
from api.http.errors import MAX_LISTED_ERRORS
from api.http.server import uvicorn_options
from tests.e2e.conftest import AUDITOR, IMDI, Api, auth, problem, settings_for
from tests.e2e.story import two_municipalities
from tests.given import TODAY

QUICK = {"keep_alive_seconds": 0.5, "header_timeout_seconds": 0.5, "body_timeout_seconds": 0.5}


class Served:
    """The app under uvicorn in a thread of this process, as ``settlement serve`` runs it."""

    def __init__(self, database_url: str, tmp_path: Path, **limits: Any) -> None:
        self.settings = settings_for(database_url, tmp_path, **limits)
        self.port = free_port()
        options = uvicorn_options(self.settings, "127.0.0.1", self.port)
        options["log_config"] = None
        config = uvicorn.Config(create_app(self.settings, clock=lambda: TODAY), **options)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        return sock


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[Served]:
    with Served(database_url, tmp_path, **QUICK) as server:
        yield server


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Reads one answer that closes the connection: status, headers, body."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def assert_problem(status: int, headers: dict[str, str], body: bytes, expected: int) -> dict[str, Any]:
    assert status == expected, body[:300]
    assert headers["content-type"] == "application/problem+json"
    problem_body = json.loads(body)
    assert problem_body["status"] == expected and problem_body["title"] and problem_body["detail"]
    return problem_body


def test_a_body_of_700000_unknown_keys_is_refused_at_once_with_a_small_answer(served: Served) -> None:
    body = "{" + ",".join(f'"k{i}":0' for i in range(700_000)) + "}"
    for role in (AUDITOR, IMDI):  # any valid token, even an auditor's, which may write nothing
        response = httpx.post(
            served.url + "/api/v1/municipalities",
            content=body.encode(),
            headers={**auth(role), "Content-Type": "application/json"},
            timeout=30,
        )
        assert response.status_code in (403, 413), response.text[:300]
        assert len(response.content) < 1000
        assert response.headers["content-type"] == "application/problem+json"
    assert response.status_code == 413
    assert "større enn 1000000 byte" in response.json()["detail"]  # bokmål: no Accept-Language was sent
    assert httpx.get(served.url + "/health/live").status_code == 200


def test_an_object_with_too_many_keys_under_the_body_limit_is_one_small_422(api: Api) -> None:
    body = {"number": "5001", "name": "Trondheim", "county": "Trøndelag"} | {f"k{i}": 0 for i in range(5000)}
    response = api.post("/municipalities", body, IMDI)
    found = problem(response, 422)
    assert found["errors"] == [{"field": "body", "message": "an object with more than 200 keys"}]
    assert len(response.content) < 1000


def test_the_error_list_names_the_first_problems_and_counts_them_all(api: Api) -> None:
    two_municipalities(api)
    body = {"municipality": "0301", "refugee_ids": list(range(400)), "respond_by": "x"}
    found = problem(api.post("/distribution-lists", body, IMDI), 422)
    assert len(found["errors"]) == MAX_LISTED_ERRORS
    assert found["error_count"] == 401  # every id, and the date
    assert "401 problems" in found["detail"]


def test_a_100_mb_header_is_refused_with_431_before_any_token_is_looked_at(served: Served) -> None:
    sock = served.connect()
    sock.sendall(b"GET /api/v1/municipalities HTTP/1.1\r\nHost: x\r\nX-Big: ")
    chunk, sent = b"a" * 65536, 0
    try:
        while sent < 100_000_000:
            sock.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass  # the server closed the connection: it stopped reading long before 100 MB
    assert sent < 100_000_000
    status, headers, body = read_answer(sock)
    sock.close()
    found = assert_problem(status, headers, body, 431)
    # Refused before the headers are read, so in bokmål (the default): no Accept-Language can be honoured.
    assert "32768 byte" in found["detail"] and found["title"] == "Forespørselshodene er for store"
    assert headers["connection"] == "close"


def test_headers_within_the_limit_are_served(served: Served) -> None:
    response = httpx.get(served.url + "/health/live", headers={"X-Padding": "p" * 30_000})
    assert response.status_code == 200


def test_a_head_that_dribbles_in_is_answered_408_and_closed(served: Served) -> None:
    sock = served.connect()
    sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
    status, headers, body = read_answer(sock)  # the rest never comes
    sock.close()
    assert_problem(status, headers, body, 408)


def test_a_connection_that_sends_nothing_is_closed_after_the_keep_alive_timeout(served: Served) -> None:
    sock = served.connect()
    assert sock.recv(1) == b""  # closed by the server (the socket's own timeout is 10 s)
    sock.close()


def test_an_idle_keep_alive_connection_is_closed(served: Served) -> None:
    sock = served.connect()
    sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
    first = sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 200")
    assert sock.recv(1) == b""  # nothing more asked: closed after the keep-alive timeout
    sock.close()


def test_a_body_that_never_arrives_closes_the_connection(served: Served) -> None:
    sock = served.connect()
    token = auth(IMDI)["Authorization"].encode()
    sock.sendall(
        b"POST /api/v1/municipalities HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: " + token + b"\r\nContent-Length: 100\r\n\r\n{"
    )
    assert sock.recv(65536) == b""
    sock.close()


def test_a_request_on_a_connection_beyond_the_limit_is_answered_429(
    database_url: str, tmp_path: Path
) -> None:
    with Served(database_url, tmp_path, max_connections=2) as server:
        held = [server.connect(), server.connect()]
        extra = server.connect()
        extra.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = read_answer(extra)
        assert_problem(status, headers, body, 429)
        assert headers["retry-after"] == "1"
        for sock in [*held, extra]:
            sock.close()
        time.sleep(0.1)
        assert httpx.get(server.url + "/health/live").status_code == 200


def test_an_import_file_may_be_larger_than_a_json_body(api: Api) -> None:
    csv = b"aar,kommunenummer,kommune,maal,verdi\n" + b"2020,0301,Oslo,bosatt,1\n" * 60_000  # 1.4 MB
    response = api.client.post(
        "/api/v1/imports",
        content=csv,
        params={"dry_run": "true"},
        headers={**auth(IMDI), "Content-Type": "text/csv"},
    )
    assert response.status_code != 413, response.text[:300]
