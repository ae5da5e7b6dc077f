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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import cpu, servers, sqlplan
from bench import edge as edging
from bench import goals as goaling
from bench import profile as profiling
from bench import seed as seeding
from bench.goals import (
    HOT_ITEM,
    ITEM_REVIEWS,
    ITEMS,
    ITEMS_EDGE,
    ITEMS_GRANIAN,
    ITEMS_STORM,
    ORDERS,
    SCALED,
    STORE_ITEMS,
    USERS_ME,
)
from bench.seed import Admin, Dataset

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
LUA = BENCH / "replay.lua"
SCALE_ITEMS = 1_000_000

# How the database ceiling turns the last statement's rows into the app's JSON:
# [[key, column], ...] in the response model's order; `one` for an object. The pre-flight
# check proves it: the ceiling's JSON must equal the app's for the same requests.
LISTED_ITEM = [["id", "id"], ["item_name", "item_name"], ["price", "price"], ["stock", "stock"]]
SHAPES: dict[str, dict[str, Any]] = {
    ITEMS: {"keys": [*LISTED_ITEM, ["store_id", "store_id"], ["store_name", "store_name"]]},
    STORE_ITEMS: {"keys": LISTED_ITEM},
    ITEM_REVIEWS: {
        "keys": [
            ["review_id", "id"],
            ["writer_nickname", "nickname"],
            ["rating", "rating"],
            ["comment", "comment"],
        ]
    },
    USERS_ME: {
        "one": True,
        "keys": [[key, key] for key in ("id", "email", "nickname", "address", "phone_number")],
    },
}


@dataclass
class Scenario:
    name: str
    label: str
    requests: list[tuple[str, str, str, str]]  # method, path, token, body
    connections: int = 64
    storm: bool = False
    ceiling: str = ""  # the constant ceiling's route it is compared with; none when empty
    shape: dict[str, Any] | None = None  # a read the database ceiling replays (SHAPES)
    target: str = "app"  # or "edge": through nginx with TLS; "granian": the app under granian
    preflight: int = 3  # requests sent once before the load to check them and size the ceiling


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
    db_ceiling: Figures | None = None
    db_ratio: float | None = None
    storm: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    server: str = "app"  # the process tree that served it (cpu/request is its CPU)

    @property
    def cpu_ms_per_request(self) -> float:
        """Milliseconds of the serving processes' CPU per answered request."""
        cores = self.app.cpu_cores.get(self.server, 0.0)
        return 1000 * cores / self.app.rps if self.app.rps else 0.0


def main() -> int:
    arguments = _arguments()
    rng = random.Random(arguments.seed)
    admin = Admin(password=os.environ.get("BENCH_MYSQL_ROOT_PASSWORD", ""))
    started = datetime.now(UTC)
    RESULTS.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="wapang-bench-"))
    work.chmod(0o755)  # nginx workers run as nobody when the bench runs as root
    running: list[servers.Server] = []
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
        running.append(app)
        app.wait_ready()
        credentials = [
            {"email": email, "password": seeding.PASSWORD} for email in dataset.sign_in_emails
        ]
        tokens = _sign_in(app.url, credentials)
        scenarios = _selected(arguments, _scenarios(dataset, tokens, credentials, rng))
        bodies, answers = _preflight(app.url, scenarios)
        plans = _plans(env, scenarios, answers, work)

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
        _check_db_ceiling(db_ceiling.url, answers)
        edge = None
        if any(scenario.target == "edge" for scenario in scenarios):
            edge = edging.start_edge(work, app.port)
            running.append(edge)
            edge.wait_ready()
        targets = {"app": app, "ceiling": ceiling, "db_ceiling": db_ceiling}
        if edge is not None:
            targets["edge"] = edge
        if any(scenario.target == "granian" for scenario in scenarios):
            targets["granian"] = servers.start_app_granian(
                env, arguments.workers, work / "app-granian.log"
            )
            running.append(targets["granian"])
            targets["granian"].wait_ready()

        (work / "credentials.json").write_text(json.dumps(credentials))
        explains = {"10k": _explain(admin, plans, scenarios)}
        results = _measure(arguments, scenarios, bodies, targets, work)
        memory = cpu.rss_mib(app.process.pid)
        print(f"== app processes' RSS after the run (MiB): {memory}", flush=True)
        if arguments.scale:
            results += _scale(arguments, admin, rng, plans, targets, work, explains)
        goals = _goals(results)
        _print_table(results, goals)
        path = _write_json(
            arguments, started, dataset, env, results, goals, {"rss_mib": memory, **explains}
        )
        print(f"\nresults: {path.relative_to(BENCH.parent)}  ({time.monotonic() - t0:.0f}s)")
        return 0
    except Exception:
        for server in running:
            print(f"--- {server.name} log tail:\n{server.tail()}", file=sys.stderr)
        raise
    finally:
        for server in reversed(running):
            server.stop()
        seeding.drop_database_and_user(admin)
        shutil.rmtree(work, ignore_errors=True)


def _selected(arguments: argparse.Namespace, scenarios: list[Scenario]) -> list[Scenario]:
    if not arguments.only:
        return scenarios
    wanted = set(arguments.only.split(","))
    return [s for s in scenarios if s.name in wanted or s.ceiling in wanted]


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
    items = _item_searches(data.price_windows)
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
    hot = json.dumps({"items": [{"item_id": data.order_item_ids[0], "quantity": 1}]})
    return [
        Scenario(
            ITEMS,
            "GET /api/items?min_price&max_price&in_stock (20 of 10k)",
            items,
            ceiling=ITEMS,
            shape=SHAPES[ITEMS],
        ),
        Scenario(ITEMS_STORM, "  same, during sign-ins at 4/s", items, storm=True),
        Scenario(ITEMS_EDGE, "  same, through nginx + TLS", items, target="edge"),
        Scenario(ITEMS_GRANIAN, "  same, the app under granian", items, target="granian"),
        Scenario(
            STORE_ITEMS,
            "GET /api/stores/{id}/items (100 items)",
            _store_listings(data.store_ids),
            ceiling=STORE_ITEMS,
            shape=SHAPES[STORE_ITEMS],
        ),
        Scenario(
            ITEM_REVIEWS,
            "GET /api/items/{id}/reviews (20 reviews)",
            [("GET", f"/api/items/{item}/reviews", "", "") for item in data.popular_item_ids],
            ceiling=ITEM_REVIEWS,
            shape=SHAPES[ITEM_REVIEWS],
        ),
        Scenario(
            USERS_ME,
            "GET /api/users/me (authenticated)",
            [("GET", "/api/users/me", token, "") for token in tokens],
            ceiling=USERS_ME,
            shape=SHAPES[USERS_ME],
        ),
        Scenario(
            ORDERS, "POST /api/orders (2 lines, 16 conns)", orders, connections=16, preflight=1
        ),
        Scenario(
            HOT_ITEM,
            "POST /api/orders, all of one item (64 conns)",
            [("POST", "/api/orders", token, hot) for token in tokens],
            preflight=1,
        ),
        Scenario(
            "sign_in",
            "POST /api/auth/tokens (argon2id)",
            [("POST", "/api/auth/tokens", "", json.dumps(body)) for body in credentials],
            preflight=1,
        ),
    ]


def _item_searches(windows: list[tuple[int, int]]) -> list[tuple[str, str, str, str]]:
    return [
        ("GET", f"/api/items?min_price={low}&max_price={high}&in_stock=true", "", "")
        for low, high in windows
    ]


def _store_listings(store_ids: list[str]) -> list[tuple[str, str, str, str]]:
    return [("GET", f"/api/stores/{store}/items", "", "") for store in store_ids]


Answers = dict[str, list[tuple[tuple[str, str, str, str], Any]]]


def _preflight(url: str, scenarios: list[Scenario]) -> tuple[dict[str, dict[str, Any]], Answers]:
    """Send a few of each scenario's requests: all must succeed. Their bodies size the constant
    ceiling; the JSON of the database reads is what the database ceiling must answer."""
    bodies: dict[str, dict[str, Any]] = {}
    answers: Answers = {}
    with httpx.Client(base_url=url, timeout=30) as client:
        for scenario in scenarios:
            if scenario.ceiling in bodies or scenario.name in answers:
                continue
            replies = []
            for request in scenario.requests[: scenario.preflight]:
                method, path, token, body = request
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                if body:
                    headers["Content-Type"] = "application/json"
                response = client.request(method, path, headers=headers, content=body or None)
                if not response.is_success:
                    raise RuntimeError(
                        f"{scenario.name}: {method} {path} -> {response.status_code} "
                        f"{response.text[:200]}"
                    )
                replies.append((request, response))
            if scenario.shape is not None:
                answers[scenario.name] = [(request, reply.json()) for request, reply in replies]
            if not scenario.ceiling:
                continue
            responses = sorted((reply for _, reply in replies), key=lambda r: len(r.content))
            typical = responses[len(responses) // 2]
            if scenario.name == ITEMS:
                counts = {len(response.json()) for response in responses}
                print(f"   {ITEMS}: {sorted(counts)} items per answer", flush=True)
            bodies[scenario.ceiling] = {
                "method": scenario.requests[0][0],
                "status": typical.status_code,
                "body": typical.text,
                "bytes": len(typical.content),
            }
    return bodies, answers


def _plans(
    env: dict[str, str], scenarios: list[Scenario], answers: Answers, work: Path
) -> dict[str, dict[str, Any]]:
    """The SQL the app sends for each database read (bench/capture.py), as plans the database
    ceiling replays; the app run in-process must answer what the server answered."""
    shapes = {s.name: s.shape for s in scenarios if s.shape is not None and s.name in answers}
    if not shapes:
        return {}
    requests_file, captured_file = work / "capture-in.json", work / "capture-out.json"
    requests_file.write_text(
        json.dumps({name: [list(request) for request, _ in answers[name]] for name in shapes})
    )
    subprocess.run(
        [sys.executable, "-m", "bench.capture", str(requests_file), str(captured_file)],
        env=env,
        check=True,
        timeout=120,
        stdout=subprocess.DEVNULL,
    )
    captured = json.loads(captured_file.read_text())
    plans = {}
    for name, shape in shapes.items():
        served = [document for _, document in answers[name]]
        in_process = [capture["json"] for capture in captured[name]]
        if in_process != served:
            raise RuntimeError(f"{name}: the app in-process answered other JSON than served")
        plan = sqlplan.derive_plan(captured[name])
        entries = sqlplan.plan_to_json(plan)
        plans[name] = {"plan": entries, "shape": shape}
        for statement in plan:
            print(f"   {name} SQL: {statement.sql.split()[:2]}… params {statement.sources}")
    return plans


def _check_db_ceiling(url: str, answers: Answers) -> None:
    """The database ceiling must answer every pre-flight request with the app's JSON."""
    with httpx.Client(base_url=url, timeout=30) as client:
        for name, replies in answers.items():
            for (method, path, token, _), expected in replies:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                got = client.request(method, f"/{name}{path}", headers=headers)
                if got.status_code != 200 or got.json() != expected:
                    raise RuntimeError(
                        f"{name}: the database ceiling answered {path} with other JSON "
                        f"({got.status_code}): {got.text[:200]}"
                    )
    print(
        f"   database ceiling: same JSON as the app for {sum(map(len, answers.values()))} "
        "pre-flight requests",
        flush=True,
    )


def _explain(
    admin: Admin, plans: dict[str, dict[str, Any]], scenarios: list[Scenario]
) -> dict[str, list[Any]]:
    """EXPLAIN of each statement the items search and a store's items send, with the
    parameters of the scenario's first request."""
    wanted = {SCALED.get(name, name): name for name in (ITEMS, STORE_ITEMS)}
    wanted.update({name: name for name in (ITEMS, STORE_ITEMS)})
    connection = admin.connect(seeding.DATABASE)
    found: dict[str, list[Any]] = {}
    try:
        with connection.cursor() as cursor:
            for scenario in scenarios:
                base = wanted.get(scenario.name)
                if base is None or base not in plans:
                    continue
                plan = sqlplan.plan_from_json(plans[base]["plan"])
                _, path, token, _ = scenario.requests[0]
                found[base] = []
                for statement, values in zip(
                    plan, sqlplan.parameters(plan, path, token), strict=True
                ):
                    cursor.execute("EXPLAIN " + statement.sql, values)
                    columns = [column[0] for column in cursor.description]
                    found[base].append([dict(zip(columns, row, strict=True)) for row in cursor])
    finally:
        connection.close()
    return found


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


def _requests_file(
    path: Path, requests: list[tuple[str, str, str, str]], rewrite: Callable[[str], str]
) -> Path:
    lines = []
    for method, request_path, token, body in requests:
        lines.append("\t".join((method, rewrite(request_path), token, body)))
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


def _storm(arguments: argparse.Namespace, url: str, work: Path) -> subprocess.Popen[str]:
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


def _measure(
    arguments: argparse.Namespace,
    scenarios: list[Scenario],
    bodies: dict[str, dict[str, Any]],
    targets: dict[str, servers.Server],
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
        app_file = _requests_file(work / f"{scenario.name}.app", scenario.requests, str)
        storm_process = None
        if scenario.storm:
            storm_process = _storm(arguments, targets["app"].url, work)
        try:
            profile_to = None
            if scenario.name in arguments.profile:
                profile_to = RESULTS / f"{arguments.stamp}-{scenario.name}.stacks"
            url = targets[scenario.target].url
            figures = _load(arguments, url, app_file, scenario.connections, roots, profile_to)
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
            server="granian" if scenario.target == "granian" else "app",
        )
        if scenario.ceiling and scenario.ceiling not in ceilings:
            ceiling_file = _requests_file(
                work / f"{scenario.name}.ceiling",
                scenario.requests,
                lambda _, name=scenario.ceiling: f"/ceiling/{name}",
            )
            ceilings[scenario.ceiling] = _load(
                arguments, targets["ceiling"].url, ceiling_file, scenario.connections, roots
            )
        if scenario.ceiling:
            result.ceiling = ceilings[scenario.ceiling]
            result.ratio = _ratio(figures, result.ceiling)
        if scenario.shape is not None:
            db_file = _requests_file(
                work / f"{scenario.name}.db",
                scenario.requests,
                lambda path, name=scenario.name: f"/{name}{path}",
            )
            result.db_ceiling = _load(
                arguments, targets["db_ceiling"].url, db_file, scenario.connections, roots
            )
            result.db_ratio = _ratio(figures, result.db_ceiling)
        results.append(result)
        _print_result(result)
        if profile_to is not None:
            result.notes.append(f"profiled: {profile_to.name}")
            print(profiling.summarise(profile_to), flush=True)
    return results


def _scale(
    arguments: argparse.Namespace,
    admin: Admin,
    rng: random.Random,
    plans: dict[str, dict[str, Any]],
    targets: dict[str, servers.Server],
    work: Path,
    explains: dict[str, Any],
) -> list[Result]:
    """The items search and a store's items again at SCALE_ITEMS items, same distribution."""
    print(f"== scale: growing to {SCALE_ITEMS:,} items", flush=True)
    t0 = time.monotonic()
    grown = seeding.grow(admin, rng, SCALE_ITEMS)
    print(f"   {grown.items:,} items in {time.monotonic() - t0:.0f}s", flush=True)
    scenarios = [
        Scenario(
            SCALED[ITEMS],
            "GET /api/items?min_price&max_price&in_stock (20 of 1M)",
            _item_searches(grown.price_windows),
        ),
        Scenario(
            SCALED[STORE_ITEMS],
            "GET /api/stores/{id}/items (100 items of 1M)",
            _store_listings(grown.store_ids),
        ),
    ]
    explains["1m"] = _explain(admin, plans, scenarios)
    _preflight(targets["app"].url, scenarios)
    return _measure(arguments, scenarios, {}, targets, work)


def _ratio(app: Figures, ceiling: Figures) -> float | None:
    return round(app.rps / ceiling.rps, 3) if ceiling.rps else None


def _print_result(result: Result) -> None:
    figures = result.app
    print(
        f"   app {figures.rps:8.1f} req/s  p50 {figures.p50_ms:7.2f} ms  "
        f"p99 {figures.p99_ms:7.2f} ms  errors {figures.errors}",
        flush=True,
    )
    print(f"   cpu cores, app run: {_cores(figures)}", flush=True)
    for name, top, ratio in (
        ("db ceiling", result.db_ceiling, result.db_ratio),
        ("constant ceiling", result.ceiling, result.ratio),
    ):
        if top is not None:
            print(
                f"   {name} {top.rps:8.1f} req/s  p50 {top.p50_ms:7.2f} ms  "
                f"p99 {top.p99_ms:7.2f} ms  errors {top.errors}  ratio {ratio or 0:.0%}"
                f"  | cpu: {_cores(top)}",
                flush=True,
            )
    if figures.errors:
        print(f"   errors: {figures.error_detail}", flush=True)
    if result.storm is not None:
        print(f"   storm {result.storm}", flush=True)


def _cores(figures: Figures) -> str:
    return ", ".join(f"{name} {cores:.2f}" for name, cores in figures.cpu_cores.items())


def _goals(results: list[Result]) -> list[dict[str, Any]]:
    runs = {}
    for result in results:
        extra = sum(top.errors for top in (result.ceiling, result.db_ceiling) if top)
        extra += result.storm["errors"] if result.storm else 0
        runs[result.scenario] = goaling.Run(result.app, result.db_ceiling, extra)
    return goaling.evaluate(runs)


def _print_table(results: list[Result], goals: list[dict[str, Any]]) -> None:
    header = (
        f"\n{'scenario':<56} {'conns':>5} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'errors':>6} {'db ceil':>8} {'ratio':>6} {'p50/p99':>13} {'const':>8} {'ratio':>5} "
        f"{'app cpu':>7} {'ms/req':>6} {'other':>5}"
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
            f"{app.cpu_cores.get('other', 0):>5.2f}"
        )
        if result.storm:
            storm = result.storm
            print(
                f"{'  (sign-ins meanwhile)':<56} {'':>5} {storm['rate_per_s']:>8.1f} "
                f"{storm['p50_ms']:>7.1f} {storm['p99_ms']:>7.1f} {storm['errors']:>6}"
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
            {**asdict(result), "cpu_ms_per_request": result.cpu_ms_per_request}
            for result in results
        ],
        **extra,
        "goals": goals,
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


if __name__ == "__main__":
    sys.exit(main())
