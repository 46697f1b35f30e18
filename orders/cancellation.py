"""Cancelling an order, and putting units back in stock (refunds with restock, refused parcels).

``cancel_order`` (the buyer's button, an operator): allowed while no parcel of the order has left
(every shipment pending or packed). In one transaction, the order row locked first, then its
shipments, then the stock rows in pk order (STYLE.md, 7): the shipments are cancelled, the reserved
units released (``allocated`` decremented, as ``orders.services.expire_unpaid_order`` does), the
order and its sub-orders become CANCELLED and ``orders.signals.order_cancelled`` is sent after the
commit. Then, outside any lock, the payment: an open or authorized one is cancelled, a captured one
refunded in full with a key per order (``order-cancel:<id>``). A second call (a double click) finds
the order cancelled and the refund's key used: one refund, whatever happens.

Units back in stock (``return_units``) match how the order's units are counted: units whose parcel
never left are still reserved (the reservation is released); units whose parcel left were taken
out of ``on_hand`` when it shipped (``orders.fulfilment``), so they come back to ``on_hand`` of the
warehouse they left from (a "returned" stock adjustment). Each restock happens once: a refund's
``restocked_at`` is set in the same transaction, a refused parcel gets a "restocked" timeline event
(unique per parcel).

Receivers here (connected in ``OrdersConfig.ready``):
- ``payments.signals.payment_refunded``: an operator's refund with restock puts the refunded
  lines' units back.
- ``logistics.signals.shipment_refused``: a cash-on-delivery parcel came back refused: its units
  go back to stock and the order is cancelled (its COD payment cancelled; parcels not yet sent are
  cancelled and their reservations released). Prepaid orders are left to an operator (refund in
  admin, with restock).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

from logistics.locks import lock_shipments, lock_stock
from logistics.models import Shipment, StockAdjustment, TrackingEvent
from logistics.signals import shipment_refused
from logistics.stock import adjust_stock
from marketplace.errors import DomainError
from payments.exceptions import PaymentError
from payments.models import Payment, Refund
from payments.registry import get_method
from payments.services import cancel_payment, live_payment, refund_payment
from payments.signals import payment_refunded

from .locks import lock_order
from .models import Order, OrderLine, StockReservation, SubOrder
from .signals import order_cancelled

logger = logging.getLogger(__name__)

Status = Order.Status
CANCELLABLE = frozenset({Status.PENDING_PAYMENT, Status.CONFIRMED, Status.FULFILLING})
NOT_LEFT = frozenset({Shipment.Status.PENDING, Shipment.Status.PACKED})


class CancellationError(DomainError):
    code = "cancellation_error"


class NotCancellable(CancellationError):
    code = "not_cancellable"

    def __init__(self, *, status: str) -> None:
        super().__init__(_("This order cannot be cancelled: it is %(status)s.") % {"status": status})


class AlreadyShipped(CancellationError):
    code = "already_shipped"

    def __init__(self) -> None:
        super().__init__(
            _("A parcel of this order has already left the warehouse, so the order can no longer be cancelled.")
        )


@dataclass(frozen=True)
class Cancellation:
    order: Order
    cancelled_now: bool  # False: it already was (a double click)
    payment: Payment | None = None
    refund: Refund | None = None
    payment_error: str = ""


def _shipments(order: Order) -> list[Shipment]:
    return list(Shipment.objects.filter(order_number=order.number).order_by("pk"))


def can_cancel(order: Order, shipments: Iterable[Shipment] | None = None) -> bool:
    """Whether the buyer may still cancel (for showing the button; ``cancel_order`` checks again)."""
    if order.status not in CANCELLABLE:
        return False
    parcels = _shipments(order) if shipments is None else list(shipments)
    return all(s.status in NOT_LEFT or s.status == Shipment.Status.CANCELLED for s in parcels)


# --- Cancelling ---------------------------------------------------------------------------------------


def cancel_order(order: Order, *, reason: str = "buyer", acting_user: Any = None) -> Cancellation:
    """Cancel ``order`` before shipping and give the money back. Raises ``NotCancellable`` /
    ``AlreadyShipped`` (nothing changes). Idempotent: a repeat returns ``cancelled_now=False``
    and settles the payment only if that had not happened yet."""
    cancelled_now = _cancel(order.pk, reason=reason)
    order = Order.objects.get(pk=order.pk)
    payment, refund, error = settle_payment(order)
    return Cancellation(order, cancelled_now, payment, refund, error)


@transaction.atomic
def _cancel(order_id: int, *, reason: str) -> bool:
    order = lock_order(order_id)
    if order.status == Status.CANCELLED:
        return False
    if order.status not in CANCELLABLE or not order.can_become(Status.CANCELLED):
        raise NotCancellable(status=order.get_status_display())
    shipments = lock_shipments(Shipment.objects.filter(order_number=order.number).values_list("pk", flat=True))
    if any(s.status not in NOT_LEFT and s.status != Shipment.Status.CANCELLED for s in shipments.values()):
        raise AlreadyShipped()
    now = timezone.now()
    _cancel_shipments(shipments.values(), now)
    _release_reservations(order, now)
    _mark_cancelled(order, reason=reason)
    return True


def _cancel_shipments(shipments: Iterable[Shipment], now: datetime) -> None:
    """Parcels that never left are cancelled (they are locked by the caller)."""
    for shipment in shipments:
        if shipment.status not in NOT_LEFT:
            continue
        shipment.status = Shipment.Status.CANCELLED
        shipment.save(update_fields=["status", "updated_at"])
        TrackingEvent.objects.bulk_create(
            [
                TrackingEvent(
                    shipment=shipment,
                    key="cancelled",
                    status="",  # information only: the status is set above
                    description=str(_("Cancelled with the order before it left the warehouse")),
                    occurred_at=now,
                    source=TrackingEvent.Source.OPERATOR,
                )
            ],
            ignore_conflicts=True,
        )


def _release_reservations(order: Order, now: datetime, *, warehouse_ids: set[int] | None = None) -> int:
    """Open reservations end and their units leave ``allocated`` (stock rows locked in pk order)."""
    reservations = StockReservation.objects.filter(order_line__order=order, released_at=None)
    if warehouse_ids is not None:
        reservations = reservations.filter(stock__warehouse_id__in=warehouse_ids)
    rows = list(reservations.order_by("stock_id", "pk"))
    if not rows:
        return 0
    stocks = lock_stock({r.stock_id for r in rows})
    for reservation in rows:
        stock = stocks[reservation.stock_id]
        stock.allocated = max(stock.allocated - reservation.quantity, 0)
        stock.save(update_fields=["allocated", "updated_at"])
    StockReservation.objects.filter(pk__in=[r.pk for r in rows]).update(released_at=now)
    return sum(r.quantity for r in rows)


def _mark_cancelled(order: Order, *, reason: str) -> None:
    order.status = Status.CANCELLED
    order.save(update_fields=["status", "updated_at"])  # orders' timeline receiver records it
    SubOrder.objects.filter(order=order).exclude(status=Status.CANCELLED).update(
        status=Status.CANCELLED, updated_at=timezone.now()
    )
    order_id, number = order.pk, order.number
    transaction.on_commit(
        lambda: order_cancelled.send(sender=Order, order_id=order_id, order_number=number, reason=reason)
    )


def settle_payment(order: Order) -> tuple[Payment | None, Refund | None, str]:
    """The money of a cancelled order: an open or authorized payment is cancelled, what was
    captured is refunded (key per order: one refund however often this runs). Never raises for a
    provider failure: returns its message (the order stays cancelled; an operator follows up)."""
    payment = live_payment(order.pk)
    if payment is None:
        return None, None, ""
    key = f"order-cancel:{order.pk}"
    if (done := Refund.objects.filter(idempotency_key=key).first()) is not None:
        return payment, done, ""  # refunded by an earlier (or a concurrent) call
    try:
        if payment.state in Payment.OPEN_STATES or payment.state == Payment.State.AUTHORIZED:
            payment = cancel_payment(payment.pk, idempotency_key=f"{payment.attempt}:order-cancelled")
            return payment, None, ""
        if payment.state in (Payment.State.CAPTURED, Payment.State.PARTIALLY_REFUNDED):
            refund = refund_payment(
                payment.pk,
                payment.refundable,
                reason=str(_("Order cancelled before shipping")),
                idempotency_key=key,
            )
            payment.refresh_from_db()
            if refund.state == Refund.State.FAILED:
                return payment, refund, str(_("The refund could not be made; our team will follow up."))
            return payment, refund, ""
    except PaymentError as exc:
        if (done := Refund.objects.filter(idempotency_key=key).first()) is not None:
            return payment, done, ""  # a concurrent click refunded it first
        payment.refresh_from_db()
        if payment.state == Payment.State.CANCELLED:
            return payment, None, ""  # a concurrent click cancelled it first
        logger.warning("order %s cancelled, but its payment %s was not settled: %s", order.number, payment.pk, exc)
        return payment, None, exc.message
    return payment, Refund.objects.filter(idempotency_key=key).first(), ""


# --- Units back in stock ------------------------------------------------------------------------------


def _restocked_by_refunds(order: Order) -> dict[int, int]:
    done: dict[int, int] = defaultdict(int)
    for lines in Refund.objects.filter(payment__order=order, restocked_at__isnull=False).values_list(
        "lines", flat=True
    ):
        for item in lines or []:
            done[int(item["id"])] += int(item.get("quantity", 0))
    return done


def return_units(order: Order, quantities: dict[int, int], *, note: str, now: datetime | None = None) -> int:
    """Put ``quantities`` (order line id -> units) back in the stock they came from; call inside
    ``transaction.atomic`` with the order locked. Returns the units put back."""
    now = now or timezone.now()
    wanted = {line_id: qty for line_id, qty in quantities.items() if qty > 0}
    if not wanted:
        return 0
    lines = {line.pk: line for line in OrderLine.objects.filter(order=order, pk__in=list(wanted))}
    reservations = list(
        StockReservation.objects.filter(order_line_id__in=list(lines))
        .order_by("stock_id", "pk")
        .select_related("stock")
    )
    left = set(
        Shipment.objects.filter(order_number=order.number)
        .exclude(status=Shipment.Status.CANCELLED)
        .exclude(shipped_at__isnull=True, delivered_at__isnull=True)
        .values_list("warehouse_id", flat=True)
    )
    stocks = lock_stock({r.stock_id for r in reservations})  # pk order
    by_line: dict[int, list[StockReservation]] = defaultdict(list)
    for reservation in reservations:
        by_line[reservation.order_line_id].append(reservation)
    returned = 0
    for line_id in sorted(lines):
        line, todo = lines[line_id], min(wanted[line_id], lines[line_id].quantity)
        for reservation in by_line[line_id]:
            if todo <= 0 or reservation.released_at is not None:
                continue
            take = min(todo, reservation.quantity)  # never left: the reservation lets go
            stock = stocks[reservation.stock_id]
            stock.allocated = max(stock.allocated - take, 0)
            stock.save(update_fields=["allocated", "updated_at"])
            if take == reservation.quantity:
                reservation.released_at = now
                reservation.save(update_fields=["released_at", "updated_at"])
            else:
                reservation.quantity -= take
                reservation.save(update_fields=["quantity", "updated_at"])
            todo -= take
            returned += take
        if todo > 0 and line.warehouse_id in left and by_line[line_id]:
            reservation = by_line[line_id][0]  # left with the parcel: back to on hand where it came from
            stocks[reservation.stock_id] = adjust_stock(
                stocks[reservation.stock_id], quantity=todo, reason=StockAdjustment.Reason.RETURNED, note=note
            )
            returned += todo
    return returned


@transaction.atomic
def restock_refund(refund_id: int) -> int:
    """The refunded lines' units of a succeeded refund with restock go back, once."""
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if not refund.restock or not refund.lines or refund.state != Refund.State.SUCCEEDED:
        return 0
    order = lock_order(refund.payment.order_id)
    already = _restocked_by_refunds(order)
    if not Refund.objects.filter(pk=refund.pk, restocked_at__isnull=True).update(restocked_at=timezone.now()):
        return 0  # done before
    quantities: dict[int, int] = defaultdict(int)
    for item in refund.lines:
        quantities[int(item["id"])] += int(item.get("quantity", 0))
    sizes = dict(OrderLine.objects.filter(order=order, pk__in=list(quantities)).values_list("pk", "quantity"))
    capped = {
        line_id: max(min(qty, sizes.get(line_id, 0) - already.get(line_id, 0)), 0)
        for line_id, qty in quantities.items()
    }
    return return_units(order, capped, note=f"refund {refund.pk}, order {order.number}")


def _is_cash_on_delivery(payment: Payment | None) -> bool:
    if payment is None:
        return False
    try:
        return get_method(payment.method).kind == "cod"
    except PaymentError:
        return False


def cancel_refused_order(order_number: str, *, shipment_id: int) -> Order | None:
    """A cash-on-delivery parcel came back refused: its units go back to stock, and the order is
    cancelled with its payment (unless another parcel was delivered: an operator decides)."""
    order = Order.objects.filter(number=order_number).first()
    if order is None:
        return None
    latest = Payment.objects.filter(order=order).order_by("-created_at", "-pk").first()  # maybe cancelled already
    if not _is_cash_on_delivery(latest):
        return None
    _refused(order.pk, shipment_id)
    order = Order.objects.get(pk=order.pk)
    if order.status == Status.CANCELLED:
        settle_payment(order)
    return order


@transaction.atomic
def _refused(order_id: int, shipment_id: int) -> None:
    order = lock_order(order_id)
    shipments = lock_shipments(Shipment.objects.filter(order_number=order.number).values_list("pk", flat=True))
    refused = shipments.get(shipment_id)
    if refused is None or refused.status != Shipment.Status.RETURNED:
        return
    if TrackingEvent.objects.filter(shipment=refused, key="restocked").exists():
        return  # this parcel was handled already (the event is unique per parcel and key)
    now = timezone.now()
    TrackingEvent.objects.create(
        shipment=refused,
        key="restocked",
        status="",
        description=_("Back at %(warehouse)s: the units are in stock again") % {"warehouse": refused.warehouse.name},
        occurred_at=now,
        source=TrackingEvent.Source.OPERATOR,
    )
    already = _restocked_by_refunds(order)
    quantities = {
        line.pk: line.quantity - already.get(line.pk, 0)
        for line in OrderLine.objects.filter(order=order, warehouse_id=refused.warehouse_id)
    }
    return_units(order, quantities, note=f"refused parcel #{refused.pk}, order {order.number}", now=now)
    if order.status == Status.CANCELLED or not order.can_become(Status.CANCELLED):
        return
    if any(s.delivered_at is not None for s in shipments.values()):
        logger.warning("order %s: a parcel was refused and another delivered; left to an operator", order.number)
        return
    _cancel_shipments(shipments.values(), now)
    never_left = {s.warehouse_id for s in shipments.values() if s.status == Shipment.Status.CANCELLED}
    _release_reservations(order, now, warehouse_ids=never_left)
    _mark_cancelled(order, reason="refused")


# --- Receivers ------------------------------------------------------------------------------------------


# Both signals are sent from on_commit callbacks (a refund settled, a tracking batch recorded): a
# failure here is logged, never raised into the code that already committed the money or the parcel.


@receiver(payment_refunded, dispatch_uid="orders.restock_refund")
def on_payment_refunded(sender: Any, *, refund_id: int | None = None, **kwargs: Any) -> None:
    if refund_id is None:
        return
    try:
        restock_refund(refund_id)
    except Exception:
        logger.exception("putting the units of refund %s back in stock failed", refund_id)


@receiver(shipment_refused, dispatch_uid="orders.cancel_refused_order")
def on_shipment_refused(sender: Any, *, shipment_id: int, order_number: str = "", **kwargs: Any) -> None:
    if not order_number:
        return
    try:
        cancel_refused_order(order_number, shipment_id=shipment_id)
    except Exception:
        logger.exception("handling the refused parcel %s of order %s failed", shipment_id, order_number)
