"""Shared steps for the money tests (cash on delivery, refunds, ledger, cancellation): place an
order through the real checkout services, pay it with the scripted or the COD method, move its
parcels with the logistics services (simulated carrier), everything after-commit executed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django.utils import timezone

from logistics.carriers.base import CarrierEvent
from logistics.models import Shipment
from logistics.shipments import mark_shipped
from logistics.tracking import record_tracking_events
from marketplace.markets import market_for_country
from orders.models import Cart, CartLine, Order
from orders.services import Address, place_order, start_checkout
from payments.base import PaymentContext
from payments.models import Payment
from payments.services import capture_payment, start_payment
from tests.orders.conftest import ADDRESS_DE

OnCommit = Callable[..., Any]  # pytest-django's django_capture_on_commit_callbacks


def place(buyer: Any, items: Iterable[tuple[Any, int]], *, address: dict | None = None, currency: str = "EUR") -> Order:
    cart = Cart.objects.create(user=buyer)
    for variant, quantity in items:
        CartLine.objects.create(cart=cart, variant=variant, quantity=quantity)
    checkout = start_checkout(
        cart, buyer=buyer, address=Address(**(address or ADDRESS_DE)), currency=currency, language="en"
    )
    return place_order(checkout.token, buyer=buyer)


def context(order: Order, *, domestic: bool = True, market: bool = True) -> PaymentContext:
    return PaymentContext(
        market=market_for_country(str(order.country)) if market else None,
        country=str(order.country),
        currency=order.currency,
        amount=order.total,
        buyer_id=order.buyer_id,
        all_shipments_domestic=domestic,
    )


def pay(order: Order, oncommit: OnCommit, *, method: str = "scripted", capture: bool = True) -> Payment:
    with oncommit(execute=True):
        ctx = context(order, market=method != "scripted")  # the scripted method is in no market
        payment = start_payment(order, method_code=method, ctx=ctx, return_url="/back/")
        if capture:
            payment = capture_payment(payment.pk)
    payment.refresh_from_db()
    return payment


def shipments(order: Order) -> list[Shipment]:
    return list(Shipment.objects.filter(order_number=order.number).order_by("pk"))


def ship(shipment: Shipment, oncommit: OnCommit, *, number: str | None = None, at: datetime | None = None) -> Shipment:
    with oncommit(execute=True):
        mark_shipped(shipment, tracking_number=number or f"TRK-{shipment.pk:06d}", shipped_at=at)
    shipment.refresh_from_db()
    return shipment


def report(shipment: Shipment, oncommit: OnCommit, *events: tuple[str, str, datetime]) -> Shipment:
    """The carrier reports ``(key, status, when)`` events for the parcel (as a webhook would)."""
    with oncommit(execute=True):
        record_tracking_events(shipment.pk, [CarrierEvent(key, status, when, status) for key, status, when in events])
    shipment.refresh_from_db()
    return shipment


def deliver(shipment: Shipment, oncommit: OnCommit, *, at: datetime | None = None) -> Shipment:
    return report(shipment, oncommit, ("dlv", Shipment.Status.DELIVERED, at or timezone.now()))


def refuse(shipment: Shipment, oncommit: OnCommit, *, at: datetime | None = None) -> Shipment:
    when = at or timezone.now()
    return report(
        shipment,
        oncommit,
        ("ref", Shipment.Status.EXCEPTION, when),
        ("rts", Shipment.Status.RETURNED, when),
    )
