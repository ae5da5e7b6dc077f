"""wrk, the load generator: the request files bench/replay.lua replays, a run with its warm-up,
CPU sample and optional profile, and wrk's figures."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench import cpu, profile
from harness.processes import LOOPBACK

LUA = Path(__file__).resolve().parent / "replay.lua"


@dataclass
class Figures:
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    error_detail: dict[str, int]
    cpu_cores: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_wrk(cls, raw: dict[str, Any]) -> Figures:
        detail = {key: raw[key] for key in ("connect", "read", "write", "timeout") if raw[key]}
        detail.update({f"http_{status}": count for status, count in raw["statuses"].items()})
        return cls(
            requests=raw["requests"],
            rps=round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
            p50_ms=round(raw["p50_us"] / 1000, 2),
            p90_ms=round(raw["p90_us"] / 1000, 2),
            p99_ms=round(raw["p99_us"] / 1000, 2),
            max_ms=round(raw["max_us"] / 1000, 2),
            errors=sum(detail.values()),
            error_detail=detail,
        )

    @classmethod
    def median(cls, runs: list[Figures]) -> Figures:
        """Several runs of one side as one: each rate, latency and CPU figure their median (the
        worst max), the requests and errors their sums."""
        if len(runs) == 1:
            return runs[0]
        detail: dict[str, int] = {}
        for run in runs:
            for key, count in run.error_detail.items():
                detail[key] = detail.get(key, 0) + count
        return cls(
            requests=sum(run.requests for run in runs),
            rps=round(statistics.median(run.rps for run in runs), 1),
            p50_ms=round(statistics.median(run.p50_ms for run in runs), 2),
            p90_ms=round(statistics.median(run.p90_ms for run in runs), 2),
            p99_ms=round(statistics.median(run.p99_ms for run in runs), 2),
            max_ms=max(run.max_ms for run in runs),
            errors=sum(run.errors for run in runs),
            error_detail=detail,
            cpu_cores={
                name: round(statistics.median(run.cpu_cores.get(name, 0.0) for run in runs), 2)
                for name in runs[0].cpu_cores
            },
        )


def run_wrk(
    url: str,
    requests_file: Path,
    connections: int,
    seconds: int,
    threads: int,
) -> dict[str, Any]:
    command = [
        "wrk",
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        url,
        "--",
        str(requests_file),
    ]
    finished = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
        env={**os.environ, "BENCH_CONNECT": LOOPBACK},  # a server name in the URL: replay.lua
    )
    for line in finished.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            parsed: dict[str, Any] = json.loads(line.removeprefix("BENCH_RESULT "))
            return parsed
    raise RuntimeError(f"no result from wrk:\n{finished.stdout}\n{finished.stderr}")


def requests_file(
    path: Path, requests: list[tuple[str, str, str, str]], rewrite: Callable[[str], str]
) -> Path:
    lines = []
    for method, request_path, token, body in requests:
        lines.append("\t".join((method, rewrite(request_path), token, body)))
    path.write_text("\n".join(lines) + "\n")
    return path


def load(
    arguments: argparse.Namespace,
    url: str,
    requests_file: Path,
    connections: int,
    roots: dict[str, int],
    profile_to: Path | None = None,
) -> Figures:
    if arguments.warmup > 0:
        run_wrk(url, requests_file, connections, arguments.warmup, arguments.threads)
    spy = None
    if profile_to is not None:
        spy = profile.start(roots["app"], arguments.duration, profile_to)
    before = cpu.sample(roots)
    raw = run_wrk(url, requests_file, connections, arguments.duration, arguments.threads)
    figures = Figures.from_wrk(raw)
    figures.cpu_cores = cpu.cores_used(before, cpu.sample(roots))
    if spy is not None:
        spy.wait(timeout=60)
    return figures


def load_together(
    arguments: argparse.Namespace,
    urls: dict[str, str],
    requests_file: Path,
    connections: int,
    roots: dict[str, int],
) -> dict[str, Figures]:
    """One wrk per server at the same time, `connections` each, over one CPU sample: both
    servers meet the same machine at every moment, so their CPU per request compares without
    the drift that separates two runs taken one after the other."""

    def run_all(seconds: int) -> list[dict[str, Any]]:
        with ThreadPoolExecutor(len(urls)) as pool:
            runs = [
                pool.submit(run_wrk, url, requests_file, connections, seconds, arguments.threads)
                for url in urls.values()
            ]
            return [run.result() for run in runs]

    if arguments.warmup > 0:
        run_all(arguments.warmup)
    before = cpu.sample(roots)
    raws = run_all(arguments.duration)
    cores = cpu.cores_used(before, cpu.sample(roots))
    return {
        side: replace(Figures.from_wrk(raw), cpu_cores=cores)
        for side, raw in zip(urls, raws, strict=True)
    }
