"""Tracking: store what carriers report, move shipments forward, poll the carriers in batches.

Invariants:
- One row per (shipment, event key): polling twice, or a webhook repeating a poll, stores nothing
  twice (a unique constraint, and inserts that ignore conflicts).
- Status only moves along ``Shipment.TRANSITIONS``; an event that would move it back is kept in
  the timeline and changes nothing.
- ``shipment_delivered`` is sent after the commit that first sets ``delivered_at``: exactly once.
- The carrier is called outside any transaction; the lock is held only while writing (STYLE.md, 7).
- A carrier failure stores nothing, counts the failure on the shipments and pushes their next poll
  out (backoff, up to ``BACKOFF_MAX``); the Celery batch task also retries with backoff.

Queries per batch do not grow with its size: load, lock, existing keys, insert (per 1,000
events), bookkeeping update, status update.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.db.models.functions import Least
from django.utils import timezone

from .carriers import CarrierError, CarrierEvent, TrackingRequest, TrackingUpdate, carriers
from .locks import lock_shipments
from .models import Shipment, TrackingEvent
from .signals import shipment_delivered, shipment_refused

logger = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(minutes=10)  # one beat: the first failure costs nothing extra
BACKOFF_MAX = timedelta(hours=6)
CLAIM_FOR = timedelta(minutes=30)  # three beats
INSERT_BATCH = 1000
MAX_FAILURES = 1000  # the counter stops here; the backoff stopped growing long before
STATUS_VALUES = frozenset(Shipment.Status.values)


@dataclass(frozen=True)
class RecordResult:
    shipment_id: int
    new_events: int
    status: str
    status_changed: bool
    delivered: bool  # this call recorded the delivery (the signal is queued)


@dataclass(frozen=True)
class BatchResult:
    shipments: int = 0
    events: int = 0
    failed: int = 0
    errors: tuple[str, ...] = ()


@dataclass
class PollResult:
    shipments: int = 0
    events: int = 0
    failed: int = 0
    skipped: int = 0
    batches: int = 0
    errors: list[str] = field(default_factory=list)


# --- Recording ---------------------------------------------------------------------------------


def record_tracking_events(
    shipment_id: int, events: Sequence[CarrierEvent], *, source: str = TrackingEvent.Source.WEBHOOK
) -> RecordResult:
    """Store ``events`` for one shipment (webhooks, operators). See ``record_tracking_batch``."""
    return record_tracking_batch({shipment_id: events}, source=source)[shipment_id]


@transaction.atomic
def record_tracking_batch(
    events_by_shipment: Mapping[int, Sequence[CarrierEvent]],
    *,
    source: str,
    polled_at: datetime | None = None,
) -> dict[int, RecordResult]:
    """Store new events and move each shipment forward, under a lock, idempotently.

    ``polled_at`` (polls only) also records a successful poll: failures reset, next poll at the
    next beat. Shipments that no longer exist are skipped.
    """
    shipments = lock_shipments(events_by_shipment, only=("pk", "status", "delivered_at", "order_number"))
    if not shipments:
        return {}
    existing = set(TrackingEvent.objects.filter(shipment_id__in=list(shipments)).values_list("shipment_id", "key"))
    new_rows: list[TrackingEvent] = []
    changed: list[Shipment] = []
    delivered: list[Shipment] = []
    refused: list[Shipment] = []  # returned to the sender, never delivered (RETURNED is final: once)
    results: dict[int, RecordResult] = {}
    now = timezone.now()
    for shipment_id, shipment in shipments.items():
        incoming = _unique_by_key(events_by_shipment[shipment_id])
        fresh = [event for event in incoming if (shipment_id, event.key) not in existing]
        new_rows.extend(_row(shipment_id, event, source) for event in fresh)
        before, was_delivered = shipment.status, shipment.delivered_at is not None
        for event in incoming:  # in time order: each applies only if the table allows it
            if event.status and shipment.can_become(event.status):
                shipment.status = event.status
                if event.status == Shipment.Status.DELIVERED and shipment.delivered_at is None:
                    shipment.delivered_at = event.occurred_at
        if shipment.status != before:
            changed.append(shipment)
        if not was_delivered and shipment.delivered_at is not None:
            delivered.append(shipment)
        returned = shipment.status == Shipment.Status.RETURNED and before != Shipment.Status.RETURNED
        if returned and shipment.delivered_at is None:
            refused.append(shipment)
        results[shipment_id] = RecordResult(
            shipment_id, len(fresh), shipment.status, shipment.status != before, shipment in delivered
        )
    TrackingEvent.objects.bulk_create(new_rows, ignore_conflicts=True, batch_size=INSERT_BATCH)
    if polled_at is not None:
        Shipment.objects.filter(pk__in=list(shipments)).update(
            last_polled_at=polled_at, next_poll_at=None, poll_failures=0, last_poll_error=""
        )
    if changed:
        _write_statuses(changed, now)
    for shipment in delivered:
        transaction.on_commit(_announce_delivery(shipment))
    for shipment in refused:
        transaction.on_commit(_announce_refusal(shipment, now))
    return results


def _write_statuses(changed: list[Shipment], now: datetime) -> None:
    """One UPDATE for every changed shipment. On PostgreSQL from arrays (``bulk_update`` builds a
    CASE per row, which costs seconds for a batch of 500); elsewhere ``bulk_update``."""
    if connection.vendor != "postgresql":
        for shipment in changed:
            shipment.updated_at = now
        Shipment.objects.bulk_update(changed, ["status", "delivered_at", "updated_at"], batch_size=INSERT_BATCH)
        return
    table = connection.ops.quote_name(Shipment._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS s SET status = v.status, delivered_at = v.delivered_at, updated_at = %s "  # noqa: S608 (a model's table name)
            "FROM unnest(%s::bigint[], %s::varchar[], %s::timestamptz[]) AS v(id, status, delivered_at) "
            "WHERE s.id = v.id",
            [
                now,
                [s.pk for s in changed],
                [s.status for s in changed],
                [s.delivered_at for s in changed],
            ],
        )


def _unique_by_key(events: Iterable[CarrierEvent]) -> list[CarrierEvent]:
    seen: dict[str, CarrierEvent] = {}
    for event in events:
        seen.setdefault(event.key, event)
    return sorted(seen.values(), key=lambda e: (e.occurred_at, e.key))


def _row(shipment_id: int, event: CarrierEvent, source: str) -> TrackingEvent:
    return TrackingEvent(
        shipment_id=shipment_id,
        key=event.key[:64],
        status=event.status if event.status in STATUS_VALUES else "",
        carrier_code=event.carrier_code[:60],
        description=event.description[:300],
        location=event.location[:200],
        occurred_at=event.occurred_at,
        source=source,
    )


def _announce_delivery(shipment: Shipment) -> Callable[[], None]:
    shipment_id, order_number, delivered_at = shipment.pk, shipment.order_number, shipment.delivered_at

    def send() -> None:
        shipment_delivered.send(
            sender=Shipment, shipment_id=shipment_id, order_number=order_number, delivered_at=delivered_at
        )

    return send


def _announce_refusal(shipment: Shipment, returned_at: datetime) -> Callable[[], None]:
    shipment_id, order_number = shipment.pk, shipment.order_number

    def send() -> None:
        shipment_refused.send(
            sender=Shipment, shipment_id=shipment_id, order_number=order_number, returned_at=returned_at
        )

    return send


# --- Polling -----------------------------------------------------------------------------------


def due_shipments(*, now: datetime | None = None) -> QuerySet[Shipment]:
    """Shipments the carriers should be asked about now: tracked, not backing off."""
    now = now or timezone.now()
    return (
        Shipment.objects.filter(status__in=Shipment.TRACKED)
        .exclude(tracking_number="")
        .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
    )


def due_batches(*, now: datetime | None = None, batch_size: int | None = None) -> tuple[list[list[int]], int]:
    """The ids to poll, in batches of one carrier each, and how many were skipped because their
    carrier is not configured (e.g. the tracking API without a key). One query."""
    size = batch_size or settings.TRACKING_POLL_BATCH_SIZE
    by_carrier: dict[str, list[int]] = defaultdict(list)
    for pk, code in due_shipments(now=now).order_by("carrier", "pk").values_list("pk", "carrier"):
        by_carrier[code].append(pk)
    batches: list[list[int]] = []
    skipped = 0
    for code, ids in by_carrier.items():
        if not _carrier_ready(code):
            skipped += len(ids)
            continue
        batches.extend(ids[start : start + size] for start in range(0, len(ids), size))
    return batches, skipped


def claim(shipment_ids: Sequence[int], *, now: datetime | None = None) -> None:
    """Keep queued shipments out of the next beats while their batch waits for a worker (one
    UPDATE). The batch's poll then clears the claim (success) or replaces it (backoff); a batch
    that is lost makes them due again after ``CLAIM_FOR``."""
    now = now or timezone.now()
    Shipment.objects.filter(pk__in=list(shipment_ids)).update(next_poll_at=now + CLAIM_FOR)


def _carrier_ready(code: str) -> bool:
    try:
        return carriers.get(code).is_configured()
    except KeyError:
        logger.warning("Shipments use carrier %r, which is not in settings.CARRIERS", code)
        return False


def poll_batch(shipment_ids: Sequence[int], *, now: datetime | None = None) -> BatchResult:
    """Ask the carrier about these shipments and record the answer. A carrier failure leaves them
    unchanged except for the failure count and the next poll time (backoff); the result says so
    and the caller decides whether to raise (the Celery task does, to retry)."""
    now = now or timezone.now()
    rows = list(
        Shipment.objects.filter(pk__in=list(shipment_ids), status__in=Shipment.TRACKED)
        .exclude(tracking_number="")
        .select_related("warehouse")
        .only(
            "pk",
            "carrier",
            "tracking_number",
            "shipped_at",
            "destination_country",
            "poll_failures",
            "warehouse__country",
            "warehouse__city",
        )
        .order_by("pk")
    )
    by_carrier: dict[str, list[Shipment]] = defaultdict(list)
    for shipment in rows:
        by_carrier[shipment.carrier].append(shipment)
    total = BatchResult()
    for code, group in by_carrier.items():
        total = _merge(total, _poll_group(code, group, now=now))
    return total


def _poll_group(code: str, group: list[Shipment], *, now: datetime) -> BatchResult:
    try:
        carrier = carriers.get(code)
        answers = carrier.track([tracking_request(s) for s in group], now=now)
    except (CarrierError, KeyError) as exc:
        error = str(exc) or exc.__class__.__name__
        logger.warning("Tracking poll of %s shipment(s) with %s failed: %s", len(group), code, error)
        _record_poll_failure(group, error=error, now=now)
        return BatchResult(failed=len(group), errors=(f"{code}: {error}",))
    results = record_tracking_batch(
        {s.pk: answers.get(s.tracking_number, ()) for s in group},
        source=TrackingEvent.Source.POLL,
        polled_at=now,
    )
    return BatchResult(shipments=len(results), events=sum(r.new_events for r in results.values()))


def tracking_request(shipment: Shipment) -> TrackingRequest:
    return TrackingRequest(
        shipment_id=shipment.pk,
        tracking_number=shipment.tracking_number,
        shipped_at=shipment.shipped_at,
        origin_country=str(shipment.warehouse.country),
        origin_city=shipment.warehouse.city,
        destination_country=str(shipment.destination_country),
    )


def backoff(failures: int) -> timedelta:
    """How long to wait after ``failures`` failed polls in a row: 10, 20, 40 min... up to 6 h."""
    return min(BACKOFF_BASE * 2 ** max(failures - 1, 0), BACKOFF_MAX)


def _record_poll_failure(group: list[Shipment], *, error: str, now: datetime) -> None:
    """One UPDATE: one more failure each, and the next poll pushed out by that count's backoff."""
    counts = sorted({s.poll_failures for s in group})
    Shipment.objects.filter(pk__in=[s.pk for s in group]).update(
        poll_failures=Least(F("poll_failures") + 1, Value(MAX_FAILURES)),
        next_poll_at=Case(
            *[When(poll_failures=n, then=Value(now + backoff(n + 1))) for n in counts],
            default=Value(now + BACKOFF_MAX),
        ),
        last_polled_at=now,
        last_poll_error=error[:300],
    )


def _merge(a: BatchResult, b: BatchResult) -> BatchResult:
    return BatchResult(a.shipments + b.shipments, a.events + b.events, a.failed + b.failed, a.errors + b.errors)


def poll_tracking(*, now: datetime | None = None, batch_size: int | None = None) -> PollResult:
    """One complete poll, in this process (``manage.py poll_tracking``, the benchmark). The beat
    task fans the same batches out to workers instead."""
    now = now or timezone.now()
    batches, skipped = due_batches(now=now, batch_size=batch_size)
    result = PollResult(skipped=skipped)
    for ids in batches:
        batch = poll_batch(ids, now=now)
        result.batches += 1
        result.shipments += batch.shipments
        result.events += batch.events
        result.failed += batch.failed
        result.errors.extend(batch.errors)
    return result


# --- Webhooks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookResult:
    shipments: int
    events: int
    unknown: tuple[str, ...]  # tracking numbers we do not have for this carrier


def record_webhook_updates(carrier_code: str, updates: Sequence[TrackingUpdate]) -> WebhookResult:
    """Store pushed events through the same path as polls. Unknown tracking numbers are ignored
    (answered, so the carrier does not retry them forever) and reported."""
    events: dict[str, list[CarrierEvent]] = defaultdict(list)
    for update in updates:
        events[update.tracking_number.upper()].extend(update.events)
    ids = dict(
        Shipment.objects.filter(carrier=carrier_code, tracking_number__in=list(events)).values_list(
            "tracking_number", "pk"
        )
    )
    results = record_tracking_batch(
        {ids[number]: evs for number, evs in events.items() if number in ids}, source=TrackingEvent.Source.WEBHOOK
    )
    return WebhookResult(
        shipments=len(results),
        events=sum(r.new_events for r in results.values()),
        unknown=tuple(sorted(number for number in events if number not in ids)),
    )
