"""Every table, imported in one place so Alembic and the tests see the whole schema."""

from wapang.carts.models import CartLine
from wapang.database import Base
from wapang.items.models import Item
from wapang.orders.models import Order, OrderLine
from wapang.reviews.models import Review
from wapang.sessions.models import BlockedToken
from wapang.stores.models import Store
from wapang.users.models import User

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
