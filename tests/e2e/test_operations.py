"""The operator's kit over HTTP: metrics, liveness and readiness, CORS, JSON-line logs with correlation ids."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from eventsourcing.persistence import OperationalError
from litestar.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

import api
from api.bench.ports import free_port
from api.cli.main import main
from api.http.app import create_app
from api.logs import configure_logging
from projections.catalog import PROJECTIONS, install
from projections.engine.store import open_read_store
from tests.e2e.conftest import IMDI, MUNICIPALITY, OSLO, SECRET, Api, auth, problem, settings_for
from tests.e2e.story import register_municipality, two_municipalities
from tests.given import TODAY


def scrape(api: Api) -> dict[str, list[tuple[dict[str, str], float]]]:
    """The samples of ``/metrics`` by name, each with its labels and value."""
    response = api.client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def test_metrics_time_requests_per_route_template_and_show_the_log_and_each_views_lag(api: Api) -> None:
    two_municipalities(api)
    api.ok(api.get(f"/municipalities/{OSLO}", MUNICIPALITY, OSLO))
    api.get("/municipalities/9999", IMDI)  # a 404 on the same route
    samples = scrape(api)

    counts = {
        (labels["method"], labels["route"], labels["status"]): value
        for labels, value in samples["settlement_http_request_duration_seconds_count"]
    }
    assert counts[("GET", "/api/v1/municipalities/{number}", "200")] == 1
    assert counts[("GET", "/api/v1/municipalities/{number}", "404")] == 1
    assert counts[("POST", "/api/v1/municipalities", "201")] == 2
    routes = {route for _, route, _ in counts}
    assert not any(OSLO in route or "9999" in route for route in routes), routes  # templates, never paths

    head = api.app.state.settlement.position()
    assert samples["settlement_store_up"] == [({}, 1.0)]
    assert samples["settlement_events_appended_total"] == [({}, float(head))]
    lag = {labels["view"]: value for labels, value in samples["settlement_projection_lag_events"]}
    assert set(lag) == set(PROJECTIONS)
    assert all(0 <= value <= head for value in lag.values())
    assert samples["settlement_projection_runner_stopped"] == [({}, 0.0)]


def test_metrics_say_the_store_is_down_instead_of_failing(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable() -> int:
        raise OperationalError("connection refused")

    monkeypatch.setattr(api.app.state.settlement, "position", unreachable)
    samples = scrape(api)
    assert samples["settlement_store_up"] == [({}, 0.0)]
    assert "settlement_projection_lag_events" not in samples


def test_live_answers_without_the_store_and_ready_when_the_views_are_caught_up(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_municipality(api, OSLO, "Oslo", "Oslo")
    api.app.state.runner.wait_for(api.position)
    assert api.client.get("/health/live").json() == {"status": "alive"}
    ready = api.client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready", "log_position": api.position, "max_lag": 1000, "lag": 0}

    def unreachable() -> int:
        raise OperationalError("connection refused")

    monkeypatch.setattr(api.app.state.settlement, "position", unreachable)
    body = problem(api.client.get("/health/ready"), 503)
    assert body["reasons"] == ["the store does not answer (OperationalError)"]
    assert api.client.get("/health/live").status_code == 200


def test_ready_refuses_while_a_view_is_further_behind_than_the_bound(
    database_url: str, tmp_path: Path
) -> None:
    app = create_app(settings_for(database_url, tmp_path, ready_max_lag=1), clock=lambda: TODAY)
    with TestClient(app) as client:
        api = Api(client)
        register_municipality(api, OSLO, "Oslo", "Oslo")
        app.state.runner.wait_for(api.position)
        assert client.get("/health/ready").status_code == 200
        app.state.runner.stop()  # the views stand still while the log moves on
        two_municipalities_after = [("4601", "Bergen", "Vestland"), ("5001", "Trondheim", "Trøndelag")]
        for number, name, county in two_municipalities_after:
            register_municipality(api, number, name, county)
        response = client.get("/health/ready")
        body = problem(response, 503)
        assert response.headers["Retry-After"]
        assert any(
            reason.startswith("read model places is 2 events behind the log") for reason in body["reasons"]
        )
        # /health keeps its contract: up, and for IMDi with each view's lag.
        health = client.get("/health", headers=auth(IMDI)).json()
        assert health["status"] == "ok" and {p["lag"] for p in health["projections"]} == {2}


def test_ready_refuses_when_the_projections_stopped_on_an_error(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api.app.state.runner, "error", RuntimeError("stopped"))
    body = problem(api.client.get("/health/ready"), 503)
    assert "the projections in this process stopped on an error" in body["reasons"]


def test_cors_origins_are_settable_and_none_are_allowed_by_default(
    api: Api, database_url: str, tmp_path: Path
) -> None:
    preflight = {
        "Origin": "https://kommune.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, idempotency-key",
    }
    assert (
        "access-control-allow-origin" not in api.client.options("/api/v1/refugees", headers=preflight).headers
    )

    settings = settings_for(database_url, tmp_path, cors_origins="https://kommune.example")
    with TestClient(create_app(settings, clock=lambda: TODAY)) as client:
        allowed = client.options("/api/v1/refugees", headers=preflight)
        assert allowed.status_code in (200, 204), allowed.text
        assert allowed.headers["access-control-allow-origin"] == "https://kommune.example"
        assert "idempotency-key" in allowed.headers["access-control-allow-headers"].lower()
        other = client.options("/api/v1/refugees", headers={**preflight, "Origin": "https://evil.example"})
        assert other.headers.get("access-control-allow-origin") != "https://evil.example"
        read = client.get("/health/live", headers={"Origin": "https://kommune.example"})
        assert "x-correlation-id" in read.headers["access-control-expose-headers"].lower()


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging("info", stream)
    yield stream
    root.handlers[:], _ = saved
    for handler in root.handlers:
        handler.setLevel(logging.NOTSET)
    root.setLevel(saved[1])


def test_log_lines_are_json_with_the_requests_correlation_id_and_no_personal_data(
    api: Api, json_log: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_municipality(api, OSLO, "Oslo", "Oslo")

    quoted = "Kari Nordmann, født 1990-05-17"  # what a database error could quote from a row

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError(quoted)

    monkeypatch.setattr("api.http.controllers.municipalities.places_of_one", broken)
    response = api.get(f"/municipalities/{OSLO}/places", IMDI, headers={"X-Correlation-ID": "req-42"})
    assert response.status_code == 500
    logging.getLogger("tests.operations").info("outside any request")
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    assert lines, "nothing was logged"
    request_lines = [line for line in lines if line["correlation_id"] == "req-42"]
    assert request_lines and request_lines[0]["level"] == "error"
    assert "RuntimeError" in request_lines[0]["message"]
    assert lines[-1]["correlation_id"] is None and lines[-1]["message"] == "outside any request"
    assert all({"time", "level", "logger", "message", "correlation_id"} <= set(line) for line in lines)
    assert "Kari" not in json_log.getvalue() and "1990-05-17" not in json_log.getvalue()


def test_settlement_serve_logs_json_lines_and_shuts_down_gracefully_on_sigterm(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "SETTLEMENT_DATABASE_URL": database_url,
        "SETTLEMENT_JWT_SECRET": "s" * 40,
        "SETTLEMENT_JWT_SECRET_FILE": str(tmp_path / "jwt-secret"),
        "PYTHONPATH": SOURCES,  # this checkout's code, whatever the working directory
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli.main", "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(base + "/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError("the server never became ready")
        correlated = httpx.get(base + "/api/v1/municipalities", headers={"X-Correlation-ID": "probe-1"})
        assert correlated.status_code == 401 and correlated.headers["X-Correlation-ID"] == "probe-1"
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    # uvicorn re-raises the signal once its shutdown is complete, so the exit status is SIGTERM's.
    assert server.returncode in (0, -signal.SIGTERM), err
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    messages = [line["message"] for line in lines]
    assert any("Application startup complete" in m for m in messages), messages
    assert any("Application shutdown complete" in m for m in messages), messages
    assert all(line["level"] in ("debug", "info", "warning") for line in lines), lines


def test_reads_can_come_from_a_replica_while_writes_go_to_the_primary(
    database_url: str, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="--no-projections"):
        create_app(settings_for(database_url, tmp_path, read_database_url=database_url))
    # A "replica" whose views stand still: a read of one's own write waits on the replica's positions and
    # answers 503 rather than stale data; the write itself landed on the primary.
    replica = f"sqlite:///{tmp_path / 'replica.db'}"
    engine = open_read_store(replica)
    install(engine)
    engine.dispose()
    settings = settings_for(database_url, tmp_path, read_database_url=replica, ready_max_lag=0)
    app = create_app(settings, clock=lambda: TODAY, live_projections=False)
    with TestClient(app) as client:
        api = Api(client)
        register_municipality(api, OSLO, "Oslo", "Oslo")
        assert app.state.settlement.position() == api.position == 1
        problem(api.get("/municipalities", IMDI), 503)
        assert client.get("/health/ready").status_code == 503
    # The replica of the same store (here: the store itself) answers once the worker has folded the log.
    worker_app = create_app(settings_for(database_url, tmp_path), clock=lambda: TODAY)
    with TestClient(worker_app) as client:
        worker_app.state.runner.wait_for(1)
    app = create_app(
        settings_for(database_url, tmp_path, read_database_url=database_url), live_projections=False
    )
    with TestClient(app) as client:
        assert [m["number"] for m in Api(client).ok(Api(client).get("/municipalities", IMDI))] == [OSLO]
        assert client.get("/health/ready").status_code == 200


def test_rendering_a_letter_logs_no_progress_lines(json_log: io.StringIO) -> None:
    # WeasyPrint reports seven steps per letter at info: the server's log keeps its warnings only.
    logging.getLogger("weasyprint.progress").info("Step 1 - Fetching and parsing HTML")
    logging.getLogger("weasyprint").warning("Ignored `foo: bar` at 1:2, unknown property.")
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    assert [line["level"] for line in lines if line["logger"].startswith("weasyprint")] == ["warning"]


SOURCES = str(Path(api.__file__).resolve().parents[1])  # src/ of the code under test


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.update(int(t) for t in text)
    return found


@pytest.mark.postgres
def test_serve_with_projections_process_folds_in_a_child_and_stops_it_with_itself(
    postgres_url: str, tmp_path: Path
) -> None:
    """``settlement serve --projections-process``: the API process runs no runner; ``settlement
    projections run`` and ``settlement letters run`` run beside it, keep the views live (a read with
    min_position sees a write), are started again when one dies, and stop with the server."""
    port = free_port()
    env = {
        **os.environ,
        "SETTLEMENT_DATABASE_URL": postgres_url,
        "SETTLEMENT_JWT_SECRET": SECRET,
        "SETTLEMENT_JWT_SECRET_FILE": str(tmp_path / "jwt-secret"),
        "SETTLEMENT_LETTERS_OUTBOX_DIR": str(tmp_path / "outbox"),
        "SETTLEMENT_LETTERS_PRINT_DIR": str(tmp_path / "print"),
        "PYTHONPATH": SOURCES,  # this checkout's code in the server and its workers
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli.main", "serve", "--port", str(port), "--projections-process"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    children: set[int] = set()
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(base + "/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        else:
            server.kill()
            raise AssertionError("the server never became ready: " + server.communicate(timeout=10)[1])
        children = _children(server.pid)
        commands = {" ".join(Path(f"/proc/{c}/cmdline").read_text().split("\0")[-3:-1]) for c in children}
        assert commands == {"projections run", "letters run"}, commands
        written = httpx.post(
            base + "/api/v1/municipalities",
            json={"number": "0301", "name": "Oslo", "county": "Oslo"},
            headers=auth(IMDI),
        )
        assert written.status_code == 201, written.text
        position = written.headers["X-Event-Position"]
        read = httpx.get(
            base + "/api/v1/municipalities", params={"min_position": position}, headers=auth(IMDI), timeout=10
        )
        assert read.status_code == 200 and [m["number"] for m in read.json()] == ["0301"]
        # A worker that dies is started again.
        projections = next(c for c in children if b"projections" in Path(f"/proc/{c}/cmdline").read_bytes())
        os.kill(projections, signal.SIGKILL)
        for _ in range(100):
            now = _children(server.pid)
            if len(now) == 2 and projections not in now:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the projections' process was not started again")
        children = now
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.returncode in (0, -signal.SIGTERM)
    # Stopped with the server: gone (reaped by it), or, had it died before stopping them, ending on
    # the SIGTERM the kernel sends them when it dies (Linux).
    for _ in range(150):
        alive = [c for c in children if Path(f"/proc/{c}").exists() and _state(c) != "Z"]
        if not alive:
            break
        time.sleep(0.1)
    assert not alive, alive


def test_serve_with_projections_process_needs_postgresql(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("SETTLEMENT_DATABASE_URL", f"sqlite:///{tmp_path / 's.db'}")
    assert main(["serve", "--projections-process"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "PostgreSQL" in err[0]
