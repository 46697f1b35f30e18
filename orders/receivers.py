from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from .models import Cart
from .selectors import CART_SESSION_KEY
from .services import merge_carts


@receiver(user_logged_in, dispatch_uid="orders.merge_session_cart")
def merge_session_cart(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """The cart filled before signing in joins the buyer's cart (quantities combined, capped by stock)."""
    if request is None or not hasattr(request, "session"):
        return
    token = request.session.pop(CART_SESSION_KEY, None)
    if not token:
        return
    anonymous = Cart.objects.filter(token=token, user=None, status=Cart.Status.OPEN).first()
    if anonymous is not None:
        merge_carts(anonymous, user=user)
