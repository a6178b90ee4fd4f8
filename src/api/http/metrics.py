"""``GET /metrics`` in the Prometheus text format: request latency per route, the log and the views' lag.

Each process has its own registry, so that every app (and every test's app) counts only its own
requests. What comes from the database (the log's head, each view's position and lag) is read when
Prometheus scrapes, so every API process answers the same figures for them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from eventsourcing.persistence import PersistenceError
from litestar import Controller, Request, Response, get
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from projections.catalog import PROJECTIONS
from projections.engine.runner import status

if TYPE_CHECKING:
    from litestar.types import HTTPScope

# Seconds; the API's reads take milliseconds, a read waiting for ``min_position`` up to 2 s.
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class StoreCollector(Collector):
    """The log and the read models, read from the store at each scrape."""

    def __init__(self, state: Any) -> None:
        self.state = state

    def collect(self) -> Iterator[Any]:
        up = GaugeMetricFamily("settlement_store_up", "1 when the event store answered this scrape, else 0")
        try:
            statuses = status(self.state.settlement, self.state.reads.engine, PROJECTIONS.values())
            head = self.state.settlement.position()
        except (SQLAlchemyError, PersistenceError, OSError):
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        appended = CounterMetricFamily(
            "settlement_events_appended",
            "Events appended to the log by every process (the log's head position)",
        )
        appended.add_metric([], head)
        yield appended
        position = GaugeMetricFamily(
            "settlement_projection_position", "The log position a read model has reached", labels=["view"]
        )
        lag = GaugeMetricFamily(
            "settlement_projection_lag_events",
            "Events in the log a read model has not folded yet",
            labels=["view"],
        )
        for s in statuses:
            position.add_metric([s.name], s.position)
            lag.add_metric([s.name], max(0, head - s.position))
        yield position
        yield lag
        appender = self.state.settlement.read_records
        records = CounterMetricFamily(
            "settlement_read_records_appended",
            "Read records (R6/R14) this process appended, in groups of one transaction each",
        )
        records.add_metric([], appender.records)
        yield records
        groups = CounterMetricFamily(
            "settlement_read_record_groups", "Transactions in which this process appended its read records"
        )
        groups.add_metric([], appender.groups)
        yield groups
        runner = self.state.runner
        if runner is not None:
            stopped = GaugeMetricFamily(
                "settlement_projection_runner_stopped",
                "1 when this process's projection runner stopped on an error",
            )
            stopped.add_metric([], 1 if runner.error is not None else 0)
            yield stopped


class Metrics:
    """One app's registry: the request histogram and the store's figures."""

    def __init__(self, state: Any) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Histogram(
            "settlement_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, per route template",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(StoreCollector(state))

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """Times every routed request under its route's template (``/api/v1/refugees/{refugee_id}``),
        never its path: ids in paths would make a series per person."""
        requests = self.requests

        async def timed(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            started = time.perf_counter()
            status_code = 500

            async def send_status(message: Message) -> None:
                nonlocal status_code
                if message["type"] == "http.response.start":
                    status_code = message["status"]
                await send(message)

            try:
                await app(scope, receive, send_status)
            finally:
                route = scope.get("path_template") or "unmatched"
                method = cast("HTTPScope", scope)["method"]
                requests.labels(method, route, str(status_code)).observe(time.perf_counter() - started)

        return timed


class MetricsController(Controller):
    """Prometheus metrics."""

    path = "/metrics"
    tags = ("operations",)

    @get("/", operation_id="metrics", sync_to_thread=True, security=[{}], media_type=CONTENT_TYPE_LATEST)
    def metrics(self, request: Request) -> Response[bytes]:
        """Request latency per route, events appended, each read model's position and lag (Prometheus text
        format, no token needed: expose it to the monitoring network only)."""
        metrics: Metrics = request.app.state.metrics
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
