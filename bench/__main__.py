"""`uv run python -m bench`: seed MariaDB, start the app and its ceiling, load them, report.

See bench/README.md for what is measured and how to read the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import cpu, servers
from bench import profile as profiling
from bench import seed as seeding
from bench.seed import Admin, Dataset

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
LUA = BENCH / "replay.lua"

ITEMS, ITEMS_STORM, USERS_ME, ORDERS = (
    "items_filtered",
    "items_filtered_storm",
    "users_me",
    "orders",
)


@dataclass
class Scenario:
    name: str
    label: str
    requests: list[tuple[str, str, str, str]]  # method, path, token, body
    connections: int = 64
    storm: bool = False
    ceiling: str = ""  # the ceiling route it is compared with; its own by default
    preflight: int = 3  # requests sent once before the load to check them and size the ceiling

    def __post_init__(self) -> None:
        self.ceiling = self.ceiling or self.name


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


@dataclass
class Result:
    scenario: str
    label: str
    connections: int
    body_bytes: int
    app: Figures
    ceiling: Figures | None = None
    ratio: float | None = None
    storm: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)


def main() -> int:
    arguments = _arguments()
    rng = random.Random(arguments.seed)
    admin = Admin(password=os.environ.get("BENCH_MYSQL_ROOT_PASSWORD", ""))
    started = datetime.now(UTC)
    RESULTS.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="wapang-bench-"))
    app = ceiling = None
    try:
        print(f"== seeding {seeding.DATABASE} on {admin.host}:{admin.port}", flush=True)
        t0 = time.monotonic()
        password = seeding.create_database_and_user(admin)
        env = _app_env(admin, password, arguments.pool_size)
        servers.migrate(env, work / "migrate.log")
        dataset = seeding.seed(admin, rng)
        print(f"   {dataset.counts} in {time.monotonic() - t0:.1f}s", flush=True)

        print(f"== app: wapang serve --workers {arguments.workers} (ENV=prod, MariaDB)", flush=True)
        app = servers.start_app(env, arguments.workers, work / "app.log")
        app.wait_ready()
        credentials = [
            {"email": email, "password": seeding.PASSWORD} for email in dataset.sign_in_emails
        ]
        tokens = _sign_in(app.url, credentials)
        scenarios = _scenarios(dataset, tokens, credentials, rng)
        if arguments.only:
            wanted = set(arguments.only.split(","))
            scenarios = [s for s in scenarios if s.name in wanted or s.ceiling in wanted]
        bodies = _preflight(app.url, scenarios)

        print(f"== ceiling: bare FastAPI, uvicorn --workers {arguments.workers}", flush=True)
        bodies_file = work / "ceiling-bodies.json"
        bodies_file.write_text(json.dumps(bodies))
        ceiling_env = dict(os.environ, BENCH_CEILING_BODIES=str(bodies_file))
        ceiling = servers.start_ceiling(ceiling_env, arguments.workers, work / "ceiling.log")
        ceiling.wait_ready()

        (work / "credentials.json").write_text(json.dumps(credentials))
        results = _measure(arguments, scenarios, bodies, app, ceiling, work)
        goals = _goals(results)
        _print_table(results, goals)
        path = _write_json(arguments, started, dataset, env, results, goals)
        print(f"\nresults: {path.relative_to(BENCH.parent)}  ({time.monotonic() - t0:.0f}s)")
        return 0
    except Exception:
        for server in (app, ceiling):
            if server is not None:
                print(f"--- {server.name} log tail:\n{server.tail()}", file=sys.stderr)
        raise
    finally:
        for server in (ceiling, app):
            if server is not None:
                server.stop()
        seeding.drop_database_and_user(admin)
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
    parser.add_argument("--seed", type=int, default=5, help="random seed of the data")
    parser.add_argument(
        "--profile",
        default="",
        help="comma-separated scenario names to profile with py-spy (see bench/profile.py)",
    )
    arguments = parser.parse_args()
    arguments.profile = {name for name in arguments.profile.split(",") if name}
    if arguments.profile and not profiling.available():
        parser.error("--profile needs py-spy: uv sync (it is a development dependency)")
    arguments.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return arguments


def _app_env(admin: Admin, password: str, pool_size: int | None) -> dict[str, str]:
    """Production settings (ENV=prod validates them), with the bench's own database user."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DB_", "ACCESS_TOKEN", "REFRESH_TOKEN", "SHORT_", "LONG_"))
    }
    env.update(
        ENV="prod",
        DB_DIALECT="mysql",
        DB_HOST=admin.host,
        DB_PORT=str(admin.port),
        DB_USER=seeding.DB_USER,
        DB_PASSWORD=password,
        DB_DATABASE=seeding.DATABASE,
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


def _scenarios(
    data: Dataset, tokens: list[str], credentials: list[dict[str, str]], rng: random.Random
) -> list[Scenario]:
    items = [
        ("GET", f"/api/items?min_price={low}&max_price={high}&in_stock=true", "", "")
        for low, high in data.price_windows
    ]
    orders = []
    for number in range(256):
        first, second = rng.sample(data.order_item_ids, 2)
        body = {
            "items": [
                {"item_id": first, "quantity": 1},
                {"item_id": second, "quantity": rng.randrange(1, 3)},
            ]
        }
        orders.append(("POST", "/api/orders", tokens[number % len(tokens)], json.dumps(body)))
    return [
        Scenario(ITEMS, "GET /api/items?min_price&max_price&in_stock (20 of 10k)", items),
        Scenario(
            ITEMS_STORM,
            "  same, during sign-ins at 4/s",
            items,
            storm=True,
            ceiling=ITEMS,
        ),
        Scenario(
            "store_items",
            "GET /api/stores/{id}/items (100 items)",
            [("GET", f"/api/stores/{store}/items", "", "") for store in data.store_ids],
        ),
        Scenario(
            "item_reviews",
            "GET /api/items/{id}/reviews (20 reviews)",
            [("GET", f"/api/items/{item}/reviews", "", "") for item in data.popular_item_ids],
        ),
        Scenario(
            USERS_ME,
            "GET /api/users/me (authenticated)",
            [("GET", "/api/users/me", token, "") for token in tokens],
        ),
        Scenario(
            ORDERS, "POST /api/orders (2 lines, 16 conns)", orders, connections=16, preflight=1
        ),
        Scenario(
            "sign_in",
            "POST /api/auth/tokens (argon2id)",
            [("POST", "/api/auth/tokens", "", json.dumps(body)) for body in credentials],
            preflight=1,
        ),
    ]


def _preflight(url: str, scenarios: list[Scenario]) -> dict[str, dict[str, Any]]:
    """Send a few of each scenario's requests: all must succeed; their body sizes the ceiling."""
    bodies: dict[str, dict[str, Any]] = {}
    with httpx.Client(base_url=url, timeout=30) as client:
        for scenario in scenarios:
            if scenario.ceiling in bodies:
                continue
            answers = []
            for method, path, token, body in scenario.requests[: scenario.preflight]:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                if body:
                    headers["Content-Type"] = "application/json"
                response = client.request(method, path, headers=headers, content=body or None)
                if not response.is_success:
                    raise RuntimeError(
                        f"{scenario.name}: {method} {path} -> {response.status_code} "
                        f"{response.text[:200]}"
                    )
                answers.append(response)
            answers.sort(key=lambda response: len(response.content))
            typical = answers[len(answers) // 2]
            if scenario.name == ITEMS:
                counts = {len(answer.json()) for answer in answers}
                print(f"   {ITEMS}: {sorted(counts)} items per answer", flush=True)
            bodies[scenario.ceiling] = {
                "method": scenario.requests[0][0],
                "status": typical.status_code,
                "body": typical.text,
                "bytes": len(typical.content),
            }
    return bodies


def _wrk(
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
        command, capture_output=True, text=True, check=True, timeout=seconds + 60
    )
    for line in finished.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            parsed: dict[str, Any] = json.loads(line.removeprefix("BENCH_RESULT "))
            return parsed
    raise RuntimeError(f"no result from wrk:\n{finished.stdout}\n{finished.stderr}")


def _requests_file(path: Path, requests: list[tuple[str, str, str, str]], prefix: str) -> Path:
    lines = []
    for method, request_path, token, body in requests:
        lines.append("\t".join((method, prefix or request_path, token, body)))
    path.write_text("\n".join(lines) + "\n")
    return path


def _load(
    arguments: argparse.Namespace,
    url: str,
    requests_file: Path,
    connections: int,
    roots: dict[str, int],
    profile_to: Path | None = None,
) -> Figures:
    if arguments.warmup > 0:
        _wrk(url, requests_file, connections, arguments.warmup, arguments.threads)
    spy = None
    if profile_to is not None:
        spy = profiling.start(roots["app"], arguments.duration, profile_to)
    before = cpu.sample(roots)
    raw = _wrk(url, requests_file, connections, arguments.duration, arguments.threads)
    figures = Figures.from_wrk(raw)
    figures.cpu_cores = cpu.cores_used(before, cpu.sample(roots))
    if spy is not None:
        spy.wait(timeout=60)
    return figures


def _measure(
    arguments: argparse.Namespace,
    scenarios: list[Scenario],
    bodies: dict[str, dict[str, Any]],
    app: servers.Server,
    ceiling: servers.Server,
    work: Path,
) -> list[Result]:
    app_url, ceiling_url = app.url, ceiling.url
    roots = {"app": app.process.pid, "ceiling": ceiling.process.pid, "bench": os.getpid()}
    database = cpu.mariadb_pid()
    if database is not None:
        roots["mariadb"] = database
    results: list[Result] = []
    ceilings: dict[str, Figures] = {}
    for scenario in scenarios:
        print(f"== {scenario.name}: {scenario.connections} connections", flush=True)
        app_file = _requests_file(work / f"{scenario.name}.app", scenario.requests, "")
        storm_process = None
        if scenario.storm:
            storm_seconds = arguments.warmup + arguments.duration + 3
            storm_process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.storm",
                    app_url,
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
        try:
            profile_to = None
            if scenario.name in arguments.profile:
                profile_to = RESULTS / f"{arguments.stamp}-{scenario.name}.stacks"
            figures = _load(arguments, app_url, app_file, scenario.connections, roots, profile_to)
        finally:
            storm = None
            if storm_process is not None:
                out, _ = storm_process.communicate(timeout=120)
                storm = json.loads(out.strip().splitlines()[-1])
        if scenario.ceiling not in ceilings:
            ceiling_file = _requests_file(
                work / f"{scenario.name}.ceiling",
                scenario.requests,
                f"/ceiling/{scenario.ceiling}",
            )
            ceilings[scenario.ceiling] = _load(
                arguments, ceiling_url, ceiling_file, scenario.connections, roots
            )
        top = ceilings[scenario.ceiling]
        result = Result(
            scenario=scenario.name,
            label=scenario.label,
            connections=scenario.connections,
            body_bytes=bodies[scenario.ceiling]["bytes"],
            app=figures,
            ceiling=top,
            ratio=round(figures.rps / top.rps, 3) if top.rps else None,
            storm=storm,
        )
        results.append(result)
        line = (
            f"   app {figures.rps:8.1f} req/s  p50 {figures.p50_ms:7.2f} ms  "
            f"p99 {figures.p99_ms:7.2f} ms  errors {figures.errors}"
            f"   | ceiling {top.rps:8.1f} req/s  ratio {result.ratio:.0%}"
        )
        print(line, flush=True)
        print(f"   cpu cores, app run: {_cores(figures)} | ceiling run: {_cores(top)}", flush=True)
        if figures.errors:
            print(f"   errors: {figures.error_detail}", flush=True)
        if storm is not None:
            print(f"   storm {storm}", flush=True)
        if profile_to is not None:
            result.notes.append(f"profiled: {profile_to.name}")
            print(profiling.summarise(profile_to), flush=True)
    return results


def _cores(figures: Figures) -> str:
    return ", ".join(f"{name} {cores:.2f}" for name, cores in figures.cpu_cores.items())


def _goals(results: list[Result]) -> list[dict[str, Any]]:
    by_name = {result.scenario: result for result in results}
    goals: list[dict[str, Any]] = []

    def goal(text: str, passed: bool, measured: str) -> None:
        goals.append({"goal": text, "passed": passed, "measured": measured})

    items = by_name.get(ITEMS)
    if items is not None and items.ratio is not None:
        goal(
            "GET /api/items filtered: >= 35% of ceiling req/s",
            items.ratio >= 0.35,
            f"{items.ratio:.0%}",
        )
        goal(
            "GET /api/items filtered: p99 <= 50 ms",
            items.app.p99_ms <= 50,
            f"{items.app.p99_ms} ms",
        )
    me = by_name.get(USERS_ME)
    if me is not None and me.ratio is not None:
        goal("GET /api/users/me: >= 50% of ceiling req/s", me.ratio >= 0.50, f"{me.ratio:.0%}")
    stormy = by_name.get(ITEMS_STORM)
    if items is not None and stormy is not None:
        kept = stormy.app.rps / items.app.rps if items.app.rps else 0.0
        goal(
            "GET /api/items during 4 sign-ins/s: >= 70% of its req/s alone",
            kept >= 0.70,
            f"{kept:.0%}",
        )
        growth = stormy.app.p99_ms / items.app.p99_ms if items.app.p99_ms else float("inf")
        goal(
            "GET /api/items during 4 sign-ins/s: p99 <= 2x its p99 alone",
            growth <= 2.0,
            f"{stormy.app.p99_ms} ms = {growth:.2f}x",
        )
    orders = by_name.get(ORDERS)
    if orders is not None:
        goal(
            "POST /api/orders at 16 connections: p99 <= 100 ms, no error",
            orders.app.p99_ms <= 100 and orders.app.errors == 0,
            f"{orders.app.p99_ms} ms, {orders.app.errors} errors",
        )
    total = sum(result.app.errors for result in results)
    total += sum(result.ceiling.errors for result in results if result.ceiling)
    total += sum(result.storm["errors"] for result in results if result.storm)
    goal("zero errors in every run", total == 0, f"{total} errors")
    return goals


def _print_table(results: list[Result], goals: list[dict[str, Any]]) -> None:
    header = (
        f"\n{'scenario':<56} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'errors':>6} {'ceiling':>9} {'ratio':>6}"
    )
    print(header)
    print("-" * (len(header) - 1))
    for result in results:
        top = result.ceiling
        print(
            f"{result.label:<56} {result.connections:>5} {result.app.rps:>9.1f} "
            f"{result.app.p50_ms:>8.2f} {result.app.p99_ms:>8.2f} {result.app.errors:>6} "
            f"{top.rps if top else 0:>9.1f} {result.ratio or 0:>6.0%}"
        )
        if result.storm:
            storm = result.storm
            print(
                f"{'  (sign-ins meanwhile)':<56} {'':>5} {storm['rate_per_s']:>9.1f} "
                f"{storm['p50_ms']:>8.1f} {storm['p99_ms']:>8.1f} {storm['errors']:>6}"
            )
    print("\ngoals:")
    for goal in goals:
        mark = "PASS" if goal["passed"] else "FAIL"
        print(f"  [{mark}] {goal['goal']}: {goal['measured']}")


def _write_json(
    arguments: argparse.Namespace,
    started: datetime,
    dataset: Dataset,
    env: dict[str, str],
    results: list[Result],
    goals: list[dict[str, Any]],
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
            "profiled": sorted(arguments.profile),
        },
        "data": dataset.counts,
        "results": [asdict(result) for result in results],
        "goals": goals,
        "summary": {
            result.scenario: {
                "rps": result.app.rps,
                "p50_ms": result.app.p50_ms,
                "p99_ms": result.app.p99_ms,
                "errors": result.app.errors,
                "ceiling_rps": result.ceiling.rps if result.ceiling else None,
                "ratio": result.ratio,
                "median_body_bytes": result.body_bytes,
            }
            for result in results
        },
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return path


if __name__ == "__main__":
    sys.exit(main())
