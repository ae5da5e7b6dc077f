"""The bench database: a fresh `wapang_bench` on MariaDB, its own user, and realistic rows.

Rows go in with SQLAlchemy core bulk inserts (executemany) over a synchronous PyMySQL
connection; the schema comes from the app's own migrations (`wapang db upgrade`).
"""

from __future__ import annotations

import random
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pymysql
from sqlalchemy import create_engine, insert
from sqlalchemy.engine import URL, Connection

from wapang.api.auth.passwords import hash_password
from wapang.api.models import Base

DATABASE = "wapang_bench"
DB_USER = "wapang_bench"
# Both spellings of the local host: the app connects over TCP to 127.0.0.1, and a
# ''@'localhost' or host-name match must never shadow the bench user.
DB_USER_HOSTS = ("127.0.0.1", "localhost")

USERS = 1_000
STORES = 100
ITEMS_PER_STORE = 100  # 10,000 items
REVIEWS = 20_000
POPULAR_ITEMS = 400  # items with POPULAR_REVIEWS reviews each: what the reviews scenario reads
POPULAR_REVIEWS = 20
ORDER_ITEMS = 200  # items with a huge stock: what the orders scenario buys
HUGE_STOCK = 1_000_000_000
DELETED_ITEMS = 100
SIGN_IN_USERS = 8  # users with their own argon2 hash; everyone else shares one
PASSWORD = "bench-pass-1234"
CART_USERS = 300
ORDERS = 2_000
WINDOW_SIZE = 20  # items a filtered search returns
WINDOWS = 64

WORDS = [
    "와플",
    "크로플",
    "딸기",
    "초코",
    "바닐라",
    "말차",
    "치즈",
    "허니",
    "버터",
    "시나몬",
    "블루베리",
    "바나나",
    "흑당",
    "coffee",
    "tea",
    "latte",
    "cookie",
    "brownie",
    "scone",
    "muffin",
    "bagel",
    "donut",
    "tart",
    "pie",
    "cake",
    "jam",
]


@dataclass
class Dataset:
    """What the scenarios need to know about the seeded rows."""

    sign_in_emails: list[str] = field(default_factory=list)
    store_ids: list[str] = field(default_factory=list)
    popular_item_ids: list[str] = field(default_factory=list)
    order_item_ids: list[str] = field(default_factory=list)
    price_windows: list[tuple[int, int]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Admin:
    """The MariaDB account that creates and drops the bench database and user (root locally)."""

    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "root"
    password: str = ""

    def connect(self, database: str | None = None) -> pymysql.connections.Connection:  # type: ignore[type-arg]
        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=database,
            autocommit=True,
            connect_timeout=5,
        )

    def url(self, database: str) -> URL:
        return URL.create(
            "mysql+pymysql",
            username=self.user,
            password=self.password or None,
            host=self.host,
            port=self.port,
            database=database,
            query={"charset": "utf8mb4"},
        )


def create_database_and_user(admin: Admin) -> str:
    """A fresh database and a user with a random password that owns it; returns the password."""
    password = secrets.token_urlsafe(24)
    connection = admin.connect()
    try:
        with connection.cursor() as cursor:
            drop_database_and_user_with(cursor)
            cursor.execute(
                f"CREATE DATABASE `{DATABASE}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
            for host in DB_USER_HOSTS:
                cursor.execute(f"CREATE USER '{DB_USER}'@'{host}' IDENTIFIED BY %s", (password,))
                cursor.execute(f"GRANT ALL PRIVILEGES ON `{DATABASE}`.* TO '{DB_USER}'@'{host}'")
    finally:
        connection.close()
    return password


def drop_database_and_user(admin: Admin) -> None:
    connection = admin.connect()
    try:
        with connection.cursor() as cursor:
            drop_database_and_user_with(cursor)
    finally:
        connection.close()


def drop_database_and_user_with(cursor: Any) -> None:
    cursor.execute(f"DROP DATABASE IF EXISTS `{DATABASE}`")
    for host in DB_USER_HOSTS:
        cursor.execute(f"DROP USER IF EXISTS '{DB_USER}'@'{host}'")


def seed(admin: Admin, rng: random.Random) -> Dataset:
    """Fill the migrated database; deterministic for a given `rng` seed (ids excepted)."""
    engine = create_engine(admin.url(DATABASE))
    try:
        with engine.begin() as connection:
            return _seed(connection, rng)
    finally:
        engine.dispose()


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _phone(number: int) -> str:
    return f"010-{number // 10_000:04d}-{number % 10_000:04d}"


def _when(rng: random.Random, now: datetime, days: int = 365) -> datetime:
    return now - timedelta(seconds=rng.randrange(days * 86_400), microseconds=rng.randrange(10**6))


def _insert(connection: Connection, table: str, rows: list[dict[str, Any]]) -> None:
    chunk = 2_000
    for start in range(0, len(rows), chunk):
        connection.execute(insert(Base.metadata.tables[table]), rows[start : start + chunk])


def _seed(connection: Connection, rng: random.Random) -> Dataset:
    now = datetime.now(UTC)
    data = Dataset()

    # Users: a few with their own hash (they sign in), the rest share one to keep seeding fast.
    own_hashes = [anyio.run(hash_password, PASSWORD) for _ in range(SIGN_IN_USERS)]
    shared_hash = anyio.run(hash_password, PASSWORD)
    hashes = own_hashes + [shared_hash] * (USERS - SIGN_IN_USERS)
    users = _users(rng, now, range(USERS), hashes)
    _insert(connection, "users", users)
    data.sign_in_emails = [user["email"] for user in users[:SIGN_IN_USERS]]

    # Stores: owned by the last STORES users, so the sign-in users are plain shoppers.
    stores = _stores(rng, now, users[-STORES:], 0)
    _insert(connection, "stores", stores)
    data.store_ids = [store["id"] for store in stores]

    # Items: random prices, about 10% out of stock, 1% deleted.
    items = _items(rng, now, stores)
    shuffled = items[:]
    rng.shuffle(shuffled)
    order_items = shuffled[:ORDER_ITEMS]
    popular = shuffled[ORDER_ITEMS : ORDER_ITEMS + POPULAR_ITEMS]
    deleted = shuffled[ORDER_ITEMS + POPULAR_ITEMS : ORDER_ITEMS + POPULAR_ITEMS + DELETED_ITEMS]
    for item in order_items:
        item["stock"] = HUGE_STOCK
    for item in deleted:
        item["deleted_at"] = _when(rng, now, 30)
    _insert(connection, "items", items)
    data.order_item_ids = [item["id"] for item in order_items]
    data.popular_item_ids = [item["id"] for item in popular]
    data.price_windows = _price_windows(items, rng)

    # Reviews: POPULAR_REVIEWS on each popular item, the rest spread at random; one per
    # (writer, item).
    live = [item for item in items if item["deleted_at"] is None]
    reviews: list[dict[str, Any]] = []
    taken: set[tuple[str, str]] = set()

    def review(item: dict[str, Any], writer: dict[str, Any]) -> None:
        taken.add((writer["id"], item["id"]))
        reviews.append(
            {
                "id": _uuid(rng),
                "item_id": item["id"],
                "writer_id": writer["id"],
                "rating": rng.randrange(1, 6),
                "comment": rng.choice(
                    ["맛있어요!", "배송이 빨라요.", "재구매 의사 있어요. " * 3, "so-so", "great"]
                ),
                "created_at": _when(rng, now, 300),
            }
        )

    for item in popular:
        for writer in rng.sample(users, POPULAR_REVIEWS):
            review(item, writer)
    while len(reviews) < REVIEWS:
        item, writer = rng.choice(live), rng.choice(users)
        if (writer["id"], item["id"]) not in taken:
            review(item, writer)
    _insert(connection, "reviews", reviews)

    # Carts of some users, and a history of orders with their snapshot lines.
    store_by_id = {store["id"]: store for store in stores}
    cart_lines = []
    for user in rng.sample(users, CART_USERS):
        for position, item in enumerate(rng.sample(live, rng.randrange(1, 5))):
            cart_lines.append(
                {
                    "user_id": user["id"],
                    "item_id": item["id"],
                    "quantity": rng.randrange(1, 4),
                    "position": position,
                }
            )
    _insert(connection, "cart_lines", cart_lines)
    orders, order_lines = [], []
    for _ in range(ORDERS):
        order_id = _uuid(rng)
        lines = []
        for position, item in enumerate(rng.sample(live, rng.randrange(1, 4))):
            store = store_by_id[item["store_id"]]
            lines.append(
                {
                    "order_id": order_id,
                    "position": position,
                    "item_id": item["id"],
                    "item_name": item["item_name"],
                    "price": item["price"],
                    "quantity": rng.randrange(1, 4),
                    "store_id": store["id"],
                    "store_name": store["store_name"],
                    "delivery_fee": store["delivery_fee"],
                }
            )
        fees = {line["store_id"]: line["delivery_fee"] for line in lines}
        total = sum(line["price"] * line["quantity"] for line in lines) + sum(fees.values())
        orders.append(
            {
                "id": order_id,
                "buyer_id": rng.choice(users)["id"],
                "status": rng.choice(["ORDERED", "COMPLETE", "COMPLETE", "CANCELED"]),
                "total_price": total,
                "created_at": _when(rng, now, 200),
            }
        )
        order_lines += lines
    _insert(connection, "orders", orders)
    _insert(connection, "order_lines", order_lines)

    data.counts = {
        "users": len(users),
        "stores": len(stores),
        "items": len(items),
        "reviews": len(reviews),
        "cart_lines": len(cart_lines),
        "orders": len(orders),
        "order_lines": len(order_lines),
    }
    return data


def _users(
    rng: random.Random, now: datetime, numbers: range, hashes: list[str]
) -> list[dict[str, Any]]:
    return [
        {
            "id": _uuid(rng),
            "email": f"user{number:04d}@bench.example.com",
            "hashed_password": hashed,
            "nickname": f"shopper{number:04d}",
            "address": f"서울시 관악구 {rng.randrange(1, 999)}",
            "phone_number": _phone(rng.randrange(10**8)) if number % 3 else None,
            "created_at": _when(rng, now, 730),
        }
        for number, hashed in zip(numbers, hashes, strict=True)
    ]


def _stores(
    rng: random.Random, now: datetime, owners: list[dict[str, Any]], first: int
) -> list[dict[str, Any]]:
    return [
        {
            "id": _uuid(rng),
            "owner_id": owner["id"],
            "store_name": f"bench store {number:03d}",
            "address": f"서울시 강남구 테헤란로 {number + 1}",
            "email": f"store{number:03d}@bench.example.com",
            "phone_number": _phone(50_000_000 + number),
            "delivery_fee": rng.randrange(0, 6) * 500,
            "created_at": _when(rng, now, 700),
        }
        for number, owner in enumerate(owners, start=first)
    ]


def _items(rng: random.Random, now: datetime, stores: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ITEMS_PER_STORE items per store: random prices, about 10% out of stock."""
    return [
        {
            "id": _uuid(rng),
            "store_id": store["id"],
            "item_name": " ".join(rng.sample(WORDS, 3))[:50],
            "price": rng.randrange(100, 1_000_000),
            "stock": 0 if rng.random() < 0.1 else rng.randrange(1, 500),
            "created_at": _when(rng, now, 600),
            "deleted_at": None,
        }
        for store in stores
        for _ in range(ITEMS_PER_STORE)
    ]


@dataclass
class Grown:
    store_ids: list[str]
    price_windows: list[tuple[int, int]]
    items: int


def grow(admin: Admin, rng: random.Random, items: int) -> Grown:
    """More stores of ITEMS_PER_STORE items each (and their owners), until the database holds
    `items` items: the same distribution as `seed` (prices, out of stock, 1% deleted), so a
    store's listing and a price window keep their size. Returns the scenarios' new inputs."""
    engine = create_engine(admin.url(DATABASE))
    now = datetime.now(UTC)
    try:
        with engine.begin() as connection:
            have = connection.exec_driver_sql("SELECT COUNT(*) FROM stores").scalar_one()
            shared = connection.exec_driver_sql(
                "SELECT hashed_password FROM users LIMIT 1"
            ).scalar_one()
            wanted = items // ITEMS_PER_STORE
            for first in range(have, wanted, 1_000):
                count = min(1_000, wanted - first)
                owners = _users(
                    rng, now, range(10**6 + first, 10**6 + first + count), [shared] * count
                )
                stores = _stores(rng, now, owners, first)
                rows = _items(rng, now, stores)
                for row in rng.sample(rows, len(rows) // 100):
                    row["deleted_at"] = _when(rng, now, 30)
                _insert(connection, "users", owners)
                _insert(connection, "stores", stores)
                _insert(connection, "items", rows)
            connection.exec_driver_sql("ANALYZE TABLE items, stores")
            listed = connection.exec_driver_sql("SELECT price, stock, deleted_at FROM items").all()
            store_ids = list(connection.exec_driver_sql("SELECT id FROM stores").scalars())
            total = len(listed)
    finally:
        engine.dispose()
    prices = [{"price": p, "stock": s, "deleted_at": d} for p, s, d in listed]
    return Grown(sorted(rng.sample(store_ids, STORES)), _price_windows(prices, rng), total)


def _price_windows(items: list[dict[str, Any]], rng: random.Random) -> list[tuple[int, int]]:
    """Price ranges that each select exactly WINDOW_SIZE live in-stock items."""
    prices = sorted(
        item["price"] for item in items if item["deleted_at"] is None and item["stock"] > 0
    )
    windows: list[tuple[int, int]] = []
    starts = list(range(1, len(prices) - WINDOW_SIZE - 1))
    rng.shuffle(starts)
    for start in starts:
        low, high = prices[start], prices[start + WINDOW_SIZE - 1]
        # No tie just outside the range, so the count is exactly WINDOW_SIZE.
        if prices[start - 1] < low and prices[start + WINDOW_SIZE] > high:
            windows.append((low, high))
        if len(windows) == WINDOWS:
            break
    return windows
