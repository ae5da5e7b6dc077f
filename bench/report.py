"""The console table and the JSON document of a run (bench/results/<stamp>.json)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import goals
from bench.goals import ratio
from bench.seed import Dataset
from bench.wrk import Figures

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Result:
    scenario: str
    label: str
    connections: int
    body_bytes: int
    app: Figures
    ceiling: Figures | None = None
    db_ceiling: Figures | None = None
    storm: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    server: str = "app"  # the process tree that served it (cpu/request is its CPU)
    # Without and with the request telemetry, side by side (bench/measure.py): CPU ms/request.
    telemetry_pairs: list[tuple[float, float]] = field(default_factory=list)
    # The app's share of `compared_with`'s requests/s in each of their alternating rounds
    # (bench/measure.py `alternating`): "db_ceiling", or "alone" (the app without the edge or
    # the storm).
    shares: list[float] = field(default_factory=list)
    compared_with: str = ""

    @property
    def ratio(self) -> float | None:
        """The app's share of its constant ceiling's requests/s."""
        return ratio(self.app.rps, self.ceiling.rps) if self.ceiling else None

    @property
    def db_ratio(self) -> float | None:
        """The app's share of its database ceiling's requests/s (what the goals judge)."""
        if self.db_ceiling is None:
            return None
        return goals.median_share(self.shares, self.app.rps, self.db_ceiling.rps)

    @property
    def cpu_ms_per_request(self) -> float:
        """Milliseconds of the serving processes' CPU per answered request."""
        return cpu_ms_per_request(self.app, self.server)


def cpu_ms_per_request(figures: Figures, server: str) -> float:
    """Milliseconds of CPU of the process tree `server` per request it answered in `figures`."""
    cores = figures.cpu_cores.get(server, 0.0)
    return 1000 * cores / figures.rps if figures.rps else 0.0


def print_result(result: Result) -> None:
    figures = result.app
    print(
        f"   app {figures.rps:8.1f} req/s  p50 {figures.p50_ms:7.2f} ms  "
        f"p99 {figures.p99_ms:7.2f} ms  errors {figures.errors}",
        flush=True,
    )
    print(f"   cpu cores, app run: {_cores(figures)}", flush=True)
    for name, top, share in (
        ("db ceiling", result.db_ceiling, result.db_ratio),
        ("constant ceiling", result.ceiling, result.ratio),
    ):
        if top is not None:
            print(
                f"   {name} {top.rps:8.1f} req/s  p50 {top.p50_ms:7.2f} ms  "
                f"p99 {top.p99_ms:7.2f} ms  errors {top.errors}  ratio {share or 0:.0%}"
                f"  | cpu: {_cores(top)}",
                flush=True,
            )
    if result.shares:
        shown = ", ".join(f"{share:.0%}" for share in result.shares)
        print(f"   share of {result.compared_with} by round: {shown}", flush=True)
    if figures.errors:
        print(f"   errors: {figures.error_detail}", flush=True)
    if result.storm is not None:
        print(f"   storm {result.storm}", flush=True)
    for without, with_it in result.telemetry_pairs:
        print(
            f"   cpu ms/req without -> with telemetry: {without:.3f} -> {with_it:.3f}", flush=True
        )


def _cores(figures: Figures) -> str:
    return ", ".join(f"{name} {cores:.2f}" for name, cores in figures.cpu_cores.items())


def judge(results: list[Result]) -> list[dict[str, Any]]:
    """The goals (bench/goals.py) on this run's figures."""
    runs = {}
    for result in results:
        extra = sum(top.errors for top in (result.ceiling, result.db_ceiling) if top)
        extra += result.storm["errors"] if result.storm else 0
        runs[result.scenario] = goals.Run(
            result.app,
            result.db_ceiling,
            extra,
            result.cpu_ms_per_request,
            tuple(result.telemetry_pairs),
            tuple(result.shares),
        )
    return goals.evaluate(runs)


def cpu_before(path: Path | None) -> dict[str, float]:
    """CPU per request of each scenario in an earlier run's JSON (`--before`), to show beside
    this run's: the figure that moves least with the machine's noise."""
    if path is None:
        return {}
    summary = json.loads(path.read_text())["summary"]
    return {
        name: 1000 * figures["cpu_cores"].get(_server(name), 0.0) / figures["rps"]
        for name, figures in summary.items()
        if figures.get("rps")
    }


def _server(scenario: str) -> str:
    """The process tree whose CPU a scenario's figures count (see `Result.server`)."""
    return "granian" if scenario == goals.ITEMS_GRANIAN else "app"


def print_table(
    results: list[Result], verdicts: list[dict[str, Any]], before: dict[str, float] | None = None
) -> None:
    before = before or {}
    header = (
        f"\n{'scenario':<56} {'conns':>5} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'errors':>6} {'db ceil':>8} {'ratio':>6} {'p50/p99':>13} {'const':>8} {'ratio':>5} "
        f"{'app cpu':>7} {'ms/req':>6} {'before':>6} {'other':>5}"
    )
    print(header)
    print("-" * (len(header) - 1))
    for result in results:
        app, top, db = result.app, result.ceiling, result.db_ceiling
        db_part = (
            f"{db.rps:>8.1f} {result.db_ratio or 0:>6.0%} {f'{db.p50_ms:.1f}/{db.p99_ms:.1f}':>13}"
            if db
            else f"{'':>8} {'':>6} {'':>13}"
        )
        const_part = f"{top.rps:>8.1f} {result.ratio or 0:>5.0%}" if top else f"{'':>8} {'':>5}"
        print(
            f"{result.label:<56} {result.connections:>5} {app.rps:>8.1f} "
            f"{app.p50_ms:>7.2f} {app.p99_ms:>7.2f} {app.errors:>6} {db_part} {const_part} "
            f"{app.cpu_cores.get(result.server, 0):>7.2f} {result.cpu_ms_per_request:>6.2f} "
            f"{_before(before, result.scenario)} {app.cpu_cores.get('other', 0):>5.2f}"
        )
        if result.storm:
            storm = result.storm
            print(
                f"{'  (sign-ins meanwhile)':<56} {'':>5} {storm['rate_per_s']:>8.1f} "
                f"{storm['p50_ms']:>7.1f} {storm['p99_ms']:>7.1f} {storm['errors']:>6}"
            )
    print("\ngoals:")
    for goal in verdicts:
        mark = "PASS" if goal["passed"] else "FAIL"
        print(f"  [{mark}] {goal['goal']}: {goal['measured']}")


def _before(before: dict[str, float], scenario: str) -> str:
    return f"{before[scenario]:>6.2f}" if scenario in before else f"{'-':>6}"


def write_json(
    arguments: argparse.Namespace,
    started: datetime,
    dataset: Dataset,
    env: dict[str, str],
    results: list[Result],
    verdicts: list[dict[str, Any]],
    extra: dict[str, Any],
) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{arguments.stamp}.json"
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, check=False
    ).stdout.strip()
    document = {
        "started": started.isoformat(),
        "label": arguments.label,
        "commit": commit,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_at_end": os.getloadavg(),
        },
        "settings": {
            "duration_s": arguments.duration,
            "warmup_s": arguments.warmup,
            "workers": arguments.workers,
            "wrk_threads": arguments.threads,
            "db_pool_size": env.get("DB_POOL_SIZE", "app default"),
            "storm_rate_per_s": arguments.storm_rate,
            "scale": arguments.scale,
            "fair_ceiling_pool": not arguments.unfair_ceiling_pool,
            "profiled": sorted(arguments.profile),
        },
        "data": dataset.counts,
        "results": [
            {
                **asdict(result),
                "ratio": result.ratio,
                "db_ratio": result.db_ratio,
                "cpu_ms_per_request": result.cpu_ms_per_request,
            }
            for result in results
        ],
        **extra,
        "goals": verdicts,
        "summary": {
            result.scenario: {
                "rps": result.app.rps,
                "p50_ms": result.app.p50_ms,
                "p99_ms": result.app.p99_ms,
                "errors": result.app.errors,
                "ceiling_rps": result.ceiling.rps if result.ceiling else None,
                "ratio": result.ratio,
                "db_ceiling_rps": result.db_ceiling.rps if result.db_ceiling else None,
                "db_ceiling_p50_ms": result.db_ceiling.p50_ms if result.db_ceiling else None,
                "db_ceiling_p99_ms": result.db_ceiling.p99_ms if result.db_ceiling else None,
                "db_ratio": result.db_ratio,
                "cpu_cores": result.app.cpu_cores,
                "median_body_bytes": result.body_bytes,
            }
            for result in results
        },
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return path
