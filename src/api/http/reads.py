"""Reading the read models: read-your-writes (``?min_position=``), and their refusals as problem details."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from litestar import Request
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import QueryParameter
from sqlalchemy import Engine, func, select

from api.http.errors import ReadModelsUnavailable, StaleRead
from projections.engine.paging import BadCursor, ReadModelNotReady
from projections.engine.runner import Runner, caught_up_to
from projections.engine.state import STATE

T = TypeVar("T")
WAIT_SECONDS = 2.0  # the API contract: a read waits up to 2 s for the read models, then answers 503


class ReadModels:
    """The read models' store, once they have reached the log position the caller asked for."""

    def __init__(self, engine: Engine, runner: Runner | None, head: Callable[[], int]) -> None:
        self.engine = engine
        self.runner = runner
        self.head = head  # the log's highest position

    def position(self) -> int:
        """The position every read model has reached (the slowest one)."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.min(STATE.c.position))).scalar_one_or_none() or 0)

    def wait_for(self, position: int, timeout: float = WAIT_SECONDS) -> None:
        if position > self.head():
            # Every position a write answered is already in the log (all servers share it): none to wait for.
            raise ValidationException(
                "min_position is beyond the end of the event log.",
                extra=[{"key": "min_position", "message": "beyond the end of the event log"}],
            )
        if self.runner is not None:
            if self.runner.error is not None:
                raise ReadModelsUnavailable(
                    "The projections stopped on an error; the operator has been told."
                )
            if self.runner.wait_for(position, timeout):
                return
            raise StaleRead(position, self.runner.position)
        # The read models are kept by another process (``settlement projections run``): poll their positions.
        if not caught_up_to(self.engine, position, timeout=timeout):
            raise StaleRead(position, self.position())

    def query(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Runs a query function of ``projections`` on the read store, translating its two refusals:
        a read model not installed yet (503) and a cursor it did not hand out (422). Anything else a
        query raises is a bug, and answers 500."""
        try:
            return function(self.engine, *args, **kwargs)
        except ReadModelNotReady as error:
            raise ReadModelsUnavailable(str(error)) from None
        except BadCursor as error:
            raise ValidationException(
                "The cursor is not valid.",
                extra=[{"key": "cursor", "message": str(error) or "not a cursor this list handed out"}],
            ) from None


async def reads(
    request: Request,
    min_position: Annotated[
        int | None,
        QueryParameter(
            name="min_position",
            ge=0,
            le=2**62,
            description="Wait (up to 2 s) until the read models include this log position (X-Event-Position)",
        ),
    ] = None,
) -> ReadModels:
    """The read models, after waiting for ``min_position`` when asked to (read-your-writes)."""
    current: ReadModels = request.app.state.reads
    if min_position:
        # Only a read that must wait blocks a worker thread; the others go straight to their handler.
        await anyio.to_thread.run_sync(current.wait_for, min_position)
    return current


Reads = NamedDependency[ReadModels]
