"""Reading the read models: read-your-writes (``?min_position=``), and their refusals as problem details."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from litestar import Request
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import QueryParameter
from sqlalchemy import Engine, func, select
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

from api.http.async_reads import AsyncReadPool
from api.http.errors import ReadModelsUnavailable, StaleRead
from projections.engine.paging import BadCursor, ReadModelNotReady
from projections.engine.runner import Runner, caught_up_to
from projections.engine.serving import (
    MAX_ATTEMPTS,
    NotServing,
    OneStatementRead,
    ServingGenerations,
    Stale,
    compiled,
    missing_table,
)
from projections.engine.state import STATE

T = TypeVar("T")
ASYNCPG = asyncpg_dialect()  # how the reads in the event loop spell their statements
WAIT_SECONDS = 2.0  # the API contract: a read waits up to 2 s for the read models, then answers 503


class ReadModels:
    """The read models' store, once they have reached the log position the caller asked for."""

    def __init__(
        self, engine: Engine, runner: Runner | None, head: Callable[[], int], database_url: str | None = None
    ) -> None:
        self.engine = engine
        self.runner = runner
        self.head = head  # the log's highest position
        # The serving generation of each read model, for reads in one statement (projections.engine.serving).
        self.serving = ServingGenerations()
        # PostgreSQL: the hottest reads run in the event loop on a few asyncpg connections (no
        # hand-over to a worker thread), each in one statement in autocommit (no BEGIN/COMMIT round
        # trips). Opened by the app's startup (``open_pool``) in the server's event loop.
        self.database_url = database_url if engine.dialect.name == "postgresql" else None
        self.pool: AsyncReadPool | None = None

    async def open_pool(self) -> None:
        if self.database_url is None or self.pool is not None:
            return
        pool = AsyncReadPool(self.database_url)
        await pool.open()
        self.pool = pool

    async def close_pool(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            await pool.close()

    async def one_statement(
        self, read: OneStatementRead, variant: str, params: Mapping[str, Any]
    ) -> Sequence[Any]:
        """The rows of a read in one statement over the serving tables (see projections.engine.serving),
        each read by column name: in the event loop (PostgreSQL), else in a worker thread."""
        try:
            pool = self.pool
            if pool is None or not pool.serves_this_loop():
                return await anyio.to_thread.run_sync(self._one_statement_sync, read, variant, params)
            return await self._one_statement_async(pool, read, variant, params)
        except NotServing as error:
            raise ReadModelsUnavailable(str(error)) from None

    def _one_statement_sync(
        self, read: OneStatementRead, variant: str, params: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        if self.engine.dialect.name == "postgresql":
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                return read.run(conn, self.serving, variant, params)
        with self.engine.connect() as conn:
            return read.run(conn, self.serving, variant, params)

    async def _one_statement_async(
        self, pool: AsyncReadPool, read: OneStatementRead, variant: str, params: Mapping[str, Any]
    ) -> Sequence[Any]:
        for _ in range(MAX_ATTEMPTS):
            generations = read.generations(self.serving)
            if generations is None:
                load = compiled(self.serving.load_statement(), ASYNCPG)
                self.serving.load_rows(await pool.fetch(load.text, load.arguments({})))
                generations = read.known_or_refuse(self.serving)
            statement = read.compiled(generations, variant, ASYNCPG)
            try:
                rows = await pool.fetch(statement.text, statement.arguments(params))
            except Exception as error:
                if not missing_table(error):
                    raise
                self.serving.forget()  # an old generation dropped after a swap: look them up again
                continue
            try:
                read.check(self.serving, generations, rows)
            except Stale:
                continue
            return rows
        raise NotServing("The read models were swapped again and again during this read; try again.")

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


MinPosition = Annotated[
    int | None,
    QueryParameter(
        name="min_position",
        ge=0,
        le=2**62,
        description="Wait (up to 2 s) until the read models include this log position (X-Event-Position)",
    ),
]


async def read_models_at(request: Request[Any, Any, Any], min_position: int | None) -> ReadModels:
    """The read models, after waiting for ``min_position`` when asked to (read-your-writes)."""
    current: ReadModels = request.app.state.reads
    if min_position:
        # Only a read that must wait blocks a worker thread; the others go straight to their handler.
        await anyio.to_thread.run_sync(current.wait_for, min_position)
    return current


async def reads(request: Request[Any, Any, Any], min_position: MinPosition = None) -> ReadModels:
    """The read models, after waiting for ``min_position`` when asked to (read-your-writes)."""
    return await read_models_at(request, min_position)


Reads = NamedDependency[ReadModels]
