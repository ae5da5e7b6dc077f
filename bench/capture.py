"""The SQL the app really sends: each request run through the app in this process, with every
statement and its parameters recorded as the driver received them.

    python -m bench.capture REQUESTS_JSON OUT_JSON     (with the app's environment)

REQUESTS_JSON is `{scenario: [[method, path, token, body], ...]}`; OUT_JSON gets, per scenario,
`[{"path", "token", "status", "json", "statements": [[sql, params], ...]}, ...]`. The app is
`wapang.api.main:app` with its lifespan, served through httpx's ASGI transport: the same code,
settings and database as the servers under load, only without a socket.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.engine import Engine

from wapang.db.statements import statement_listeners

_recorded: list[list[Any]] = []


def _record(
    _connection: Any,
    _cursor: Any,
    statement: str,
    parameters: Any,
    _context: Any,
    _executemany: bool,
) -> None:
    _recorded.append([statement, list(parameters or ())])


def _record_read(statement: str, parameters: Sequence[Any]) -> None:
    _recorded.append([statement, list(parameters)])


async def capture(requests: dict[str, list[list[str]]]) -> dict[str, list[dict[str, Any]]]:
    from wapang.api.main import app

    event.listen(Engine, "before_cursor_execute", _record)  # the write sessions
    statement_listeners.append(_record_read)  # statements at the driver (db/statements.py)
    captured: dict[str, list[dict[str, Any]]] = {}
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
    ):
        for scenario, listed in requests.items():
            captured[scenario] = []
            for method, path, token, body in listed:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                if body:
                    headers["Content-Type"] = "application/json"
                _recorded.clear()
                response = await client.request(method, path, headers=headers, content=body or None)
                captured[scenario].append(
                    {
                        "path": path,
                        "token": token,
                        "status": response.status_code,
                        "json": response.json(),
                        "statements": list(_recorded),
                    }
                )
    return captured


def main() -> None:
    requests = json.loads(Path(sys.argv[1]).read_text())
    result = asyncio.run(capture(requests))
    Path(sys.argv[2]).write_text(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
