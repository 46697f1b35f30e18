"""Shipments: create one, declare its contents, pack it, hand it to the carrier; its commercial invoice.

Sellers and warehouse operators call ``mark_packed`` and ``mark_shipped``; both are idempotent (a
repeated click returns the shipment as it is) and record a timeline event for the buyer. Carrier
events after that come through ``logistics.tracking``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from djmoney.money import Money

from catalog.models import Seller
from catalog.portal.selectors import seller_for_user
from marketplace.money import round_money

from .exceptions import (
    InvalidCustomsDeclaration,
    InvalidShipmentTransition,
    InvalidTrackingNumber,
    TrackingNumberTaken,
    UnknownCarrier,
)
from .locks import lock_shipments
from .models import Shipment, ShippingMethod, TrackingEvent, Warehouse
from .models.shipments import DeclaredItem, parse_customs_items, validate_tracking_number
from .signals import shipment_packed, shipment_shipped

Status = Shipment.Status


def _declaration(items: Any) -> list[dict[str, Any]]:
    try:
        return [item.as_json() for item in parse_customs_items(list(items) if isinstance(items, tuple) else items)]
    except ValidationError as exc:
        raise InvalidCustomsDeclaration(" ".join(exc.messages)) from exc


def _carrier(code: str) -> str:
    if code not in settings.CARRIERS:
        raise UnknownCarrier(carrier=code)
    return code


def create_shipment(
    *,
    warehouse: Warehouse,
    destination_country: str,
    items: Any = (),
    order_number: str = "",
    incoterm: str = ShippingMethod.Incoterm.DDP,
    method: ShippingMethod | None = None,
    shipping_cost: Money | None = None,
    carrier: str = "simulated",
    recipient_name: str = "",
    recipient_address: str = "",
) -> Shipment:
    """A pending shipment (the orders app calls this when an order is placed, one per warehouse)."""
    return Shipment.objects.create(
        warehouse=warehouse,
        destination_country=destination_country,
        customs_items=_declaration(items),
        order_number=order_number,
        incoterm=incoterm,
        method=method,
        shipping_cost=shipping_cost,
        carrier=_carrier(method.carrier if method and method.carrier in settings.CARRIERS else carrier),
        recipient_name=recipient_name,
        recipient_address=recipient_address,
    )


@transaction.atomic
def declare_customs(shipment: Shipment, *, items: Any) -> Shipment:
    """Replace the customs declaration; only before the parcel leaves."""
    declaration = _declaration(items)
    shipment = lock_shipments([shipment.pk])[shipment.pk]
    if shipment.status not in (Status.PENDING, Status.PACKED):
        raise InvalidCustomsDeclaration(_("The customs declaration cannot change once the parcel has left."))
    shipment.customs_items = declaration
    shipment.save(update_fields=["customs_items", "updated_at"])
    return shipment


@transaction.atomic
def mark_packed(shipment: Shipment, *, acting_user: Any = None) -> Shipment:
    """Pending -> packed. Packed (or later) already: returned as it is."""
    shipment = lock_shipments([shipment.pk])[shipment.pk]
    if shipment.status != Status.PENDING:
        if shipment.status == Status.PACKED or shipment.packed_at is not None:
            return shipment
        raise InvalidShipmentTransition(current=shipment.get_status_display(), target=Status.PACKED.label)
    now = timezone.now()
    shipment.status, shipment.packed_at = Status.PACKED, now
    shipment.save(update_fields=["status", "packed_at", "updated_at"])
    _operator_event(
        shipment, "packed", Status.PACKED, _("Packed at %(warehouse)s") % {"warehouse": shipment.warehouse.name}, now
    )
    _announce(shipment_packed, shipment)
    return shipment


def normalise_tracking_number(value: str) -> str:
    """Upper-cased and checked: raises ``InvalidTrackingNumber`` with the reason (spaces, control
    characters, length, alphabet). Never strips: a space inside a number is an error, not noise."""
    number = value.upper()
    try:
        validate_tracking_number(number)
    except ValidationError as exc:
        raise InvalidTrackingNumber(" ".join(exc.messages)) from exc
    return number


def mark_shipped(
    shipment: Shipment,
    *,
    tracking_number: str,
    carrier: str | None = None,
    acting_user: Any = None,
    shipped_at: datetime | None = None,
) -> Shipment:
    """Pending or packed -> shipped with a tracking number. The same call again returns the shipment
    unchanged; another number for a shipped parcel, or one used by another parcel, is refused."""
    number = normalise_tracking_number(tracking_number)
    try:
        return _mark_shipped(shipment.pk, number, carrier, shipped_at or timezone.now())
    except IntegrityError as exc:  # a concurrent shipment took the number between check and write
        raise TrackingNumberTaken(tracking_number=number) from exc


@transaction.atomic
def _mark_shipped(shipment_id: int, number: str, carrier: str | None, now: datetime) -> Shipment:
    shipment = lock_shipments([shipment_id])[shipment_id]
    code = _carrier(carrier or shipment.carrier)
    if shipment.status not in (Status.PENDING, Status.PACKED):
        if shipment.tracking_number == number and shipment.carrier == code:
            return shipment  # a replay
        raise InvalidShipmentTransition(current=shipment.get_status_display(), target=Status.SHIPPED.label)
    if Shipment.objects.filter(carrier=code, tracking_number=number).exclude(pk=shipment.pk).exists():
        raise TrackingNumberTaken(tracking_number=number)
    fields = ["status", "shipped_at", "tracking_number", "carrier", "next_poll_at", "poll_failures", "updated_at"]
    if shipment.packed_at is None:
        shipment.packed_at = now
        fields.append("packed_at")
        _operator_event(
            shipment,
            "packed",
            Status.PACKED,
            _("Packed at %(warehouse)s") % {"warehouse": shipment.warehouse.name},
            now,
        )
    shipment.status, shipment.shipped_at = Status.SHIPPED, now
    shipment.tracking_number, shipment.carrier = number, code
    shipment.next_poll_at, shipment.poll_failures = None, 0
    shipment.save(update_fields=fields)
    _operator_event(
        shipment,
        "shipped",
        Status.SHIPPED,
        _("Handed to the carrier, tracking number %(number)s") % {"number": number},
        now,
    )
    _announce(shipment_shipped, shipment)
    return shipment


def _announce(signal: Any, shipment: Shipment) -> None:
    """Send ``signal`` after the commit that made the change (never for a change rolled back)."""
    shipment_id, order_number = shipment.pk, shipment.order_number
    transaction.on_commit(lambda: signal.send(sender=Shipment, shipment_id=shipment_id, order_number=order_number))


def _operator_event(shipment: Shipment, key: str, status: str, description: str, when: datetime) -> None:
    TrackingEvent.objects.bulk_create(
        [
            TrackingEvent(
                shipment=shipment,
                key=key,
                status=status,
                description=description[:300],
                location=f"{shipment.warehouse.city}, {shipment.warehouse.country.code}"[:200],
                occurred_at=when,
                source=TrackingEvent.Source.OPERATOR,
            )
        ],
        ignore_conflicts=True,
    )


# --- Commercial invoice -------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceLine:
    item: DeclaredItem
    unit_value: Money
    total: Money


@dataclass(frozen=True)
class CommercialInvoice:
    number: str
    issued_on: date
    shipment: Shipment
    lines: tuple[InvoiceLine, ...]
    currency: str | None
    goods_total: Money | None
    shipping: Money | None  # in the declaration's currency, else shown apart and not added
    total: Money | None
    total_quantity: int


def seller_shipments(seller: Seller) -> QuerySet[Shipment]:
    """The shipments a seller's users pack and ship: those leaving an origin warehouse the seller
    may use. Overseas and bonded warehouses are run by the operators (admin), so not listed."""
    return (
        Shipment.objects.filter(warehouse__kind=Warehouse.Kind.ORIGIN, warehouse__sellers=seller)
        .select_related("warehouse", "method")
        .order_by("-created_at", "-pk")
    )


def invoice_shipment(shipment_id: int, *, user: Any) -> Shipment:
    """The shipment whose commercial invoice ``user`` may see: staff, or a user of a seller the
    shipment belongs to (``seller_shipments``). Anyone else gets a 404, as if it did not exist."""
    if not user.is_authenticated:
        raise Http404
    if user.is_staff:
        shipments = Shipment.objects.select_related("warehouse", "method")
    else:
        seller = seller_for_user(user)
        if seller is None:
            raise Http404
        shipments = seller_shipments(seller)
    try:
        return shipments.get(pk=shipment_id)
    except Shipment.DoesNotExist:
        raise Http404 from None


def commercial_invoice(shipment: Shipment) -> CommercialInvoice:
    items = parse_customs_items(shipment.customs_items or [])
    currency = items[0].currency if items else None
    lines = tuple(
        InvoiceLine(
            item,
            Money(item.value, item.currency),
            round_money(Money(item.value * item.quantity, item.currency)),
        )
        for item in items
    )
    goods = sum((line.total for line in lines[1:]), lines[0].total) if lines else None
    shipping = shipment.shipping_cost
    total = goods
    if goods is not None and shipping is not None and shipping.currency.code == currency:
        total = goods + round_money(shipping)
    return CommercialInvoice(
        number=f"CI-{shipment.pk:06d}",
        issued_on=(shipment.shipped_at or shipment.created_at or timezone.now()).date(),
        shipment=shipment,
        lines=lines,
        currency=currency,
        goods_total=goods,
        shipping=round_money(shipping) if shipping is not None else None,
        total=total,
        total_quantity=sum(item.quantity for item in items),
    )


def declared_value(shipment: Shipment) -> Money | None:
    """The declaration's goods value (for lists and admin)."""
    items = parse_customs_items(shipment.customs_items or [])
    if not items:
        return None
    return round_money(Money(sum((i.value * i.quantity for i in items), Decimal(0)), items[0].currency))
