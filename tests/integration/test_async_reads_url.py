"""The reads' asyncpg pool opens on every URL the rest of the service opens: libpq's own settings
(``connect_timeout``, keepalives) are left to psycopg instead of being sent to the server."""

from __future__ import annotations

import asyncio

from api.http.async_reads import AsyncReadPool, asyncpg_dsn


def test_libpq_settings_and_the_schema_stay_out_of_asyncpgs_dsn() -> None:
    dsn, settings = asyncpg_dsn(
        "postgresql://postgres@127.0.0.1:5432/test?schema=s1&connect_timeout=5&sslmode=disable&keepalives=1"
    )
    assert dsn == "postgresql://postgres@127.0.0.1:5432/test?sslmode=disable"
    assert settings["search_path"] == "s1"


def test_the_pool_opens_with_connect_timeout_in_the_url(postgres_url: str) -> None:
    url = postgres_url + ("&" if "?" in postgres_url else "?") + "connect_timeout=5&keepalives=1"

    async def open_and_close() -> None:
        pool = AsyncReadPool(url, size=1)
        await pool.open()
        await pool.close()

    asyncio.run(open_and_close())
