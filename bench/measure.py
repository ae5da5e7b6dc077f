"""Each scenario measured: the app, its constant ceiling and its database ceiling under the
same load (and the sign-in storm where the scenario asks for it).

A goal that compares two runs (the app with its database ceiling, through the edge or during
the storm with the app alone) measures both sides in ROUNDS alternating rounds of a third of
the run's length and reads the median of the rounds' shares: the machine's speed drifts by 25-50%
over minutes (bench/README.md, "Paired rounds"), so two runs minutes apart compare the
machine's moments as much as the servers."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from bench import cpu, profile
from bench.report import RESULTS, Result, cpu_ms_per_request, print_result
from bench.scenarios import Scenario
from bench.wrk import Figures, load, load_together, requests_file
from harness.processes import Service

# Rounds per side of a compared pair. One 6 s round's share of the same code moved between 43%
# and 76% on this machine (bench/README.md, "Paired rounds"): the median of five outvotes two
# disturbed rounds.
ROUNDS = 5

# A side of a comparison: measures once, given the run's settings and the round's number.
Side = Callable[[argparse.Namespace, int], Figures]


@contextmanager
def sign_in_storm(arguments: argparse.Namespace, url: str, work: Path) -> Iterator[list[Any]]:
    """Sign-ins at --storm-rate per second during the block; their figures are appended to
    the yielded list when it ends."""
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
    figures: list[Any] = []
    try:
        yield figures
    finally:
        out, _ = process.communicate(timeout=120)
        figures.append(json.loads(out.strip().splitlines()[-1]))


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
        body_bytes = bodies.get(scenario.ceiling, {}).get("bytes", 0)
        result = _measure_scenario(arguments, scenario, body_bytes, targets, work, roots)
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
        results.append(result)
        print_result(result)
        stacks = _profile_path(arguments, scenario)
        if scenario.name in arguments.profile and stacks.exists():  # the telemetry pairs: none
            result.notes.append(f"profiled: {stacks.name}")
            print(profile.summarise(stacks), flush=True)
    return results


def _measure_scenario(
    arguments: argparse.Namespace,
    scenario: Scenario,
    body_bytes: int,
    targets: dict[str, Service],
    work: Path,
    roots: dict[str, int],
) -> Result:
    """The scenario's figures: paired with what its goal compares it with, or one run."""
    app_file = requests_file(work / f"{scenario.name}.app", scenario.requests, str)
    app_url = targets["app"].client_url
    result = partial(Result, scenario.name, scenario.label, scenario.connections, body_bytes)

    def side(url: str, requests: Path = app_file, profiled: bool = False) -> Side:
        def run(settings: argparse.Namespace, number: int) -> Figures:
            profile_to = None
            if profiled and number == 0 and scenario.name in arguments.profile:
                profile_to = _profile_path(arguments, scenario)
            return load(settings, url, requests, scenario.connections, roots, profile_to)

        return run

    if scenario.target == "untraced":
        figures, pairs = telemetry_pairs(arguments, targets, app_file, scenario, roots)
        return result(figures, server="untraced", telemetry_pairs=pairs)
    if scenario.storm:
        storms: list[dict[str, Any]] = []

        def during_storm(settings: argparse.Namespace, number: int) -> Figures:
            with sign_in_storm(settings, targets["app"].url, work) as storm:
                figures = side(app_url, profiled=True)(settings, number)
            storms.extend(storm)
            return figures

        rounds = alternating(arguments, {"alone": side(app_url), "app": during_storm})
        return result(**_paired(rounds, base="alone"), storm=merge_storms(storms))
    if scenario.target == "edge":
        edge = side(targets["edge"].client_url, profiled=True)
        rounds = alternating(arguments, {"alone": side(app_url), "app": edge})
        return result(**_paired(rounds, base="alone"))
    if scenario.shape is not None or scenario.order_ceiling:
        db_file = requests_file(
            work / f"{scenario.name}.db", scenario.requests, _prefixed(f"/{scenario.name}")
        )
        db_ceiling = side(targets["db_ceiling"].url, db_file)
        rounds = alternating(
            arguments, {"app": side(app_url, profiled=True), "db_ceiling": db_ceiling}
        )
        return result(
            **_paired(rounds, base="db_ceiling"),
            db_ceiling=Figures.median(rounds["db_ceiling"]),
        )
    server = scenario.target if scenario.target == "granian" else "app"
    return result(
        side(targets[scenario.target].client_url, profiled=True)(arguments, 0), server=server
    )


def alternating(arguments: argparse.Namespace, sides: dict[str, Side]) -> dict[str, list[Figures]]:
    """Each side ROUNDS times at a third of the run's length, taking turns at going first (ABBA...):
    whatever favours the later run of a round (a warmer database, the earlier run's sockets
    still closing) favours neither side, and a slow moment of the machine falls on both."""
    short = _round_length(arguments)
    measured: dict[str, list[Figures]] = {name: [] for name in sides}
    names = list(sides)
    for number in range(ROUNDS):
        for name in names if number % 2 == 0 else names[::-1]:
            measured[name].append(sides[name](short, number))
    return measured


def _paired(rounds: dict[str, list[Figures]], base: str) -> dict[str, Any]:
    """The app's figures as the median of its rounds, and its share of `base` in each."""
    return {
        "app": Figures.median(rounds["app"]),
        "shares": [
            ours.rps / theirs.rps if theirs.rps else 0.0
            for ours, theirs in zip(rounds["app"], rounds[base], strict=True)
        ],
        "compared_with": base,
    }


def merge_storms(storms: list[dict[str, Any]]) -> dict[str, Any]:
    """The sign-in storms of several rounds as one: counts summed, rate and latencies their
    median, the worst max."""
    if len(storms) == 1:
        return storms[0]
    statuses: dict[str, int] = {}
    for storm in storms:
        for status, count in storm["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    return {
        **{key: sum(storm[key] for storm in storms) for key in ("sent", "ok", "errors", "skipped")},
        "statuses": statuses,
        **{
            key: statistics.median(storm[key] for storm in storms)
            for key in ("rate_per_s", "p50_ms", "p99_ms")
        },
        "max_ms": max(storm["max_ms"] for storm in storms),
    }


def telemetry_pairs(
    arguments: argparse.Namespace,
    targets: dict[str, Service],
    requests: Path,
    scenario: Scenario,
    roots: dict[str, int],
) -> tuple[Figures, list[tuple[float, float]]]:
    """The app's CPU per request without and with its request telemetry, both loaded at the
    same time with half the connections each (bench/wrk.py `load_together`), ROUNDS times at a
    third of the run's length: one pair shares every moment of the machine, where runs one after the
    other read +7% to +27% for the same code. The goal reads the pairs' median
    (bench/goals.py); the runs without are the scenario's figures."""
    short = _round_length(arguments)
    urls = {"untraced": targets["untraced"].client_url, "app": targets["app"].client_url}
    rounds = [
        load_together(short, urls, requests, max(scenario.connections // 2, 1), roots)
        for _ in range(ROUNDS)
    ]
    pairs = [
        (cpu_ms_per_request(run["untraced"], "untraced"), cpu_ms_per_request(run["app"], "app"))
        for run in rounds
    ]
    return Figures.median([run["untraced"] for run in rounds]), pairs


def _round_length(arguments: argparse.Namespace) -> argparse.Namespace:
    """A round: a third of the run's measured seconds (4 s by default) after a 2 s warm-up."""
    return argparse.Namespace(
        **{
            **vars(arguments),
            "warmup": min(arguments.warmup, 2),
            "duration": max(arguments.duration // 3, 3),
        }
    )


def _profile_path(arguments: argparse.Namespace, scenario: Scenario) -> Path:
    return RESULTS / f"{arguments.stamp}-{scenario.name}.stacks"


def _constant_path(name: str) -> Callable[[str], str]:
    """Every request of a scenario goes to one route of the constant ceiling."""
    return lambda _: f"/ceiling/{name}"


def _prefixed(prefix: str) -> Callable[[str], str]:
    """The database ceiling serves each scenario's paths under the scenario's name."""
    return lambda path: f"{prefix}{path}"
