"""Receivers for the order's progress, timeline and e-mails (connected in ``OrdersConfig.ready``).

Each is quick: it resolves an id and queues a task (the signals arrive after their commit).

- A parcel was packed, shipped or delivered (``logistics.signals``): ``advance_order``.
- An order's status was saved (``post_save`` with ``status`` among the fields saved, whoever saved
  it: payment confirmation, cancellation, expiry, fulfilment): the timeline gets the status once,
  and the buyer's e-mail for it is queued once (``fulfilment.record_status_event``).
- ``orders.signals.order_cancelled``: the cancellation e-mail (idempotent with the above).
- A payment captured or a refund paid out (``payments.signals``): a timeline entry with the amount.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from logistics.signals import shipment_delivered, shipment_packed, shipment_shipped
from payments.signals import payment_captured, payment_refunded

from . import tasks
from .fulfilment import record_status_event
from .models import Order, OrderNotification
from .signals import order_cancelled


@receiver([shipment_packed, shipment_shipped, shipment_delivered], dispatch_uid="orders.advance_order_on_shipment")
def shipment_moved(sender: Any, order_number: str = "", **kwargs: Any) -> None:
    """Sent from a tracking batch's commit, once per parcel: only queue the work (no query here)."""
    if order_number:
        tasks.advance_order_number.delay(order_number)


@receiver(post_save, sender=Order, dispatch_uid="orders.record_status_event")
def order_saved(sender: Any, instance: Order, update_fields: Any = None, raw: bool = False, **kwargs: Any) -> None:
    if raw or (update_fields is not None and "status" not in update_fields):
        return
    record_status_event(instance)


@receiver(payment_captured, dispatch_uid="orders.timeline_payment_captured")
def payment_was_captured(sender: Any, payment_id: int, **kwargs: Any) -> None:
    tasks.record_payment_event.delay(payment_id)


@receiver(payment_refunded, dispatch_uid="orders.timeline_payment_refunded")
def payment_was_refunded(sender: Any, payment_id: int, refund_id: int | None = None, **kwargs: Any) -> None:
    tasks.record_payment_event.delay(payment_id, refund_id)


@receiver(order_cancelled, dispatch_uid="orders.notify_order_cancelled")
def order_was_cancelled(sender: Any, order_id: int, **kwargs: Any) -> None:
    tasks.send_order_notification.delay(order_id, OrderNotification.Kind.CANCELLED)
