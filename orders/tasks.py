"""Orders tasks: thin, take ids, safe to run twice (STYLE.md, 16)."""

from __future__ import annotations

from celery import shared_task

from marketplace.celery import Queue


@shared_task(queue=Queue.DEFAULT, ignore_result=True)
def expire_unpaid_orders() -> int:
    """Every five minutes (beat): queue the release of each unpaid order whose reservation ran out."""
    from .services import due_unpaid_orders

    ids = due_unpaid_orders()
    for order_id in ids:
        expire_unpaid_order.delay(order_id)
    return len(ids)


@shared_task(queue=Queue.DEFAULT, ignore_result=True)
def expire_unpaid_order(order_id: int) -> None:
    from .services import expire_unpaid_order as expire

    expire(order_id)
