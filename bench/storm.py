"""A sign-in storm: POST /api/auth/tokens at a fixed rate for a bounded time, in its own process.

    python -m bench.storm URL CREDENTIALS_JSON --rate 4 --duration 20

Open loop: a sign-in starts every 1/rate seconds whatever the previous ones are doing (at most
`--max-in-flight` at once; a tick beyond that is counted as skipped). Prints one JSON line with
what happened.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import httpx


async def storm(
    url: str, credentials: list[dict[str, str]], rate: float, duration: float, max_in_flight: int
) -> dict[str, object]:
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    skipped = 0
    in_flight: set[asyncio.Task[None]] = set()

    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def sign_in(body: dict[str, str]) -> None:
            started = time.perf_counter()
            try:
                response = await client.post("/api/auth/tokens", json=body)
                key = str(response.status_code)
            except httpx.HTTPError as error:
                key = type(error).__name__
            latencies.append(time.perf_counter() - started)
            statuses[key] = statuses.get(key, 0) + 1

        start = time.perf_counter()
        tick = 0
        while (due := start + tick / rate) < start + duration:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            if len(in_flight) >= max_in_flight:
                skipped += 1
            else:
                task = asyncio.create_task(sign_in(credentials[tick % len(credentials)]))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            tick += 1
        if in_flight:
            await asyncio.wait(in_flight)
        elapsed = time.perf_counter() - start

    latencies.sort()

    def percentile(share: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(share * len(latencies)))] * 1000

    ok = sum(count for status, count in statuses.items() if status.startswith("2"))
    return {
        "sent": len(latencies),
        "ok": ok,
        "errors": len(latencies) - ok + skipped,
        "skipped": skipped,
        "statuses": statuses,
        "rate_per_s": round(len(latencies) / elapsed, 2),
        "p50_ms": round(percentile(0.50), 1),
        "p99_ms": round(percentile(0.99), 1),
        "max_ms": round(latencies[-1] * 1000, 1) if latencies else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("credentials", type=Path)
    parser.add_argument("--rate", type=float, default=4.0)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--max-in-flight", type=int, default=32)
    arguments = parser.parse_args()
    credentials = json.loads(arguments.credentials.read_text())
    result = asyncio.run(
        storm(
            arguments.url,
            credentials,
            arguments.rate,
            arguments.duration,
            arguments.max_in_flight,
        )
    )
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
