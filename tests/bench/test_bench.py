"""The benchmark's own logic (no load, no timing): its CLI parses, its search windows select
exactly the promised number of items, and wrk's figures are read right."""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import os
import random
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from bench import __main__ as bench
from bench import cpu, dbceiling, goals, measure, report, scenarios, seed, sqlplan, wrk


def test_cli_parses_its_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["bench", "--duration", "3", "--warmup", "1", "--only", "users_me,orders"]
    monkeypatch.setattr(sys, "argv", argv)
    arguments = bench._arguments()
    assert (arguments.duration, arguments.warmup, arguments.workers) == (3, 1, 2)
    assert arguments.only == "users_me,orders"
    assert arguments.profile == set()


def test_price_windows_select_exactly_the_window_size() -> None:
    rng = random.Random(1)
    items: list[dict[str, Any]] = [
        {
            "price": rng.randrange(100, 5_000),
            "stock": 0 if rng.random() < 0.1 else 5,
            "deleted_at": None if rng.random() > 0.01 else "gone",
        }
        for _ in range(2_000)
    ]
    windows = seed._price_windows(items, rng)
    assert len(windows) == seed.WINDOWS
    for low, high in windows:
        chosen = [
            item
            for item in items
            if low <= item["price"] <= high and item["stock"] > 0 and item["deleted_at"] is None
        ]
        assert len(chosen) == seed.WINDOW_SIZE


def test_wrk_figures_count_every_error() -> None:
    raw = {
        "requests": 1000,
        "duration_us": 2_000_000,
        "connect": 0,
        "read": 1,
        "write": 0,
        "timeout": 2,
        "statuses": {"503": 3},
        "p50_us": 1500,
        "p90_us": 2500,
        "p99_us": 9000,
        "max_us": 20000,
    }
    figures = wrk.Figures.from_wrk(raw)
    assert figures.rps == 500.0
    assert (figures.p50_ms, figures.p99_ms) == (1.5, 9.0)
    assert figures.errors == 6
    assert figures.error_detail == {"read": 1, "timeout": 2, "http_503": 3}


def _token(claims: dict[str, object]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJIUzI1NiJ9.{payload}.signature"


SEARCH = "SELECT items.id FROM items WHERE items.price >= %s AND items.price <= %s AND stock > %s"


def test_a_plan_binds_each_parameter_from_the_request_that_gave_it() -> None:
    captures = [
        {
            "path": f"/api/items?min_price={low}&max_price={high}&in_stock=true",
            "token": "",
            "statements": [[SEARCH, [low, high, 0]]],
        }
        for low, high in ((10, 20), (30, 45))
    ]
    plan = sqlplan.derive_plan(captures)
    assert plan[0].sources == (("query_int", "min_price"), ("query_int", "max_price"), ("const", 0))
    assert sqlplan.parameters(plan, "/api/items?min_price=7&max_price=9&in_stock=true", "") == [
        (7, 9, 0)
    ]


def test_a_plan_reads_path_segments_and_the_token_subject() -> None:
    lookup, listing = "SELECT 1 FROM items WHERE id = %s", "SELECT * FROM reviews WHERE x = %s"
    captures = [
        {
            "path": f"/api/items/{item}/reviews",
            "token": _token({"sub": user}),
            "statements": [[lookup, [item]], [listing, [user]]],
        }
        for item, user in (("a-1", "u-1"), ("b-2", "u-2"))
    ]
    plan = sqlplan.derive_plan(captures)
    assert [statement.sources for statement in plan] == [(("path", 2),), (("subject",),)]
    assert sqlplan.parameters(plan, "/api/items/c-3/reviews", _token({"sub": "u-3"})) == [
        ("c-3",),
        ("u-3",),
    ]
    again = sqlplan.plan_from_json(json.loads(json.dumps(sqlplan.plan_to_json(plan))))
    assert again == plan


def test_a_plan_refuses_what_it_cannot_explain() -> None:
    def capture(path: str, value: int, sql: str = SEARCH) -> dict[str, object]:
        return {"path": path, "token": "", "statements": [[sql, [value]]]}

    with pytest.raises(sqlplan.PlanError, match="varies"):
        sqlplan.derive_plan([capture("/a?x=1", 5), capture("/a?x=2", 6)])
    with pytest.raises(sqlplan.PlanError, match="different statements"):
        sqlplan.derive_plan([capture("/a?x=1", 1), capture("/a?x=2", 2, "SELECT 2")])


def test_the_database_ceiling_shapes_rows_as_the_response_models() -> None:
    columns = ["review_id", "writer_nickname", "rating", "comment", "page_created_at"]
    rows = [("r1", "kim", 5, "좋아요", "2026-12-05")]
    shape = scenarios.SHAPES[goals.ITEM_REVIEWS]
    assert dbceiling.shape_rows(shape, columns, rows) == [
        {"review_id": "r1", "writer_nickname": "kim", "rating": 5, "comment": "좋아요"}
    ]
    me = scenarios.SHAPES[goals.USERS_ME]
    user = ["id", "email", "hashed_password", "nickname", "address", "phone_number"]
    assert dbceiling.shape_rows(me, user, []) is None
    assert dbceiling.shape_rows(me, user, [("u", "e", "h", None, "a", "p")]) == {
        "id": "u",
        "email": "e",
        "nickname": None,
        "address": "a",
        "phone_number": "p",
    }
    assert dbceiling.encode([{"a": "좋아요"}]) == '[{"a":"좋아요"}]'.encode()


@dataclass
class _Figures:
    rps: float
    p50_ms: float = 10.0
    p99_ms: float = 20.0
    errors: int = 0


def test_goals_compare_each_read_with_its_database_ceiling_and_its_own_tail() -> None:
    runs = {
        goals.ITEMS: goals.Run(_Figures(600), _Figures(1000)),
        goals.USERS_ME: goals.Run(_Figures(499, p50_ms=10, p99_ms=31), _Figures(1000)),
        goals.ITEMS_EDGE: goals.Run(_Figures(509)),
        goals.ITEMS_STORM: goals.Run(_Figures(481)),
    }
    evaluated = goals.evaluate(runs)
    passed = {goal["goal"]: goal["passed"] for goal in evaluated}
    assert passed["items_filtered: >= 60% of the database ceiling's req/s"] is True
    assert passed["users_me: >= 50% of the database ceiling's req/s"] is False
    assert passed["users_me: no error, p99 <= 3 x p50"] is False
    assert passed["items_filtered: no error, p99 <= 3 x p50"] is True
    assert passed["items through nginx + TLS: >= 85% of items alone"] is False
    assert passed["items during 4 sign-ins/s: >= 80% of items alone"] is True
    assert passed["zero errors in every run"] is True


def test_goals_of_writes_scale_and_errors() -> None:
    runs = {
        goals.ITEMS: goals.Run(_Figures(600, p50_ms=20), extra_errors=1),
        goals.SCALED[goals.ITEMS]: goals.Run(_Figures(500, p50_ms=30)),
        goals.STORE_ITEMS: goals.Run(_Figures(600, p50_ms=20)),
        goals.SCALED[goals.STORE_ITEMS]: goals.Run(_Figures(500, p50_ms=31)),
        goals.HOT_ITEM: goals.Run(_Figures(100, p99_ms=30, errors=2)),
        goals.ORDERS: goals.Run(_Figures(100, p99_ms=30), _Figures(250)),
    }
    verdicts = {goal["goal"]: goal["passed"] for goal in goals.evaluate(runs)}
    assert verdicts["items_filtered at 1M items: p50 <= 1.5 x p50 at 10k"] is True
    assert verdicts["store_items at 1M items: p50 <= 1.5 x p50 at 10k"] is False
    assert verdicts["hot_item: no error, p99 <= 4 x p50"] is False  # the errors
    assert verdicts["orders: no error, p99 <= 3 x p50"] is True
    assert verdicts["orders: >= 50% of the database ceiling's req/s"] is False  # 40%
    assert verdicts["zero errors in every run"] is False


def test_the_telemetry_goal_compares_cpu_per_request_with_and_without_it() -> None:
    def run(cpu_ms: float) -> goals.Run:
        return goals.Run(_Figures(500), cpu_ms_per_request=cpu_ms)

    runs = {
        goals.ITEMS: run(1.09),
        goals.UNTRACED[goals.ITEMS]: run(1.0),
        goals.USERS_ME: run(1.12),
        goals.UNTRACED[goals.USERS_ME]: run(1.0),
    }
    verdicts = {goal["goal"]: goal for goal in goals.evaluate(runs)}
    items = verdicts["items_filtered: request logging and metrics cost <= 10% CPU/request"]
    assert items["passed"] is True
    assert items["measured"] == "1.000 -> 1.090 ms/req = +9.0%"
    users = verdicts["users_me: request logging and metrics cost <= 10% CPU/request"]
    assert users["passed"] is False
    # Without its "before" run (--only left it out) there is no verdict, not a pass.
    del runs[goals.UNTRACED[goals.ITEMS]]
    assert not any(
        "request logging" in g["goal"] and "items" in g["goal"] for g in goals.evaluate(runs)
    )


def test_the_telemetry_goal_reads_the_median_of_its_back_to_back_pairs() -> None:
    # Three pairs (without, with): +5%, +30% (a disturbed pair), +8%: the median is +8%, where
    # the scenarios' own runs (1.0 -> 1.2) would say +20%.
    pairs = ((1.0, 1.05), (1.0, 1.3), (1.0, 1.08))
    runs = {
        goals.ITEMS: goals.Run(_Figures(500), cpu_ms_per_request=1.2),
        goals.UNTRACED[goals.ITEMS]: goals.Run(
            _Figures(500), cpu_ms_per_request=1.0, telemetry_pairs=pairs
        ),
    }
    verdicts = {goal["goal"]: goal for goal in goals.evaluate(runs)}
    items = verdicts["items_filtered: request logging and metrics cost <= 10% CPU/request"]
    assert items["passed"] is True
    assert items["measured"] == (
        "median of 3 side-by-side pairs "
        "(1.000 -> 1.050, 1.000 -> 1.300, 1.000 -> 1.080 ms/req) = +8.0%"
    )


def test_a_paired_goal_reads_the_median_of_its_rounds_shares() -> None:
    # Three rounds' shares of the ceiling: 60%, 50% (a slow moment of the app alone), 70%. The
    # goal reads their median, 60%, not the quotient of the two sides' median figures (600 of
    # 2000 req/s here): a moment that slows both sides of a round leaves its share alone.
    shares = (0.6, 0.5, 0.7)
    runs = {
        goals.ITEMS: goals.Run(_Figures(600), _Figures(2000), shares=shares),
        goals.ITEMS_EDGE: goals.Run(_Figures(400), shares=(0.9, 0.84, 0.86)),
    }
    verdicts = {goal["goal"]: goal for goal in goals.evaluate(runs)}
    items = verdicts["items_filtered: >= 60% of the database ceiling's req/s"]
    assert items["passed"] is True
    assert items["measured"] == "60.0%, the median of 3 rounds (60%, 50%, 70%)"
    # The edge's rounds carry their own comparison: no separate "items alone" run is needed.
    edge = verdicts["items through nginx + TLS: >= 85% of items alone"]
    assert (edge["passed"], edge["measured"]) == (
        True,
        "86.0%, the median of 3 rounds (90%, 84%, 86%)",
    )
    # The table and the JSON print the share the goal judged.
    paired = report.Result(goals.ITEMS, "", 64, 0, wrk_figures(600), shares=list(shares))
    paired.db_ceiling = wrk_figures(2000)
    assert paired.db_ratio == 0.6


def wrk_figures(rps: float, **changes: Any) -> wrk.Figures:
    base = wrk.Figures(
        requests=int(rps * 6), rps=rps, p50_ms=10, p90_ms=15, p99_ms=20, max_ms=30, errors=0,
        error_detail={}, cpu_cores={"app": 1.0, "mariadb": 0.4},
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


def test_rounds_of_one_side_read_as_their_medians_and_sums() -> None:
    runs = [
        wrk_figures(500, p99_ms=50, max_ms=90, errors=1, error_detail={"http_500": 1}),
        wrk_figures(700, cpu_cores={"app": 1.2, "mariadb": 0.5}),
        wrk_figures(600, p50_ms=12, errors=2, error_detail={"http_500": 1, "timeout": 1}),
    ]
    merged = wrk.Figures.median(runs)
    assert (merged.rps, merged.p50_ms, merged.p99_ms, merged.max_ms) == (600, 10, 20, 90)
    assert (merged.requests, merged.errors) == (sum(run.requests for run in runs), 3)
    assert merged.error_detail == {"http_500": 2, "timeout": 1}
    assert merged.cpu_cores == {"app": 1.0, "mariadb": 0.4}
    assert wrk.Figures.median(runs[:1]) is runs[0]


def test_alternating_rounds_take_turns_at_going_first() -> None:
    calls: list[tuple[str, int, int]] = []

    def side(name: str) -> measure.Side:
        def run(settings: Any, number: int) -> wrk.Figures:
            calls.append((name, number, settings.duration))
            return wrk_figures(100)

        return run

    arguments = argparse.Namespace(duration=12, warmup=4)
    measured = measure.alternating(arguments, {"app": side("app"), "db": side("db")})
    assert [(name, number) for name, number, _ in calls][:6] == [
        ("app", 0), ("db", 0), ("db", 1), ("app", 1), ("app", 2), ("db", 2),
    ]  # fmt: skip
    assert {duration for _, _, duration in calls} == {4}  # a third of the run's length each
    assert [len(runs) for runs in measured.values()] == [measure.ROUNDS] * 2


def test_the_storms_of_several_rounds_read_as_one() -> None:
    def storm(sent: int, errors: int, rate: float, p99: float) -> dict[str, Any]:
        return {
            "sent": sent, "ok": sent - errors, "errors": errors, "skipped": 0,
            "statuses": {"200": sent - errors, "500": errors} if errors else {"200": sent},
            "rate_per_s": rate, "p50_ms": 100.0, "p99_ms": p99, "max_ms": p99 + 10,
        }  # fmt: skip

    merged = measure.merge_storms(
        [storm(40, 0, 4.0, 300), storm(41, 1, 4.1, 900), storm(39, 0, 3.9, 310)]
    )
    assert (merged["sent"], merged["ok"], merged["errors"]) == (120, 119, 1)
    assert merged["statuses"] == {"200": 119, "500": 1}
    assert (merged["rate_per_s"], merged["p99_ms"], merged["max_ms"]) == (4.0, 310, 910)


def test_the_bench_app_without_telemetry_lacks_only_request_telemetry() -> None:
    from bench import untraced
    from wapang.api.main import app
    from wapang.api.middleware import RequestTelemetry

    # Named, not compared as classes: Starlette types Middleware.cls as a factory protocol.
    traced = [getattr(entry.cls, "__name__", "") for entry in app.user_middleware]
    assert RequestTelemetry.__name__ in traced
    assert [getattr(entry.cls, "__name__", "") for entry in untraced.app.user_middleware] == [
        name for name in traced if name != RequestTelemetry.__name__
    ]


def test_rss_lists_a_process_and_its_children() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        found = cpu.rss_mib(os.getpid())
        assert any(key.startswith(f"{os.getpid()} ") for key in found)
        assert any(key.startswith(f"{child.pid} ") for key in found)
        assert all(mib > 0 for mib in found.values())
    finally:
        child.kill()
        child.wait()


def test_cpu_per_request_counts_the_server_that_answered() -> None:
    figures = wrk.Figures(
        requests=5000, rps=500.0, p50_ms=1, p90_ms=2, p99_ms=3, max_ms=4, errors=0,
        error_detail={}, cpu_cores={"app": 0.2, "granian": 0.75, "other": 1.0},
    )  # fmt: skip
    under_uvicorn = report.Result("items", "", 64, 0, figures)
    under_granian = report.Result("items_granian", "", 64, 0, figures, server="granian")
    assert under_uvicorn.cpu_ms_per_request == pytest.approx(0.4)
    assert under_granian.cpu_ms_per_request == pytest.approx(1.5)


def test_the_printed_share_is_the_judged_share() -> None:
    """One ratio(): 599.6 of 1000 req/s is 60% in the table, the JSON and the verdict."""
    app = wrk.Figures(
        requests=5996, rps=599.6, p50_ms=1, p90_ms=2, p99_ms=3, max_ms=4, errors=0,
        error_detail={},
    )  # fmt: skip
    ceiling = wrk.Figures(
        requests=10000, rps=1000.0, p50_ms=1, p90_ms=2, p99_ms=3, max_ms=4, errors=0,
        error_detail={},
    )  # fmt: skip
    result = report.Result(goals.ITEMS, "", 64, 0, app, db_ceiling=ceiling)
    verdict = next(goal for goal in report.judge([result]) if "database ceiling" in goal["goal"])
    assert result.db_ratio == 0.6
    assert verdict["passed"] is True
    assert verdict["measured"] == f"{result.db_ratio:.1%}"
    assert goals.ratio(1.0, 0.0) is None
