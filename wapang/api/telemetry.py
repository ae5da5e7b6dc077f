"""What each answered request leaves behind, its log line and its two series
(`http_requests_total`, `http_request_duration_seconds`), kept by each worker and written a
batch at a time.

Why a batch: served under load on two cores, writing a request's line and metrics as it was
answered cost 70-80 µs of CPU, five times what the same code costs in a quiet loop (it ran
cold between two requests), and took the telemetry to +18% of a users/me request. Kept as a
tuple and written with the requests around it, in one loop that stays warm, they cost a fraction
of that (bench/README.md, "Request logging and metrics"). So with LOG_FORMAT=json (production)
a worker writes them at most FLUSH_SECONDS after the answer, or as soon as MOST_PENDING wait;
with LOG_FORMAT=text (a terminal) each request's at once. A worker that stops writes what it
holds (the app's lifespan, and at exit)."""

from __future__ import annotations

import asyncio
import atexit

from wapang.logs import LogFormat, RequestLine, RequestLog
from wapang.metrics import observe_requests

FLUSH_SECONDS = 0.1
MOST_PENDING = 256


class RequestTelemetryBuffer:
    """The app's, made with it; written at once (as with text) until `start` gives it the log
    format the settings name."""

    def __init__(self) -> None:
        self._log = RequestLog(LogFormat.TEXT)
        self._batched = False
        self._pending: list[RequestLine] = []
        self._scheduled: asyncio.TimerHandle | None = None
        atexit.register(self.flush)

    def start(self, log_format: LogFormat) -> None:
        self._log = RequestLog(log_format)
        self._batched = log_format is LogFormat.JSON

    def record(self, line: RequestLine) -> None:
        self._pending.append(line)
        if not self._batched or len(self._pending) >= MOST_PENDING:
            self.flush()
        elif self._scheduled is None:
            self._flush_soon()

    def flush(self) -> None:
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        lines, self._pending = self._pending, []
        observe_requests((line.method, line.route, line.status, line.seconds) for line in lines)
        self._log.write(lines)

    def _flush_soon(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop to come back later: now
            self.flush()
            return
        self._scheduled = loop.call_later(FLUSH_SECONDS, self.flush)
