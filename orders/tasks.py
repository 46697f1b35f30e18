"""Orders tasks: thin, take ids, safe to run twice (STYLE.md, 16)."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task
from django.db import OperationalError

from marketplace.celery import Queue, TransientError


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


# --- Fulfilment, timeline and buyer e-mails (orders.fulfilment, orders.notifications) ------------

# A deadlock or lock timeout while the order's rows are locked: try again a little later.
RETRY_DATABASE = dict(
    autoretry_for=(OperationalError,), retry_backoff=True, retry_backoff_max=300, retry_jitter=True, max_retries=5
)
# The mail server refused or was unreachable: back off, up to an hour between attempts.
RETRY_MAIL = dict(
    autoretry_for=(SMTPException, OSError, TransientError),
    retry_backoff=30,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=10,
    acks_late=True,
)


@shared_task(queue=Queue.DEFAULT, ignore_result=True, **RETRY_DATABASE)
def advance_order(order_id: int) -> None:
    """A parcel of the order moved (or the order was confirmed): bring the order up to date."""
    from .fulfilment import advance_order as advance

    advance(order_id)


@shared_task(queue=Queue.DEFAULT, ignore_result=True, **RETRY_DATABASE)
def advance_order_number(order_number: str) -> None:
    """A parcel of the order ``order_number`` moved (logistics knows orders by number)."""
    from .fulfilment import advance_order as advance
    from .models import Order

    order_id = Order.objects.filter(number=order_number).values_list("pk", flat=True).first()
    if order_id is not None:
        advance(order_id)


@shared_task(queue=Queue.NOTIFICATIONS, ignore_result=True, **RETRY_MAIL)
def send_order_notification(order_id: int, kind: str) -> None:
    """The buyer's e-mail ``kind`` for the order, once (``OrderNotification``)."""
    from .notifications import send_notification

    send_notification(order_id, kind)


@shared_task(queue=Queue.DEFAULT, ignore_result=True, **RETRY_DATABASE)
def record_payment_event(payment_id: int, refund_id: int | None = None) -> None:
    """A payment was captured, or one of its refunds paid out: the order's timeline shows it."""
    from .fulfilment import record_payment_event as record

    record(payment_id, refund_id)


from .feedback_tasks import *  # noqa: E402, F403  (registers the feedback threads' tasks)
from .payment_tasks import *  # noqa: E402, F403  (payments of orders that expired unpaid)
