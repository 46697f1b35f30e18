"""Orders tasks about payments (registered through ``orders.tasks``): thin, take ids, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from marketplace.celery import RETRY_TRANSIENT, Queue

__all__ = ["settle_payments_of_unpaid_order"]


@shared_task(queue=Queue.PAYMENTS, ignore_result=True, **RETRY_TRANSIENT)
def settle_payments_of_unpaid_order(order_id: int) -> None:
    """An order expired unpaid: cancel its attempt still open (or void a payment secured too late)."""
    from .services import settle_payments_of_unpaid_order as settle

    settle(order_id)
