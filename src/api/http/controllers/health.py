"""Health: liveness (``/health``; without a token only whether the service is up, with an imdi or
auditor token also the store in use and how far each projection has got), and the probes of a load
balancer or orchestrator: ``/health/live`` (the process answers) and ``/health/ready`` (it can serve:
the store answers and every read model is within ``SETTLEMENT_READY_MAX_LAG`` events of the log)."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import PersistenceError
from litestar import Controller, Request, Response, get
from litestar.openapi import ResponseSpec
from sqlalchemy.exc import SQLAlchemyError

from api.http.auth import bearer_token
from api.http.errors import problem
from api.http.schemas import Model
from api.web.i18n import N_
from projections.catalog import PROJECTIONS
from projections.engine.runner import status
from settlement_domain.context import Role

DETAIL_ROLES = (Role.IMDI, Role.AUDITOR)


class ProjectionHealth(Model):
    """One projection: its version, the log position it has reached and how far behind the log it is."""

    name: str
    version: int
    code_version: int
    generation: int
    position: int
    lag: int


class Liveness(Model):
    """Whether the service is up: ``ok``, or ``projections stopped`` (503)."""

    status: str


class Health(Model):
    """Whether the service is up, which store it uses, and the projections' positions and lag."""

    status: str
    store: str
    log_position: int
    projections_in_process: bool
    projections: list[ProjectionHealth]


class Live(Model):
    """The process is up and its event loop answers."""

    status: str


class Ready(Model):
    """The process can serve reads and writes: the store answers and the read models are caught up."""

    status: str
    log_position: int
    max_lag: int
    lag: int


def _sees_details(request: Request) -> bool:
    """An imdi or auditor token sees the details; no token sees liveness only; a bad token is 401."""
    authorization = request.headers.get("authorization")
    if authorization is None:
        return False
    actor = request.app.state.token_verifier.verify(bearer_token(authorization))
    return actor.role in DETAIL_ROLES


class HealthController(Controller):
    """Liveness and readiness."""

    path = "/health"
    tags = ("health",)

    @get(
        "/",
        operation_id="health",
        sync_to_thread=True,
        security=[{}, {"bearer": []}],
        responses={
            503: ResponseSpec(Health, description="The projections in this process stopped on an error")
        },
    )
    def health(self, request: Request) -> Response[Health | Liveness]:
        """Whether the service is up (503 if the projections stopped); with an imdi or auditor token
        also the store in use and each projection's position and lag."""
        state = request.app.state
        runner = state.runner
        failed = runner is not None and runner.error is not None
        code = 503 if failed else 200
        verdict = "projections stopped" if failed else "ok"
        if not _sees_details(request):
            return Response(Liveness(status=verdict), status_code=code)
        statuses = status(state.settlement, state.reads.engine, PROJECTIONS.values())
        body = Health(
            status=verdict,
            store=state.reads.engine.dialect.name,
            log_position=state.settlement.position(),
            projections_in_process=runner is not None,
            projections=[ProjectionHealth.from_row(s.as_dict()) for s in statuses],
        )
        return Response(body, status_code=503 if failed else 200)

    @get("/live", operation_id="health_live", sync_to_thread=False, security=[{}])
    def live(self) -> Live:
        """The process is up (no store access): restart it when this fails."""
        return Live(status="alive")

    @get("/ready", operation_id="health_ready", sync_to_thread=True, security=[{}], opt={"problems": (503,)})
    def ready(self, request: Request) -> Response[Any]:
        """Ready to serve: the store answers and every read model is within the settable lag of the log;
        else 503 naming the reasons (send no traffic here until it answers 200)."""
        state = request.app.state
        max_lag: int = state.settings.ready_max_lag
        try:
            head = state.settlement.position()
            statuses = {s.name: s for s in status(state.settlement, state.reads.engine, PROJECTIONS.values())}
        except (SQLAlchemyError, PersistenceError, OSError) as error:
            return _not_ready(request, [f"the store does not answer ({type(error).__name__})"])
        reasons = []
        runner = state.runner
        if runner is not None and runner.error is not None:
            reasons.append("the projections in this process stopped on an error")
        lag = 0
        for name, projection in PROJECTIONS.items():
            found = statuses.get(name)
            if found is None:
                reasons.append(f"read model {name} is not installed")
                continue
            if found.version != projection.version:
                reasons.append(f"read model {name} awaits its rebuild for version {projection.version}")
            behind = max(0, head - found.position)
            lag = max(lag, behind)
            if behind > max_lag:
                reasons.append(f"read model {name} is {behind} events behind the log (at most {max_lag})")
        if reasons:
            return _not_ready(request, reasons)
        return Response(Ready(status="ready", log_position=head, max_lag=max_lag, lag=lag))


def _not_ready(request: Request, reasons: list[str]) -> Response[Any]:
    return problem(
        request,
        503,
        "; ".join(reasons),
        title=N_("Not ready"),
        slug="not-ready",
        headers={"Retry-After": "5"},
        extra={"reasons": reasons},
    )
