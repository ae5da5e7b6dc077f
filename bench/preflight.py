"""Before the load: every scenario's requests succeed, the ceilings are sized from the app's
answers, and the database ceiling replays the app's SQL with the same JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from bench import seed, sqlplan
from bench.goals import ITEMS, SCALED, STORE_ITEMS
from bench.scenarios import Scenario
from bench.seed import Admin

Answers = dict[str, list[tuple[tuple[str, str, str, str], Any]]]


def sample(url: str, scenarios: list[Scenario]) -> tuple[dict[str, dict[str, Any]], Answers]:
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


def plans(
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


def check_db_ceiling(url: str, answers: Answers) -> None:
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


def explain(
    admin: Admin, plans: dict[str, dict[str, Any]], scenarios: list[Scenario]
) -> dict[str, list[Any]]:
    """EXPLAIN of each statement the items search and a store's items send, with the
    parameters of the scenario's first request."""
    wanted = {SCALED.get(name, name): name for name in (ITEMS, STORE_ITEMS)}
    wanted.update({name: name for name in (ITEMS, STORE_ITEMS)})
    connection = admin.connect(seed.DATABASE)
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


def check_untraced(app_url: str, untraced_url: str, scenarios: list[Scenario]) -> None:
    """The "without telemetry" server answers the same JSON, still with a request id, and
    counts nothing: the comparison is that middleware and nothing else."""
    from prometheus_client.parser import text_string_to_metric_families

    counted = {}
    for url in (app_url, untraced_url):
        with httpx.Client(base_url=url, timeout=30) as client:
            for scenario in (s for s in scenarios if s.target == "untraced"):
                _, path, token, _ = scenario.requests[0]
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                answer = client.get(path, headers=headers)
                answer.raise_for_status()
                if not answer.headers.get("X-Request-ID"):
                    raise RuntimeError(f"{url}{path} answered without X-Request-ID")
            text = client.get("/metrics").text
        counted[url] = sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "http_requests_total" and sample.labels["route"] != "/healthz"
        )
    if not counted[app_url] or counted[untraced_url]:
        raise RuntimeError(
            f"telemetry: the app counted {counted[app_url]} requests, the app "
            f"without telemetry {counted[untraced_url]} (expected >0 and 0)"
        )
