"""What payments does when logistics or payments itself announces something (connected in
``PaymentsConfig.ready``). Each receiver is idempotent and quick (no provider is called: cash on
delivery and the ledger are local), and logs rather than raises: the signals are sent from
``on_commit`` callbacks of a tracking batch, where one failure must not stop the others.

- ``shipment_delivered``: queue ``tasks.parcel_delivered`` (capture the order's cash-on-delivery
  payment once every parcel is delivered; give the order's ledger entries their payable date).
- ``shipment_refused``: queue ``tasks.parcel_refused`` (cancel the order's cash-on-delivery
  payment; orders cancels the order and restocks, in ``orders.cancellation``).
- ``payment_captured`` / ``payment_refunded``: the seller ledger's entries.
"""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import receiver

from logistics.signals import shipment_delivered, shipment_refused

from . import ledger, tasks
from .signals import payment_captured, payment_refunded

logger = logging.getLogger(__name__)


@receiver(shipment_delivered, dispatch_uid="payments.on_shipment_delivered")
def on_shipment_delivered(sender: Any, *, order_number: str = "", **kwargs: Any) -> None:
    """Sent from a tracking batch's commit, once per parcel: only queue the work (no query here)."""
    if order_number:
        tasks.parcel_delivered.delay(order_number)


@receiver(shipment_refused, dispatch_uid="payments.on_shipment_refused")
def on_shipment_refused(sender: Any, *, order_number: str = "", **kwargs: Any) -> None:
    if order_number:
        tasks.parcel_refused.delay(order_number)


@receiver(payment_captured, dispatch_uid="payments.ledger_on_capture")
def on_payment_captured(sender: Any, *, payment_id: int, **kwargs: Any) -> None:
    try:
        ledger.record_capture(payment_id)
    except Exception:
        logger.exception("ledger entries for the capture of payment %s failed", payment_id)


@receiver(payment_refunded, dispatch_uid="payments.ledger_on_refund")
def on_payment_refunded(sender: Any, *, refund_id: int | None = None, **kwargs: Any) -> None:
    if refund_id is None:
        return
    try:
        ledger.record_refund(refund_id)
    except Exception:
        logger.exception("ledger entries for refund %s failed", refund_id)
