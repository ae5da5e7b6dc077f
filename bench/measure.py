"""Each scenario measured: the app, its constant ceiling and its database ceiling under the
same load (and the sign-in storm where the scenario asks for it)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import cpu, profile
from bench.report import RESULTS, Result, cpu_ms_per_request, print_result
from bench.scenarios import Scenario
from bench.wrk import Figures, load, requests_file
from harness.processes import Service


def start_storm(arguments: argparse.Namespace, url: str, work: Path) -> subprocess.Popen[str]:
    storm_seconds = arguments.warmup + arguments.duration + 3
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.storm",
            url,
            str(work / "credentials.json"),
            "--rate",
            str(arguments.storm_rate),
            "--duration",
            str(storm_seconds),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.5)  # the storm is under way before the warm-up starts
    return process


def measure(
    arguments: argparse.Namespace,
    scenarios: list[Scenario],
    bodies: dict[str, dict[str, Any]],
    targets: dict[str, Service],
    work: Path,
) -> list[Result]:
    roots = {name: server.process.pid for name, server in targets.items()}
    roots["bench"] = os.getpid()
    database = cpu.mariadb_pid()
    if database is not None:
        roots["mariadb"] = database
    results: list[Result] = []
    ceilings: dict[str, Figures] = {}
    for scenario in scenarios:
        print(f"== {scenario.name}: {scenario.connections} connections", flush=True)
        app_file = requests_file(work / f"{scenario.name}.app", scenario.requests, str)
        storm_process = None
        if scenario.storm:
            storm_process = start_storm(arguments, targets["app"].url, work)
        try:
            profile_to = None
            if scenario.name in arguments.profile:
                profile_to = RESULTS / f"{arguments.stamp}-{scenario.name}.stacks"
            url = targets[scenario.target].client_url
            pairs: list[tuple[float, float]] = []
            if scenario.target == "untraced":
                figures, pairs = telemetry_pairs(arguments, targets, app_file, scenario, roots)
            else:
                figures = load(arguments, url, app_file, scenario.connections, roots, profile_to)
        finally:
            storm = None
            if storm_process is not None:
                out, _ = storm_process.communicate(timeout=120)
                storm = json.loads(out.strip().splitlines()[-1])
        result = Result(
            scenario=scenario.name,
            label=scenario.label,
            connections=scenario.connections,
            body_bytes=bodies.get(scenario.ceiling, {}).get("bytes", 0),
            app=figures,
            storm=storm,
            server=scenario.target if scenario.target in ("granian", "untraced") else "app",
            telemetry_pairs=pairs,
        )
        if scenario.ceiling and scenario.ceiling not in ceilings:
            ceiling_file = requests_file(
                work / f"{scenario.name}.ceiling",
                scenario.requests,
                _constant_path(scenario.ceiling),
            )
            ceilings[scenario.ceiling] = load(
                arguments, targets["ceiling"].url, ceiling_file, scenario.connections, roots
            )
        if scenario.ceiling:
            result.ceiling = ceilings[scenario.ceiling]
        if scenario.shape is not None or scenario.order_ceiling:
            db_file = requests_file(
                work / f"{scenario.name}.db",
                scenario.requests,
                _prefixed(f"/{scenario.name}"),
            )
            result.db_ceiling = load(
                arguments, targets["db_ceiling"].url, db_file, scenario.connections, roots
            )
        results.append(result)
        print_result(result)
        if profile_to is not None:
            result.notes.append(f"profiled: {profile_to.name}")
            print(profile.summarise(profile_to), flush=True)
    return results


TELEMETRY_ROUNDS = 3


def telemetry_pairs(
    arguments: argparse.Namespace,
    targets: dict[str, Service],
    requests: Path,
    scenario: Scenario,
    roots: dict[str, int],
) -> tuple[Figures, list[tuple[float, float]]]:
    """The app's CPU per request without and with its request telemetry, back to back,
    TELEMETRY_ROUNDS times (half-length runs): each pair shares its half minute's machine load,
    and the goal reads their median (bench/goals.py). The first run without is the
    scenario's figures."""
    half = argparse.Namespace(
        **{
            **vars(arguments),
            "warmup": min(arguments.warmup, 2),
            "duration": max(arguments.duration // 2, 3),
        }
    )
    rounds: list[dict[str, Figures]] = []
    for round_number in range(TELEMETRY_ROUNDS):
        # Each side first in turn (ABBA...): whatever favours the second run of a pair (a
        # warmer database, the first run's sockets still closing) favours neither side.
        order = ("untraced", "app") if round_number % 2 == 0 else ("app", "untraced")
        rounds.append(
            {
                side: load(half, targets[side].client_url, requests, scenario.connections, roots)
                for side in order
            }
        )
    pairs = [
        (cpu_ms_per_request(run["untraced"], "untraced"), cpu_ms_per_request(run["app"], "app"))
        for run in rounds
    ]
    return rounds[0]["untraced"], pairs


def _constant_path(name: str) -> Callable[[str], str]:
    """Every request of a scenario goes to one route of the constant ceiling."""
    return lambda _: f"/ceiling/{name}"


def _prefixed(prefix: str) -> Callable[[str], str]:
    """The database ceiling serves each scenario's paths under the scenario's name."""
    return lambda path: f"{prefix}{path}"
