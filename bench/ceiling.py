"""The ceiling: a bare FastAPI app that answers each scenario with a constant JSON body.

One route per scenario (`/ceiling/<name>`, same method, same status), whose body is the very
bytes the real endpoint returned in the pre-flight request, so both send the same size. No
database, no validation, no serialisation: what is left is uvicorn + Starlette/FastAPI routing
+ HTTP, the most the API could reach on this machine with these server settings.

Served the way `wapang serve` runs the app (see `SERVER_OPTIONS` and `wapang/cli.py`):
`python -m bench.ceiling --port P --workers 2`, with BENCH_CEILING_BODIES naming a JSON file
`{name: {"method": ..., "status": ..., "body": ...}}`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Response

# Keep in step with `wapang serve` (wapang/cli.py): the ceiling must run under the same settings.
SERVER_OPTIONS: dict[str, Any] = {
    "host": "127.0.0.1",
    "proxy_headers": True,
    "forwarded_allow_ips": "127.0.0.1",
}


def _route(body: bytes, status: int) -> Any:
    async def constant() -> Response:
        return Response(content=body, status_code=status, media_type="application/json")

    return constant


def create_app(bodies: dict[str, dict[str, Any]]) -> FastAPI:
    ceiling = FastAPI(title="wapang bench ceiling", redirect_slashes=False)
    for name, spec in bodies.items():
        ceiling.add_api_route(
            f"/ceiling/{name}",
            _route(spec["body"].encode(), spec["status"]),
            methods=[spec["method"]],
        )

    @ceiling.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return ceiling


def _load() -> FastAPI:
    path = os.environ.get("BENCH_CEILING_BODIES")
    bodies = json.loads(Path(path).read_text()) if path else {}
    return create_app(bodies)


app = _load()


def serve(app_path: str, description: str | None) -> None:
    """`--port P --workers N`: uvicorn with the app's server settings."""
    import uvicorn

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    uvicorn.run(app_path, port=arguments.port, workers=arguments.workers, **SERVER_OPTIONS)


def main() -> None:
    serve("bench.ceiling:app", __doc__)


if __name__ == "__main__":
    main()
