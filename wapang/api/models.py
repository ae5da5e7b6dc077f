"""Every table, imported in one place so Alembic and the tests see the whole schema."""

from wapang.api.carts.models import CartLine
from wapang.api.items.models import Item
from wapang.api.orders.models import Order, OrderLine
from wapang.api.reviews.models import Review
from wapang.api.signin.models import BlockedToken
from wapang.api.stores.models import Store
from wapang.api.users.models import User
from wapang.db.base import Base

__all__ = [
    "Base",
    "BlockedToken",
    "CartLine",
    "Item",
    "Order",
    "OrderLine",
    "Review",
    "Store",
    "User",
]
