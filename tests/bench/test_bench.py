"""The benchmark's own logic (no load, no timing): its CLI parses, its search windows select
exactly the promised number of items, and wrk's figures are read right."""

from __future__ import annotations

import random
import sys

import pytest

from bench import __main__ as bench
from bench import seed


def test_cli_parses_its_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["bench", "--duration", "3", "--warmup", "1", "--only", "users_me,orders"]
    monkeypatch.setattr(sys, "argv", argv)
    arguments = bench._arguments()
    assert (arguments.duration, arguments.warmup, arguments.workers) == (3, 1, 2)
    assert arguments.only == "users_me,orders"
    assert arguments.profile == set()


def test_price_windows_select_exactly_the_window_size() -> None:
    rng = random.Random(1)
    items = [
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
    figures = bench.Figures.from_wrk(raw)
    assert figures.rps == 500.0
    assert (figures.p50_ms, figures.p99_ms) == (1.5, 9.0)
    assert figures.errors == 6
    assert figures.error_detail == {"read": 1, "timeout": 2, "http_503": 3}
