from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .selectors import cart_count, current_cart


def cart(request: HttpRequest) -> dict[str, Any]:
    """The header's cart count, read only by pages that show it."""
    return {"cart_count": SimpleLazyObject(lambda: cart_count(current_cart(request)))}
