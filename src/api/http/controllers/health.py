"""Liveness: the store in use and how far each projection has got (no token needed)."""

from __future__ import annotations

from litestar import Controller, Request, Response, get

from api.http.schemas import Model
from projections.catalog import PROJECTIONS
from projections.engine.runner import status


class ProjectionHealth(Model):
    """One projection: its version, the log position it has reached and how far behind the log it is."""

    name: str
    version: int
    code_version: int
    generation: int
    position: int
    lag: int


class Health(Model):
    """Whether the service is up, which store it uses, and the projections' positions and lag."""

    status: str
    store: str
    log_position: int
    projections_in_process: bool
    projections: list[ProjectionHealth]


class HealthController(Controller):
    """Liveness."""

    path = "/health"
    tags = ("health",)

    @get("/", operation_id="health", sync_to_thread=True, security=[{}])
    def health(self, request: Request) -> Response[Health]:
        """Liveness, the store in use, and each projection's position and lag; 503 if the projections stopped."""
        state = request.app.state
        runner = state.runner
        statuses = status(state.settlement, state.reads.engine, PROJECTIONS.values())
        failed = runner is not None and runner.error is not None
        body = Health(
            status="projections stopped" if failed else "ok",
            store=state.reads.engine.dialect.name,
            log_position=state.settlement.position(),
            projections_in_process=runner is not None,
            projections=[ProjectionHealth.from_row(s.as_dict()) for s in statuses],
        )
        return Response(body, status_code=503 if failed else 200)
