"""The database-backed ceiling: a bare ASGI app on the raw driver that runs, for each read
scenario, the very SQL the app sends (captured by bench/capture.py, planned by
bench/sqlplan.py) and answers the same JSON.

No framework, no ORM, no validation, no middleware: an asyncmy pool per worker (autocommit,
`DB_POOL_SIZE` connections like the app's read pool), the statements of the scenario's plan
with their parameters taken from the request, rows to dicts, `json.dumps` as Starlette does.
It is the most a Python endpoint on this database and server stack can do here.

Requests are `/<scenario><the app's path>` (e.g. `/items_filtered/api/items?min_price=…`).
Served like the app (`SERVER_OPTIONS` of bench/ceiling.py, 2 workers):
`python -m bench.dbceiling --port P --workers 2` with BENCH_DBCEILING_PLANS naming a JSON file
`{scenario: {"plan": [...], "shape": {...}}}` and the app's DB_* variables.

The pool is asyncmy's, with a FIFO semaphore of the pool's size in front of it, as the app has
(wapang/db/): asyncmy hands a free connection to whichever task asks first once the
pool's lock is free, so a waiter can lose its turn to newcomers again and again, which is where
a raw pool's long tail comes from. BENCH_DBCEILING_FAIR=0 leaves the semaphore out, to see it.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncmy

from bench.ceiling import serve
from bench.orderceiling import place_order
from bench.sqlplan import Statement, parameters, plan_from_json, token_subject

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]
# Scenarios that place orders (bench/orderceiling.py): a transaction, not a plan of reads.
ORDER_SCENARIOS = ("orders", "hot_item")


def shape_rows(shape: dict[str, Any], columns: list[str], rows: list[tuple[Any, ...]]) -> Any:
    """The JSON of the answer: `shape["keys"]` is [[key, column], ...]; `one` for an object."""
    positions = [(key, columns.index(column)) for key, column in shape["keys"]]
    shaped = [{key: row[index] for key, index in positions} for row in rows]
    if shape.get("one"):
        return shaped[0] if shaped else None
    return shaped


def encode(document: Any) -> bytes:
    """As Starlette's JSONResponse renders."""
    return json.dumps(
        document, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode()


class DatabaseCeiling:
    def __init__(self, plans: dict[str, dict[str, Any]], fair: bool) -> None:
        self.plans = {
            name: (plan_from_json(entry["plan"]), entry["shape"]) for name, entry in plans.items()
        }
        self.fair = fair
        self.pool: Any = None
        self.writes: Any = None
        self.turns: asyncio.Semaphore | None = None
        self.write_turns: asyncio.Semaphore | None = None

    async def start(self) -> None:
        size = int(os.environ.get("DB_POOL_SIZE") or 10)
        self.pool = await _pool(size, autocommit=True)
        # The orders' pool: transactions under READ COMMITTED, as the app's write engine.
        self.writes = await _pool(size, autocommit=False, init_command=_READ_COMMITTED)
        self.turns = asyncio.Semaphore(size) if self.fair else None
        self.write_turns = asyncio.Semaphore(size) if self.fair else None

    async def stop(self) -> None:
        for pool in (self.pool, self.writes):
            if pool is not None:
                pool.close()
                await pool.wait_closed()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path: str = scope["path"]
        name, _, rest = path[1:].partition("/")
        if name == "healthz":
            await _answer(send, 200, b'{"status":"ok"}')
            return
        if name in ORDER_SCENARIOS and scope["method"] == "POST":
            body = await _body(receive)
            status, document = await self.order(_bearer(scope["headers"]), body)
            await _answer(send, status, encode(document))
            return
        entry = self.plans.get(name)
        if entry is None:
            await _answer(send, 404, b'{"detail":"no such scenario"}')
            return
        query = scope["query_string"].decode("latin-1")
        app_path = "/" + rest + (f"?{query}" if query else "")
        token = _bearer(scope["headers"])
        status, document = await self.run(entry[0], entry[1], app_path, token)
        await _answer(send, status, encode(document))

    async def run(
        self, plan: list[Statement], shape: dict[str, Any], path: str, token: str
    ) -> tuple[int, Any]:
        values = parameters(plan, path, token)
        if self.turns is not None:
            async with self.turns:
                return await self._execute(plan, shape, values)
        return await self._execute(plan, shape, values)

    async def order(self, token: str, body: bytes) -> tuple[int, Any]:
        subject = token_subject(token) or ""
        if self.write_turns is not None:
            async with self.write_turns, self.writes.acquire() as connection:
                return await place_order(connection, subject, body)
        async with self.writes.acquire() as connection:
            return await place_order(connection, subject, body)

    async def _execute(
        self, plan: list[Statement], shape: dict[str, Any], values: list[tuple[Any, ...]]
    ) -> tuple[int, Any]:
        async with self.pool.acquire() as connection, connection.cursor() as cursor:
            last = len(plan) - 1
            for position, statement in enumerate(plan):
                await cursor.execute(statement.sql, values[position])
                rows = await cursor.fetchall()
                if position < last and not rows:  # a lookup before the listing found nothing
                    return 404, {"detail": "not found"}
            columns = [column[0] for column in cursor.description]
        document = shape_rows(shape, columns, list(rows))
        return (404, {"detail": "not found"}) if document is None else (200, document)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


_READ_COMMITTED = "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"


async def _pool(size: int, **options: Any) -> Any:
    return await asyncmy.create_pool(
        host=os.environ["DB_HOST"],
        port=int(os.environ["DB_PORT"]),
        user=os.environ["DB_USER"],
        password=os.environ["DB_PASSWORD"],
        db=os.environ["DB_DATABASE"],
        charset="utf8mb4",
        minsize=size,
        maxsize=size,
        pool_recycle=1800,
        **options,
    )


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _bearer(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"authorization":
            return value.decode("latin-1").removeprefix("Bearer ")
    return ""


async def _answer(send: Send, status: int, body: bytes) -> None:
    headers = [*JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _load() -> DatabaseCeiling:
    path = os.environ.get("BENCH_DBCEILING_PLANS")
    plans = json.loads(Path(path).read_text()) if path else {}
    return DatabaseCeiling(plans, fair=os.environ.get("BENCH_DBCEILING_FAIR", "1") != "0")


app = _load()


def main() -> None:
    serve("bench.dbceiling:app", __doc__)


if __name__ == "__main__":
    main()
