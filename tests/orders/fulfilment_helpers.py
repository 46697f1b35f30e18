"""Helpers for the fulfilment, notification, portal and admin tests: place an order through the
real services, confirm it the way the payment hand-over does (the status saved with
``update_fields``), move its parcels with the real logistics services."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from logistics.carriers import CarrierEvent
from logistics.models import Shipment
from logistics.shipments import mark_packed, mark_shipped
from logistics.tracking import record_tracking_events
from orders.locks import lock_order
from orders.models import Cart, CartLine, Order
from orders.services import Address, place_order, start_checkout

from .conftest import ADDRESS_DE


def place(buyer: Any, *pairs: Any, address: dict | None = None, currency: str = "EUR", language: str = "en") -> Order:
    cart = Cart.objects.create(user=buyer)
    for variant, quantity in pairs:
        CartLine.objects.create(cart=cart, variant=variant, quantity=quantity)
    checkout = start_checkout(
        cart, buyer=buyer, address=Address(**(address or ADDRESS_DE)), currency=currency, language=language
    )
    return place_order(checkout.token, buyer=buyer)


def confirm(order: Order) -> Order:
    """What the payment hand-over does once the payment is secured."""
    with transaction.atomic():
        order = lock_order(order.pk)
        order.status = Order.Status.CONFIRMED
        order.save(update_fields=["status", "updated_at"])
    return order


def parcel(order: Order, warehouse: Any) -> Shipment:
    return Shipment.objects.get(order_number=order.number, warehouse=warehouse)


def pack(shipment: Shipment) -> Shipment:
    return mark_packed(shipment)


def ship(shipment: Shipment, number: str, *, at: datetime | None = None) -> Shipment:
    return mark_shipped(shipment, tracking_number=number, carrier="simulated", shipped_at=at)


def deliver(shipment: Shipment, *, at: datetime | None = None) -> None:
    when = at or timezone.now()
    record_tracking_events(
        shipment.pk,
        [
            CarrierEvent(f"transit-{shipment.pk}", Shipment.Status.IN_TRANSIT, when - timedelta(hours=5), "On its way"),
            CarrierEvent(f"delivered-{shipment.pk}", Shipment.Status.DELIVERED, when, "Delivered"),
        ],
    )
