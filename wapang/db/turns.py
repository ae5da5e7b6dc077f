"""Turns at a database pool, handed out in arrival order.

SQLAlchemy's own queue is not fair under load (a woken waiter can lose the connection to a
newcomer and wait again, up to a 503), and past pool_size it opens and closes overflow
connections on every request: a FIFO semaphore of pool_size in front of each pool avoids both.
"""

from __future__ import annotations

import asyncio
import time


class Turns:
    """`size` turns of one pool, taken by `async with turns:`; a wait longer than `timeout`
    seconds is a TimeoutError (a 503)."""

    def __init__(self, size: int, timeout: float, pool: str) -> None:
        # Imported here, not at the top: `wapang serve` imports this module before it sets the
        # metrics directory its workers share (wapang/metrics.py).
        from wapang.metrics import db_pool_in_use, db_pool_wait

        self._free = asyncio.Semaphore(size)
        self._timeout = timeout
        # The pool's children of the metrics, resolved once: labels() costs a lock.
        self._in_use = db_pool_in_use.labels(pool)
        self._waited = db_pool_wait.labels(pool)

    # An async context manager of its own, not an @asynccontextmanager generator: every read
    # takes a turn, and the generator's machinery cost more than the turn itself.
    async def __aenter__(self) -> None:
        if self._free.locked():  # only a wait needs a deadline: timers cost on every request
            waiting_since = time.perf_counter()
            async with asyncio.timeout(self._timeout):
                await self._free.acquire()
            self._waited.observe(time.perf_counter() - waiting_since)
        else:
            await self._free.acquire()
            self._waited.observe(0)
        self._in_use.inc()

    async def __aexit__(self, *_: object) -> None:
        self._in_use.dec()
        self._free.release()
