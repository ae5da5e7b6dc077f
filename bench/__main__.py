"""`uv run python -m bench`: seed MariaDB, start the app and its ceilings, load them, report.

See bench/README.md for what is measured and how to read the figures. The steps live in
bench/scenarios.py (what is sent), bench/preflight.py (checks before the load), bench/wrk.py
(the load), bench/measure.py (each scenario against its ceilings), bench/report.py (table, JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import cpu, edge, preflight, profile, report, scenarios, seed, servers
from bench.measure import measure
from bench.report import RESULTS, Result
from bench.seed import Admin
from harness.apps import clean_env
from harness.processes import Service

SCALE_ITEMS = 1_000_000


def main() -> int:
    arguments = _arguments()
    rng = random.Random(arguments.seed)
    admin = Admin(password=os.environ.get("BENCH_MYSQL_ROOT_PASSWORD", ""))
    started = datetime.now(UTC)
    RESULTS.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="wapang-bench-"))
    work.chmod(0o755)  # nginx workers run as nobody when the bench runs as root
    running: list[Service] = []
    try:
        print(f"== seeding {seed.DATABASE} on {admin.host}:{admin.port}", flush=True)
        t0 = time.monotonic()
        password = seed.create_database_and_user(admin)
        env = _app_env(admin, password, arguments.pool_size)
        servers.migrate(env, work / "migrate.log")
        dataset = seed.seed(admin, rng)
        print(f"   {dataset.counts} in {time.monotonic() - t0:.1f}s", flush=True)

        print(f"== app: wapang serve --workers {arguments.workers} (ENV=prod, MariaDB)", flush=True)
        app = servers.start_app(env, arguments.workers, work / "app.log")
        running.append(app)
        app.wait_ready()
        credentials = [
            {"email": email, "password": seed.PASSWORD} for email in dataset.sign_in_emails
        ]
        tokens = _sign_in(app.url, credentials)
        selected = scenarios.selected(
            arguments, scenarios.catalogue(dataset, tokens, credentials, rng)
        )
        bodies, answers = preflight.sample(app.url, selected)
        plans = preflight.plans(env, selected, answers, work)

        print(f"== ceilings: bare FastAPI and bare ASGI + asyncmy, {arguments.workers} workers")
        bodies_file = work / "ceiling-bodies.json"
        bodies_file.write_text(json.dumps(bodies))
        ceiling_env = dict(os.environ, BENCH_CEILING_BODIES=str(bodies_file))
        ceiling = servers.start_ceiling(ceiling_env, arguments.workers, work / "ceiling.log")
        running.append(ceiling)
        plans_file = work / "db-ceiling-plans.json"
        plans_file.write_text(json.dumps(plans))
        db_env = dict(env, BENCH_DBCEILING_PLANS=str(plans_file))
        if arguments.unfair_ceiling_pool:
            db_env["BENCH_DBCEILING_FAIR"] = "0"
        db_ceiling = servers.start_db_ceiling(db_env, arguments.workers, work / "db-ceiling.log")
        running.append(db_ceiling)
        ceiling.wait_ready()
        db_ceiling.wait_ready()
        preflight.check_db_ceiling(db_ceiling.url, answers)
        targets = {"app": app, "ceiling": ceiling, "db_ceiling": db_ceiling}
        if any(scenario.target == "edge" for scenario in selected):
            targets["edge"] = edge.start_edge(work, app.port)
            running.append(targets["edge"])
            targets["edge"].wait_ready()
        if any(scenario.target == "untraced" for scenario in selected):
            targets["untraced"] = servers.start_app_untraced(
                env, arguments.workers, work / "app-untraced.log"
            )
            running.append(targets["untraced"])
            targets["untraced"].wait_ready()
            preflight.check_untraced(app.url, targets["untraced"].url, selected)
        if any(scenario.target == "granian" for scenario in selected):
            targets["granian"] = servers.start_app_granian(
                env, arguments.workers, work / "app-granian.log"
            )
            running.append(targets["granian"])
            targets["granian"].wait_ready()

        (work / "credentials.json").write_text(json.dumps(credentials))
        explains = {"10k": preflight.explain(admin, plans, selected)}
        results = measure(arguments, selected, bodies, targets, work)
        memory = cpu.rss_mib(app.process.pid)
        print(f"== app processes' RSS after the run (MiB): {memory}", flush=True)
        if arguments.scale:
            results += _scale(arguments, admin, rng, plans, targets, work, explains)
        verdicts = report.judge(results)
        report.print_table(results, verdicts, report.cpu_before(arguments.before))
        path = report.write_json(
            arguments, started, dataset, env, results, verdicts, {"rss_mib": memory, **explains}
        )
        print(
            f"\nresults: {path.relative_to(RESULTS.parent.parent)}  ({time.monotonic() - t0:.0f}s)"
        )
        return 0
    except Exception:
        for server in running:
            print(f"--- {server.name} log tail:\n{server.tail()}", file=sys.stderr)
        raise
    finally:
        for server in reversed(running):
            server.stop(timeout=15)
        seed.drop_database_and_user(admin)
        shutil.rmtree(work, ignore_errors=True)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--duration", type=int, default=12, help="seconds measured per run")
    parser.add_argument("--warmup", type=int, default=4, help="seconds of warm-up per run")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers of both servers")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--pool-size", type=int, help="DB_POOL_SIZE (default: the app's)")
    parser.add_argument("--storm-rate", type=float, default=4.0, help="sign-ins per second")
    parser.add_argument("--only", help="comma-separated scenario names")
    parser.add_argument("--label", default="", help="a note stored with the results")
    parser.add_argument(
        "--before",
        type=Path,
        help="an earlier run's bench/results/*.json: its CPU per request shown beside this run's",
    )
    parser.add_argument("--seed", type=int, default=5, help="random seed of the data")
    parser.add_argument(
        "--profile",
        default="",
        help="comma-separated scenario names to profile with py-spy (see bench/profile.py)",
    )
    parser.add_argument(
        "--scale",
        action="store_true",
        help="after the run, grow the data to 1,000,000 items and measure the items search "
        "and a store's items again (adds about 3 minutes)",
    )
    parser.add_argument(
        "--unfair-ceiling-pool",
        action="store_true",
        help="the database ceiling without its FIFO semaphore: asyncmy's pool alone",
    )
    arguments = parser.parse_args()
    arguments.profile = {name for name in arguments.profile.split(",") if name}
    if arguments.profile and not profile.available():
        parser.error("--profile needs py-spy: uv sync (it is a development dependency)")
    arguments.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return arguments


def _app_env(admin: Admin, password: str, pool_size: int | None) -> dict[str, str]:
    """Production settings (ENV=prod validates them), with the bench's own database user."""
    env = clean_env(
        ENV="prod",
        DB_DIALECT="mysql",
        DB_HOST=admin.host,
        DB_PORT=str(admin.port),
        DB_USER=seed.DB_USER,
        DB_PASSWORD=password,
        DB_DATABASE=seed.DATABASE,
        ACCESS_TOKEN_SECRET=secrets.token_urlsafe(48),
        REFRESH_TOKEN_SECRET=secrets.token_urlsafe(48),
    )
    if pool_size is not None:
        env["DB_POOL_SIZE"] = str(pool_size)
    return env


def _sign_in(url: str, credentials: list[dict[str, str]]) -> list[str]:
    tokens = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for body in credentials:
            response = client.post("/api/auth/tokens", json=body)
            response.raise_for_status()
            tokens.append(response.json()["access_token"])
    return tokens


def _scale(
    arguments: argparse.Namespace,
    admin: Admin,
    rng: random.Random,
    plans: dict[str, dict[str, Any]],
    targets: dict[str, Service],
    work: Path,
    explains: dict[str, Any],
) -> list[Result]:
    """The items search and a store's items again at SCALE_ITEMS items, same distribution."""
    print(f"== scale: growing to {SCALE_ITEMS:,} items", flush=True)
    t0 = time.monotonic()
    grown = seed.grow(admin, rng, SCALE_ITEMS)
    print(f"   {grown.items:,} items in {time.monotonic() - t0:.0f}s", flush=True)
    grown_scenarios = scenarios.scaled(grown)
    explains["1m"] = preflight.explain(admin, plans, grown_scenarios)
    preflight.sample(targets["app"].url, grown_scenarios)
    return measure(arguments, grown_scenarios, {}, targets, work)


if __name__ == "__main__":
    sys.exit(main())
