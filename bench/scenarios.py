"""The scenarios the bench runs: what each sends, with how many connections, against which
server, and which ceiling it is compared with."""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass
from typing import Any

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
    UNTRACED,
    USERS_ME,
)
from bench.seed import Dataset, Grown

# How the database ceiling turns the last statement's rows into the app's JSON:
# [[key, column], ...] in the response model's order; `one` for an object. The pre-flight
# check proves it: the ceiling's JSON must equal the app's for the same requests.
LISTED_ITEM = [["id", "id"], ["item_name", "item_name"], ["price", "price"], ["stock", "stock"]]
SHAPES: dict[str, dict[str, Any]] = {
    ITEMS: {"keys": [*LISTED_ITEM, ["store_id", "store_id"], ["store_name", "store_name"]]},
    STORE_ITEMS: {"keys": LISTED_ITEM},
    ITEM_REVIEWS: {
        "keys": [
            ["review_id", "review_id"],
            ["writer_nickname", "writer_nickname"],
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
    order_ceiling: bool = False  # an order: the database ceiling's transaction (orderceiling.py)
    # or "edge": through nginx with TLS; "granian": the app under granian; "untraced": the app
    # without its request telemetry (bench/untraced.py)
    target: str = "app"
    preflight: int = 3  # requests sent once before the load to check them and size the ceiling


def selected(arguments: argparse.Namespace, scenarios: list[Scenario]) -> list[Scenario]:
    if not arguments.only:
        return scenarios
    wanted = set(arguments.only.split(","))
    return [s for s in scenarios if s.name in wanted or s.ceiling in wanted]


def catalogue(
    data: Dataset, tokens: list[str], credentials: list[dict[str, str]], rng: random.Random
) -> list[Scenario]:
    items = item_searches(data.price_windows)
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
            UNTRACED[ITEMS], "  same, without request logging and metrics", items, target="untraced"
        ),
        Scenario(
            STORE_ITEMS,
            "GET /api/stores/{id}/items (100 items)",
            store_listings(data.store_ids),
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
            UNTRACED[USERS_ME],
            "  same, without request logging and metrics",
            [("GET", "/api/users/me", token, "") for token in tokens],
            target="untraced",
        ),
        Scenario(
            ORDERS,
            "POST /api/orders (2 lines, 16 conns)",
            orders,
            connections=16,
            preflight=1,
            order_ceiling=True,
        ),
        Scenario(
            HOT_ITEM,
            "POST /api/orders, all of one item (64 conns)",
            [("POST", "/api/orders", token, hot) for token in tokens],
            preflight=1,
            order_ceiling=True,
        ),
        Scenario(
            "sign_in",
            "POST /api/auth/tokens (argon2id)",
            [("POST", "/api/auth/tokens", "", json.dumps(body)) for body in credentials],
            preflight=1,
        ),
    ]


def item_searches(windows: list[tuple[int, int]]) -> list[tuple[str, str, str, str]]:
    return [
        ("GET", f"/api/items?min_price={low}&max_price={high}&in_stock=true", "", "")
        for low, high in windows
    ]


def store_listings(store_ids: list[str]) -> list[tuple[str, str, str, str]]:
    return [("GET", f"/api/stores/{store}/items", "", "") for store in store_ids]


def scaled(grown: Grown) -> list[Scenario]:
    """The items search and a store's items at the grown size, same distribution."""
    return [
        Scenario(
            SCALED[ITEMS],
            "GET /api/items?min_price&max_price&in_stock (20 of 1M)",
            item_searches(grown.price_windows),
        ),
        Scenario(
            SCALED[STORE_ITEMS],
            "GET /api/stores/{id}/items (100 items of 1M)",
            store_listings(grown.store_ids),
        ),
    ]
