"""Receivers of the orders app (connected in ``OrdersConfig.ready``); each is quick and idempotent.

- Sign-in: the session cart joins the buyer's cart.
- ``payments.signals`` (sent after the commit that changed the payment):
  ``payment_secured`` confirms the order and its sub-orders (its stock then stays reserved: the
  expiry task only touches orders awaiting payment); ``payment_pending`` extends the order's
  reservation by a step, up to a ceiling from placing. ``payment_failed`` and
  ``payment_cancelled`` need nothing: the order stays awaiting payment, and the buyer may pay
  again from the order page until the reservation runs out (then the order expires and its stock
  goes back; ``services.expire_unpaid_order`` also cancels an attempt still open).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from payments.signals import payment_pending, payment_secured

from .models import Cart
from .selectors import CART_SESSION_KEY
from .services import confirm_paid_order, extend_reservation, merge_carts


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


@receiver(payment_secured, dispatch_uid="orders.confirm_paid_order")
def order_payment_secured(sender: Any, payment_id: int, order_id: int, **kwargs: Any) -> None:
    confirm_paid_order(order_id, payment_id)  # one short locked update


@receiver(payment_pending, dispatch_uid="orders.extend_reservation")
def order_payment_pending(sender: Any, payment_id: int, order_id: int, **kwargs: Any) -> None:
    extend_reservation(order_id)  # one short locked update
