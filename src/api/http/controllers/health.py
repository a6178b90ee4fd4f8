"""Liveness: without a token only whether the service is up; with an imdi or auditor token also the
store in use and how far each projection has got (positions and lag are operational detail)."""

from __future__ import annotations

from litestar import Controller, Request, Response, get

from api.http.auth import bearer_token
from api.http.schemas import Model
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


def _sees_details(request: Request) -> bool:
    """An imdi or auditor token sees the details; no token sees liveness only; a bad token is 401."""
    authorization = request.headers.get("authorization")
    if authorization is None:
        return False
    actor = request.app.state.token_verifier.verify(bearer_token(authorization))
    return actor.role in DETAIL_ROLES


class HealthController(Controller):
    """Liveness."""

    path = "/health"
    tags = ("health",)

    @get("/", operation_id="health", sync_to_thread=True, security=[{}, {"bearer": []}])
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
        return Response(body, status_code=code)
