"""Logistics tasks: thin, take ids, safe to run twice (STYLE.md, 16)."""

from __future__ import annotations

from celery import shared_task

from marketplace.celery import RETRY_TRANSIENT, Queue

from . import tracking
from .carriers import CarrierError


@shared_task(queue=Queue.LOGISTICS)
def poll_tracking() -> int:
    """Every ten minutes (beat): queue one batch task per batch of due shipments. Returns how many."""
    batches, _skipped = tracking.due_batches()
    for ids in batches:
        tracking.claim(ids)  # a slow worker must not get the same shipments queued again
        poll_tracking_batch.delay(ids)
    return len(batches)


@shared_task(queue=Queue.LOGISTICS, **RETRY_TRANSIENT)
def poll_tracking_batch(shipment_ids: list[int]) -> int:
    """Poll one batch and store new events; returns how many. When the carrier fails, the
    shipments keep their status and events, their next poll is pushed out, and this task retries
    with backoff (``RETRY_TRANSIENT``). A rerun stores nothing twice."""
    result = tracking.poll_batch(shipment_ids)
    if result.failed:
        raise CarrierError("; ".join(result.errors))
    return result.events
