"""Row locks for orders (STYLE.md, 7): pk order, ``no_key``, ``of=("self",)``; call inside
``transaction.atomic`` and keep the block short."""

from __future__ import annotations

from .models import Cart, Checkout, Order


def lock_cart(cart_id: int) -> Cart:
    return Cart.objects.select_for_update(of=("self",), no_key=True).get(pk=cart_id)


def lock_checkout(checkout_id: int) -> Checkout:
    return Checkout.objects.select_for_update(of=("self",), no_key=True).get(pk=checkout_id)


def lock_order(order_id: int) -> Order:
    return Order.objects.select_for_update(of=("self",), no_key=True).get(pk=order_id)
