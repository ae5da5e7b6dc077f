"""The real API, except that the answer to POST /api/orders is held back: the order is committed
(the write session commits before the response starts) and the process then waits to be killed,
as an app that dies between its COMMIT and its answer. Run with uvicorn:
`uvicorn tests.edge.commit_then_hang:app`."""

from __future__ import annotations

import asyncio

from starlette.types import Message, Receive, Scope, Send

from wapang.api.main import app as api

HOLD_SECONDS = 120  # far longer than the test waits: the test kills the process first


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http" or (scope["method"], scope["path"]) != ("POST", "/api/orders"):
        await api(scope, receive, send)
        return

    async def send_after_a_hold(message: Message) -> None:
        if message["type"] == "http.response.start":
            await asyncio.sleep(HOLD_SECONDS)
        await send(message)

    await api(scope, receive, send_after_a_hold)
