from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .selectors import cart_count, current_cart


def cart(request: HttpRequest) -> dict[str, Any]:
    """The header's cart count, read only by pages that show it."""
    return {"cart_count": SimpleLazyObject(lambda: cart_count(current_cart(request)))}


def feedback(request: HttpRequest) -> dict[str, Any]:
    """The header's count of unread feedback messages (as a buyer and for the user's shop) and the
    portal's (the shop's only), read only by pages that show them: one query each, none for
    anonymous visitors."""
    from .feedback_selectors import acting_seller_id, seller_unread_count, unread_count

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"unread_count": 0, "shop_unread_count": 0}

    def shop() -> int:
        seller_id = acting_seller_id(user)
        return seller_unread_count(seller_id) if seller_id else 0

    return {"unread_count": SimpleLazyObject(lambda: unread_count(user)), "shop_unread_count": SimpleLazyObject(shop)}
