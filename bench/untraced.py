"""The app without its request telemetry, for the bench's before/after of what request logging
and metrics cost (README "Request logging and metrics").

Exactly the app `wapang serve` runs (`wapang.api.main:create_app`), minus one middleware:
RequestTelemetry, which writes the request's log line and counts `http_requests_total` and
`http_request_duration_seconds` (multiprocess files under PROMETHEUS_MULTIPROC_DIR). Everything
else stays, so the difference is that middleware's cost and nothing more: the request id and
the other response headers (contract section 14.7), the pool metrics of db/sessions.py (two
gauge updates per database session, inside the pool's own bookkeeping), uvicorn and the
workers. Served by `wapang serve --app bench.untraced:app` (a hidden option), so the server,
its logging configuration and its metrics directory are the production ones; no setting of the
app turns its telemetry off.
"""

from __future__ import annotations

from wapang.api.main import create_app
from wapang.api.middleware import RequestTelemetry

app = create_app()
# Starlette builds its middleware stack at the first request: dropped here, it is never built.
app.user_middleware = [
    entry
    for entry in app.user_middleware
    if entry.cls is not RequestTelemetry  # type: ignore[comparison-overlap]
]
