"""An order follows its parcels: confirmed -> being prepared -> shipped -> delivered.

Logistics announces each parcel's first packing, shipping and delivery (``logistics.signals``);
``orders.receivers_fulfilment`` queues ``advance_order`` for the parcel's order, which looks at
*all* the order's shipments and moves the order, and each seller's sub-order, as far as they
allow:

- being prepared (FULFILLING): a parcel was packed (or shipped);
- SHIPPED: every parcel has left (for a sub-order: every parcel from its lines' warehouses);
- DELIVERED: every parcel was delivered.

It is level-triggered, so a lost or repeated signal does no harm: running it again changes
nothing, and running it late catches up (skipped steps are still recorded in the timeline, with
the time the parcels reached them). The order row is locked first, then its sub-orders, then the
stock rows in pk order (STYLE.md, 7). Only forward moves allowed by ``Order.TRANSITIONS`` happen:
a cancelled, expired, refunded or unpaid order does not move.

A parcel that has left also takes its units with it: the order's reservations at that
warehouse end (``released_at``) and their units leave ``allocated`` and ``on_hand`` (logged as a
stock adjustment "shipped"), so a later cancellation or restock never counts them twice.

The timeline (``OrderEvent``) gets one row per status reached, written by whoever records it
first: ``record_status_event`` (called here, and for any other status change by the ``post_save``
receiver), which also queues the buyer's e-mail for that status.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from djmoney.money import Money

from logistics.locks import lock_stock
from logistics.models import Shipment, StockAdjustment
from logistics.stock import adjust_stock
from marketplace.errors import DomainError

from .locks import lock_order
from .models import Order, OrderEvent, OrderLine, StockReservation, SubOrder

Status = Order.Status
PROGRESSION: tuple[str, ...] = (Status.CONFIRMED, Status.FULFILLING, Status.SHIPPED, Status.DELIVERED)
RANK = {status: rank for rank, status in enumerate(PROGRESSION)}
# Sub-orders of a cancelled order that were still open follow it.
OPEN_SUB_ORDER = frozenset({Status.PENDING_PAYMENT, Status.CONFIRMED, Status.FULFILLING})

STATUS_EVENTS: dict[str, str] = {
    Status.CONFIRMED: OrderEvent.Kind.CONFIRMED,
    Status.FULFILLING: OrderEvent.Kind.FULFILLING,
    Status.SHIPPED: OrderEvent.Kind.SHIPPED,
    Status.DELIVERED: OrderEvent.Kind.DELIVERED,
    Status.CANCELLED: OrderEvent.Kind.CANCELLED,
    Status.EXPIRED: OrderEvent.Kind.EXPIRED,
    Status.REFUNDED: OrderEvent.Kind.REFUNDED,
}


class FulfilmentError(DomainError):
    code = "fulfilment_error"


class NotFulfillable(FulfilmentError):
    code = "not_fulfillable"

    def __init__(self, *, status: str) -> None:
        super().__init__(_("This order cannot be prepared now: it is %(status)s.") % {"status": status})


# --- Follow-up work queued after the commit -------------------------------------------------------

_quiet: ContextVar[bool] = ContextVar("orders_fulfilment_quiet", default=False)


@contextmanager
def quietly() -> Iterator[None]:
    """Record history without queueing e-mails or follow-up tasks (the demo's past orders)."""
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)


def _after_commit(task: Any, *args: Any) -> None:
    if _quiet.get():
        return
    transaction.on_commit(lambda: task.delay(*args))


# --- Timeline --------------------------------------------------------------------------------------


def record_event(
    order_id: int, kind: str, *, at: datetime | None = None, key: str = "", amount: Money | None = None
) -> bool:
    """Append an event once per (order, kind, key). True when this call wrote it."""
    if OrderEvent.objects.filter(order_id=order_id, kind=kind, key=key).exists():
        return False
    OrderEvent.objects.bulk_create(
        [OrderEvent(order_id=order_id, kind=kind, key=key, amount=amount, occurred_at=at or timezone.now())],
        ignore_conflicts=True,  # a concurrent writer won: same event
    )
    return True


def record_status_event(order: Order, *, at: datetime | None = None, notify: bool = True) -> bool:
    """The order reached ``order.status``: record it once, and (first time only) queue the buyer's
    e-mail for it and, on confirmation, a catch-up of its fulfilment."""
    kind = STATUS_EVENTS.get(order.status)
    if kind is None or not record_event(order.pk, kind, at=at):
        return False
    from . import tasks
    from .notifications import NOTIFICATION_FOR_STATUS

    if notify and (notification := NOTIFICATION_FOR_STATUS.get(order.status)):
        _after_commit(tasks.send_order_notification, order.pk, notification)
    if order.status == Status.CONFIRMED:
        _after_commit(tasks.advance_order, order.pk)  # sub-orders confirmed; parcels that moved early
    return True


def record_payment_event(payment_id: int, refund_id: int | None = None) -> bool:
    """A captured payment ("payment received") or a refund paid out, with its amount, once each."""
    from payments.models import Payment, Refund

    payment = Payment.objects.filter(pk=payment_id).only("pk", "order_id", "captured", "captured_currency").first()
    if payment is None:
        return False
    if refund_id is None:
        if not payment.captured or payment.captured.amount <= 0:
            return False
        return record_event(
            payment.order_id, OrderEvent.Kind.PAID, key=f"payment-{payment.pk}", amount=payment.captured
        )
    refund = Refund.objects.filter(pk=refund_id, payment_id=payment.pk, state=Refund.State.SUCCEEDED).first()
    if refund is None:
        return False
    return record_event(
        payment.order_id, OrderEvent.Kind.REFUND, key=f"refund-{refund.pk}", amount=refund.amount, at=refund.updated_at
    )


@dataclass(frozen=True)
class TimelineEntry:
    kind: str
    label: str
    at: datetime
    amount: Money | None = None


def order_timeline(order: Order) -> list[TimelineEntry]:
    """What happened when, oldest first: placed, then the recorded events. One query."""
    entries = [TimelineEntry("placed", str(_("Order placed")), order.created_at)]
    entries += [
        TimelineEntry(event.kind, event.get_kind_display(), event.occurred_at, event.amount)
        for event in OrderEvent.objects.filter(order_id=order.pk).order_by("occurred_at", "pk")
    ]
    return entries


# --- Progress from the parcels ---------------------------------------------------------------------


def reached(shipments: Sequence[Shipment]) -> dict[str, datetime]:
    """The fulfilment statuses ``shipments`` have reached, each with when they reached it."""
    result: dict[str, datetime] = {}
    if not shipments:
        return result
    started = [s.packed_at or s.shipped_at for s in shipments if s.packed_at or s.shipped_at]
    if started:
        result[Status.FULFILLING] = min(started)
    left = [s.shipped_at or s.delivered_at for s in shipments]
    if all(left):
        result[Status.SHIPPED] = max(when for when in left if when)
    delivered = [s.delivered_at for s in shipments]
    if all(delivered):
        result[Status.DELIVERED] = max(when for when in delivered if when)
    return result


def steps(current: str, progress: dict[str, datetime]) -> list[tuple[str, datetime]]:
    """The forward moves from ``current`` towards the furthest status in ``progress``, each allowed
    by ``Order.TRANSITIONS`` from the one before it."""
    if current not in RANK or not progress:
        return []
    target = max(RANK[status] for status in progress)
    moves: list[tuple[str, datetime]] = []
    at = current
    for status in PROGRESSION[RANK[current] + 1 : target + 1]:
        if status not in progress:
            continue
        if status not in Order.TRANSITIONS.get(at, frozenset()):
            break
        moves.append((status, progress[status]))
        at = status
    return moves


@dataclass(frozen=True)
class Advance:
    order: Order
    moved: bool
    units_shipped: int


def advance_order(order_id: int, *, now: datetime | None = None) -> Advance | None:
    """Bring the order and its sub-orders up to date with its parcels (idempotent; see the module
    docstring). None when the order does not exist."""
    if not Order.objects.filter(pk=order_id).exists():
        return None
    return _advance(order_id, now or timezone.now())


@transaction.atomic
def _advance(order_id: int, now: datetime) -> Advance:
    order = lock_order(order_id)
    sub_orders = list(
        SubOrder.objects.filter(order_id=order_id).order_by("pk").select_for_update(of=("self",), no_key=True)
    )
    shipments = list(
        Shipment.objects.filter(order_number=order.number)
        .exclude(status="cancelled")  # parcels of a cancelled order never leave
        .only("pk", "warehouse_id", "status", "packed_at", "shipped_at", "delivered_at")
        .order_by("pk")
    )
    units = _take_shipped_units(order, shipments, now)
    moved = False
    moves = steps(order.status, reached(shipments)) if order.status in RANK else []
    if moves:  # times never go back: a parcel that left before the payment counts from the confirmation
        floor = OrderEvent.objects.filter(order_id=order_id).aggregate(last=Max("occurred_at"))["last"]
        floor = floor or order.created_at
    for index, (status, at) in enumerate(moves):
        order.status = status
        floor = min(max(at, floor), now)
        record_status_event(order, at=floor, notify=index == len(moves) - 1)
    if moves:
        order.save(update_fields=["status", "updated_at"])
        moved = True
    warehouses: dict[int, set[int]] = defaultdict(set)
    for sub_order_id, warehouse_id in OrderLine.objects.filter(order_id=order_id).values_list(
        "sub_order_id", "warehouse_id"
    ):
        warehouses[sub_order_id].add(warehouse_id)
    for sub_order in sub_orders:
        status = _sub_order_status(
            order, sub_order, [s for s in shipments if s.warehouse_id in warehouses[sub_order.pk]]
        )
        if status != sub_order.status:
            sub_order.status = status
            sub_order.save(update_fields=["status", "updated_at"])
            moved = True
    return Advance(order, moved, units)


def _sub_order_status(order: Order, sub_order: SubOrder, shipments: list[Shipment]) -> str:
    status = sub_order.status
    if order.status == Status.CANCELLED and status in OPEN_SUB_ORDER:
        return Status.CANCELLED
    if order.status in RANK and status == Status.PENDING_PAYMENT:
        status = Status.CONFIRMED  # the order was paid: so was each seller's part
    if status not in RANK or order.status not in RANK:
        return status
    moves = steps(status, reached(shipments))
    return moves[-1][0] if moves else status


def _take_shipped_units(order: Order, shipments: list[Shipment], now: datetime) -> int:
    """The reservations at warehouses whose parcel has left end, and their units leave the
    warehouse's ``allocated`` and ``on_hand`` (stock rows locked in pk order). Returns the units."""
    left = {s.warehouse_id for s in shipments if s.shipped_at or s.delivered_at}
    if not left:
        return 0
    reservations = list(
        StockReservation.objects.filter(
            order_line__order_id=order.pk, released_at=None, stock__warehouse_id__in=left
        ).order_by("stock_id", "pk")
    )
    if not reservations:
        return 0
    stocks = lock_stock({r.stock_id for r in reservations})
    for reservation in reservations:
        stock = stocks[reservation.stock_id]
        stock.allocated = max(stock.allocated - reservation.quantity, 0)
        stock.save(update_fields=["allocated", "updated_at"])
        stocks[reservation.stock_id] = adjust_stock(
            stock,
            quantity=-reservation.quantity,
            reason=StockAdjustment.Reason.SHIPPED,
            note=f"order {order.number}",
        )
    StockReservation.objects.filter(pk__in=[r.pk for r in reservations]).update(released_at=now)
    return sum(r.quantity for r in reservations)


# --- Operators ---------------------------------------------------------------------------------------


@transaction.atomic
def start_fulfilment(order: Order) -> Order:
    """An operator marks a confirmed order as being prepared (and its confirmed sub-orders).
    Already being prepared or further: unchanged. Raises ``NotFulfillable`` otherwise."""
    order = lock_order(order.pk)
    if order.status in (Status.FULFILLING, Status.SHIPPED, Status.DELIVERED):
        return order
    if not order.can_become(Status.FULFILLING):
        raise NotFulfillable(status=order.get_status_display())
    order.status = Status.FULFILLING
    order.save(update_fields=["status", "updated_at"])  # the receiver records it in the timeline
    SubOrder.objects.filter(order=order, status__in=[Status.PENDING_PAYMENT, Status.CONFIRMED]).update(
        status=Status.FULFILLING, updated_at=timezone.now()
    )
    return order
