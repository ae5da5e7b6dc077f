"""The API's Prometheus metrics, all in one place (README "Metrics" lists them).

`wapang serve` sets PROMETHEUS_MULTIPROC_DIR (a fresh directory per start) before any worker
imports this module, so prometheus_client keeps every worker's values in files there and
`GET /metrics` sums them: one scrape counts every worker. Without it (the app served in-process
by the tests, or by a bare `uvicorn`), the values are the one process's.

Other modules increment these; none defines metrics of its own:
- `http_requests_total`, `http_request_duration_seconds`: the request middleware, through
  api/telemetry.py (a batch at a time, with the request lines).
- `wapang_db_pool_connections_in_use`, `wapang_db_pool_wait_seconds`: db/sessions.py.
- `wapang_ready`: /metrics itself, on each scrape.
- `wapang_signin_throttled_total`: each sign-in refused by the throttle.
- `wapang_idempotent_replays_total`: each write answered from a stored idempotent response.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

http_requests = Counter(
    "http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
http_request_duration = Histogram(
    "http_request_duration_seconds",
    "Time from the request's arrival to its last response byte, by route template.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
db_pool_in_use = Gauge(
    "wapang_db_pool_connections_in_use",
    "Database connections held by requests, by pool (read, write), summed over live workers.",
    ["pool"],
    multiprocess_mode="livesum",
)
db_pool_wait = Histogram(
    "wapang_db_pool_wait_seconds",
    "Time a request waited for its turn at a database pool (0 when one was free).",
    ["pool"],
    buckets=(0.001, 0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 10),
)
ready = Gauge(
    "wapang_ready",
    "1 when the database answered the last scrape's `SELECT 1` (what /readyz checks), else 0.",
    multiprocess_mode="mostrecent",
)
signin_throttled = Counter(
    "wapang_signin_throttled_total", "Sign-in attempts refused by the throttle (429)."
)
idempotent_replays = Counter(
    "wapang_idempotent_replays_total",
    "Writes answered from the stored response of an earlier request with the same key.",
)

UNMATCHED_ROUTE = "unmatched"  # raw paths would make one series per scanner probe


def observe_requests(answered: Iterable[tuple[str, str, int, float]]) -> None:
    """Counts answered requests, each a (method, route template, status, seconds), and their
    durations: a batch at a time (api/telemetry.py), one increment per series and batch."""
    counts: dict[tuple[str, str, int], int] = {}
    for method, route, status, seconds in answered:
        series = (method, route, status)
        counts[series] = counts.get(series, 0) + 1
        _duration_series(route).observe(seconds)
    for (method, route, status), count in counts.items():
        _count_series(method, route, status).inc(count)


# `labels()` takes a lock and builds a key each time: each series is looked up once.
@lru_cache(maxsize=4096)  # methods x route templates x statuses: a few hundred series
def _count_series(method: str, route: str, status: int) -> Counter:
    return http_requests.labels(method, route, str(status))


@lru_cache(maxsize=512)
def _duration_series(route: str) -> Histogram:
    return http_request_duration.labels(route)


def exposition() -> tuple[bytes, str]:
    """The Prometheus text of every worker (multiprocess mode) or of this process."""
    if values.ValueClass is not values.MutexValue:  # chosen from the environment at import
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def worker_exited(pid: int) -> None:
    """Drops a dead worker's live gauges (its counters stay in the sums)."""
    if values.ValueClass is not values.MutexValue:
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
