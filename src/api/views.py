"""Reading the views: read-your-writes (``?min_position=``), and view errors as problem details."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from litestar import Request
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import QueryParameter
from sqlalchemy import Engine, func, select

from api.errors import StaleRead, ViewsUnavailable
from projections.base import STATE
from projections.runner import Runner, views_reached
from projections.views import BadCursor, ViewNotReady

T = TypeVar("T")
WAIT_SECONDS = 2.0  # API.md: a read waits up to 2 s for the views, then answers 503


class Views:
    """The read store, once the views have reached the position the caller asked for."""

    def __init__(self, engine: Engine, runner: Runner | None, head: Callable[[], int]) -> None:
        self.engine = engine
        self.runner = runner
        self.head = head  # the log's highest position

    def position(self) -> int:
        """The position every view has reached (the slowest one)."""
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
                raise ViewsUnavailable("The projections stopped on an error; the operator has been told.")
            if self.runner.wait_for(position, timeout):
                return
            raise StaleRead(position, self.runner.position)
        # The views are kept by another process (``settlement projections run``): poll their positions.
        if not views_reached(self.engine, position, timeout=timeout):
            raise StaleRead(position, self.position())

    def query(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Runs a query function of ``projections`` on the read store, translating its refusals."""
        try:
            return function(self.engine, *args, **kwargs)
        except ViewNotReady as error:
            raise ViewsUnavailable(str(error)) from None
        except (BadCursor, ValueError, TypeError) as error:
            # Cursors and limits are the only caller input a query function parses itself.
            raise ValidationException(
                "The cursor or limit is not valid.",
                extra=[{"key": "cursor", "message": str(error) or "not a cursor this list handed out"}],
            ) from None


async def views(
    request: Request,
    min_position: Annotated[
        int | None,
        QueryParameter(name="min_position", ge=0, le=2**62,
                  description="Wait (up to 2 s) until the views include this log position (X-Event-Position)"),
    ] = None,
) -> Views:
    """The views, after waiting for ``min_position`` when asked to (read-your-writes)."""
    current: Views = request.app.state.views
    if min_position:
        # Only a read that must wait blocks a worker thread; the others go straight to their handler.
        await anyio.to_thread.run_sync(current.wait_for, min_position)
    return current


ReadViews = NamedDependency[Views]
