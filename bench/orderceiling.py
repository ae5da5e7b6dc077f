"""The database ceiling of an order: the transaction `POST /api/orders` runs, on the raw
driver, with no framework, ORM, validation or middleware (served by bench/dbceiling.py under
`/orders/api/orders` and `/hot_item/api/orders`).

The same statements, in the same order and with the same locks as wapang/api/orders/service.py
(`place_order`) after authentication: the caller's row, the snapshot of the ordered live items
and their stores, the order, its lines, then the one conditional stock UPDATE (rows locked in
primary-key order, held to the commit), then COMMIT. READ COMMITTED, like the app's write
engine. The answer is the app's `OrderOut` JSON (lines grouped by store in order of first
appearance, each store's delivery fee once), so the work per request is the app's minus
everything the framework adds.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

CALLER = (
    "SELECT users.id, users.email, users.nickname, users.address, users.phone_number, "
    "users.hashed_password, users.token_version FROM users WHERE users.id = %s"
)
SNAPSHOT = (
    "SELECT items.id AS item_id, items.item_name, items.price, stores.id AS store_id, "
    "stores.store_name, stores.delivery_fee FROM items INNER JOIN stores "
    "ON stores.id = items.store_id WHERE items.id IN ({ids}) AND items.deleted_at IS NULL"
)
ORDER = (
    "INSERT INTO orders (id, buyer_id, status, total_price, created_at) VALUES (%s, %s, %s, %s, %s)"
)
LINES = (
    "INSERT INTO order_lines (order_id, position, item_id, item_name, price, quantity, "
    "store_id, store_name, delivery_fee) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
STOCK = (
    "UPDATE items SET stock=(items.stock - CASE items.id {whens} END) "
    "WHERE items.id IN ({ids}) AND items.deleted_at IS NULL "
    "AND items.stock >= CASE items.id {whens} END"
)


def _marks(count: int) -> str:
    return ", ".join(["%s"] * count)


def priced(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """`price_lines` of wapang/api/orders/pricing.py, on dicts."""
    groups: dict[str, dict[str, Any]] = {}
    for line in lines:
        group = groups.get(line["store_id"])
        if group is None:
            group = groups[line["store_id"]] = {
                "store_id": line["store_id"],
                "store_name": line["store_name"],
                "delivery_fee": line["delivery_fee"],
                "store_total_price": line["delivery_fee"],
                "items": [],
            }
        subtotal = line["price"] * line["quantity"]
        group["items"].append(
            {
                "item_id": line["item_id"],
                "item_name": line["item_name"],
                "price": line["price"],
                "quantity": line["quantity"],
                "subtotal": subtotal,
            }
        )
        group["store_total_price"] += subtotal
    details = list(groups.values())
    return {"details": details, "total_price": sum(g["store_total_price"] for g in details)}


async def place_order(connection: Any, subject: str, body: bytes) -> tuple[int, Any]:
    """One order in one transaction; (status, JSON document)."""
    quantities: dict[str, int] = {}
    for line in json.loads(body)["items"]:
        quantities[line["item_id"]] = quantities.get(line["item_id"], 0) + line["quantity"]
    ids = list(quantities)
    async with connection.cursor() as cursor:
        try:
            await cursor.execute(CALLER, (subject,))
            if not await cursor.fetchall():
                raise LookupError("no such user")
            await cursor.execute(SNAPSHOT.format(ids=_marks(len(ids))), ids)
            columns = [column[0] for column in cursor.description]
            found = {
                row[0]: dict(zip(columns, row, strict=True)) for row in await cursor.fetchall()
            }
            if len(found) != len(ids):
                raise LookupError("item not found")
            lines = [{**found[item], "quantity": quantities[item]} for item in ids]
            document = priced(lines)
            order_id = str(uuid.uuid4())
            now = datetime.now(UTC).replace(tzinfo=None)
            await cursor.execute(
                ORDER, (order_id, subject, "ORDERED", document["total_price"], now)
            )
            await cursor.executemany(
                LINES,
                [
                    (
                        order_id,
                        position,
                        line["item_id"],
                        line["item_name"],
                        line["price"],
                        line["quantity"],
                        line["store_id"],
                        line["store_name"],
                        line["delivery_fee"],
                    )
                    for position, line in enumerate(lines)
                ],
            )
            whens = " ".join(["WHEN %s THEN %s"] * len(ids))
            pairs = [value for item in ids for value in (item, quantities[item])]
            await cursor.execute(
                STOCK.format(whens=whens, ids=_marks(len(ids))), [*pairs, *ids, *pairs]
            )
            if cursor.rowcount != len(ids):
                raise LookupError("not enough stock")
            await connection.commit()
        except BaseException:
            await connection.rollback()
            raise
    return 201, {**document, "order_id": order_id, "status": "ORDERED"}
