"""The bare stack the places read is measured against (``make bench-http``): litestar + uvicorn + one
psycopg select per request, and nothing else (no authentication, no tenancy, no read-model machinery,
no metrics). The HTTP API reaches some fraction of this server's requests per second; the benchmark
(:mod:`api.bench.http_reads`) measures both in one run and prints the ratio.

It is the reference of issue 12: a handler run in a worker thread on a synchronous pool of 4-8
connections, answering a dict that litestar serialises.

    SETTLEMENT_BARE_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
      .venv/bin/python -m uvicorn api.bench.bare_stack:app --port 8742 --no-access-log
    wrk -t1 -c16 -d10s --latency http://127.0.0.1:8742/places/0301

The table ``bare_places`` (400 rows) is made on start when missing, in the schema the URL's
``options=-csearch_path=...`` names (the benchmark gives it its own scratch schema).
"""

from __future__ import annotations

import os
from typing import Any

from litestar import Litestar, get
from psycopg_pool import ConnectionPool

URL = os.environ.get("SETTLEMENT_BARE_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
pool = ConnectionPool(URL, min_size=4, max_size=8, open=True)
with pool.connection() as conn:
    conn.execute(
        "create table if not exists bare_places(m text, y int, decided int, used int, primary key(m, y))"
    )
    conn.execute(
        "insert into bare_places select lpad(g::text, 4, '0'), 2025, 10, 3 "
        "from generate_series(1, 400) g on conflict do nothing"
    )


@get("/hello", sync_to_thread=False)
def hello() -> dict[str, Any]:
    return {"ok": True}


@get("/places/{m:str}", sync_to_thread=True)
def places(m: str) -> dict[str, Any]:
    with pool.connection() as c:
        row = c.execute("select decided, used from bare_places where m = %s and y = 2025", (m,)).fetchone()
    assert row is not None  # the benchmark asks for a seeded municipality
    return {"m": m, "decided": row[0], "used": row[1]}


app = Litestar([hello, places])
