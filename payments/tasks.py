"""Payments tasks: thin, take ids, safe to run twice (STYLE.md, 16).

Reconciliation: a payment still pending (or waiting for the buyer) ``PAYMENT_RECONCILE_AFTER_MINUTES``
after its last change probably lost its webhook, or the buyer never came back. Every five minutes
(beat) the provider is asked about each, in batches of ``PAYMENT_RECONCILE_BATCH_SIZE``, and its
answer is applied through ``services.apply_result`` (kind ``reconcile``): whatever arrives later,
webhook or return, then finds the payment already there and is a no-op. An answer that changes
nothing is not logged (so a payment nobody pays does not fill its log every five minutes), and
payments older than ``PAYMENT_RECONCILE_MAX_AGE_HOURS`` are left alone. Any method implementing
``retrieve`` takes part (Stripe, the demo gateway); others are skipped. When the provider fails,
the other payments of the batch are still done and the batch retries with backoff
(``RETRY_TRANSIENT``); already reconciled payments are skipped on the rerun.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from marketplace.celery import RETRY_TRANSIENT, Queue, TransientError

from .exceptions import PaymentError, ProviderError
from .models import Payment, PaymentEvent
from .registry import get_method
from .services import apply_result

logger = logging.getLogger(__name__)


def due_for_reconciliation(*, now: datetime | None = None) -> list[int]:
    """Ids of open payments with no change for ``PAYMENT_RECONCILE_AFTER_MINUTES``, oldest change first."""
    now = now or timezone.now()
    quiet_since = now - timedelta(minutes=settings.PAYMENT_RECONCILE_AFTER_MINUTES)
    born_after = now - timedelta(hours=settings.PAYMENT_RECONCILE_MAX_AGE_HOURS)
    return list(
        Payment.objects.filter(state__in=Payment.OPEN_STATES, updated_at__lte=quiet_since, created_at__gte=born_after)
        .order_by("updated_at", "pk")
        .values_list("pk", flat=True)
    )


def reconcile_payment(payment_id: int) -> bool:
    """Ask the provider about one open payment and apply its answer. True when something changed.
    The provider is asked outside any transaction; ``apply_result`` then locks the row."""
    payment = Payment.objects.filter(pk=payment_id, state__in=Payment.OPEN_STATES).first()
    if payment is None:  # moved on since it was picked (webhook, return, an earlier run)
        return False
    try:
        method = get_method(payment.method)
        result = method.retrieve(payment)
    except NotImplementedError:
        logger.debug("payment %s: method %s cannot be reconciled", payment.pk, payment.method)
        return False
    unchanged = (
        result.state == payment.state
        and (result.next_action.kind == "none" or result.next_action.as_dict() == payment.next_action)
        and (not result.reference or result.reference == payment.provider_reference)
    )
    if unchanged:
        return False
    after = apply_result(payment.pk, result, kind=PaymentEvent.Kind.RECONCILE)
    logger.info("payment %s reconciled: %s -> %s", payment.pk, payment.state, after.state)
    return after.state != payment.state


@shared_task(queue=Queue.PAYMENTS)
def reconcile_pending_payments() -> int:
    """Every five minutes (beat): queue one batch task per batch of due payments. Returns how many payments."""
    ids = due_for_reconciliation()
    size = max(int(settings.PAYMENT_RECONCILE_BATCH_SIZE), 1)
    for start in range(0, len(ids), size):
        reconcile_payment_batch.delay(ids[start : start + size])
    return len(ids)


@shared_task(queue=Queue.PAYMENTS, **RETRY_TRANSIENT)
def reconcile_payment_batch(payment_ids: list[int]) -> int:
    """Reconcile one batch; returns how many payments changed state. A provider failure on some
    payments retries the batch with backoff once the others are done."""
    changed, failures = 0, []
    for payment_id in payment_ids:
        try:
            changed += reconcile_payment(payment_id)
        except ProviderError as exc:
            failures.append(f"payment {payment_id}: {exc.message}")
        except PaymentError as exc:  # unknown method, refused transition: retrying will not help
            logger.error("payment %s cannot be reconciled: %s", payment_id, exc.message)
    if failures:
        logger.warning("reconciliation will retry: %s", "; ".join(failures))
        raise TransientError("; ".join(failures))
    return changed


# --- Parcels of an order (queued by payments.receivers, so a tracking batch only enqueues) ----------


@shared_task(queue=Queue.PAYMENTS, **RETRY_TRANSIENT)
def parcel_delivered(order_number: str) -> None:
    """A parcel of the order was delivered: capture its cash on delivery once all are, and date the
    ledger entries payable. Both are idempotent."""
    from . import ledger
    from .methods import cod

    cod.capture_on_delivery(order_number)
    ledger.mark_payable(order_number)


@shared_task(queue=Queue.PAYMENTS, **RETRY_TRANSIENT)
def parcel_refused(order_number: str) -> None:
    """A parcel of the order came back refused: its cash-on-delivery payment is cancelled."""
    from .methods import cod

    cod.cancel_on_refusal(order_number)
