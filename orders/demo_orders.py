"""Past orders for the demo buyers (``seed()``; idempotent: a second run finds them and adds nothing).

Runs after the markets, catalog and logistics demos (their users, products, warehouses and stock).
Each order goes through the real services: a cart, ``start_checkout`` (the landed-cost quote with
today's rates), ``place_order`` (stock allocated, sub-orders, shipments), then the parcels move
with ``logistics.shipments`` and the simulated carrier's tracking events, and
``orders.fulfilment.advance_order`` moves the order after them (units leave ``on_hand`` as each
parcel ships); the cancelled one goes through ``orders.cancellation.cancel_order`` (its units go
back). So stock, shipments and orders agree.

Demo-only shortcuts: no payment is taken (the lead's payments demo may add them), so
``_confirm`` confirms the order the way the payment hand-over does (the status saved, nothing
else); the orders are dated in the past (``created_at`` moved back, the timeline written with
past times), with their e-mails marked as sent back then, so seeding sends no mail; and the units
the past orders shipped are received again afterwards (a "received" adjustment), so the
logistics demo, which sets each stock row to its target on every run, finds nothing to correct
and ``seed_demo`` stays idempotent.

Each order is found again by its cart's token (a UUID derived from the order's key).
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from catalog.models import Product, Variant
from logistics.carriers.simulated import SimulatedCarrier, journey_kind
from logistics.models import Shipment, Stock, StockAdjustment, TrackingEvent
from logistics.shipments import mark_packed, mark_shipped
from logistics.stock import adjust_stock
from logistics.tracking import record_tracking_events, tracking_request
from marketplace.errors import DomainError
from marketplace.fx.services import CACHE_KEY as FX_CACHE_KEY
from marketplace.fx.services import current_rates, rates_are_stale, refresh_fx_rates
from marketplace.models import Market, User

from .exceptions import CheckoutError
from .fulfilment import advance_order, quietly, record_event
from .locks import lock_order
from .models import Cart, CartLine, Checkout, Order, OrderEvent, OrderLine, OrderNotification, SubOrder
from .notifications import EVENT_FOR_NOTIFICATION
from .services import Address, place_order, start_checkout

NOTE = "demo data: replenished after a past order"
NAMESPACE = uuid.UUID("7b0c3f1e-5d2a-4c8e-9f41-0d6a1e2b3c4d")
DELIVERED, SHIPPED, FULFILLING, CONFIRMED, CANCELLED = "delivered", "shipped", "fulfilling", "confirmed", "cancelled"


@dataclass(frozen=True)
class DemoOrder:
    key: str
    buyer: str
    currency: str
    language: str
    address: dict[str, str]
    outcome: str
    days_ago: int  # placed this many days ago
    sellers: int = 1  # how many sellers' products in the cart
    units: tuple[int, ...] = (1,)
    shipped_hours_ago: int = 0  # SHIPPED: how long the parcels have been on their way


ADDRESSES = {
    "US": {
        "name": "Alex Rivera",
        "line1": "350 Fifth Avenue",
        "city": "New York, NY",
        "postal_code": "10118",
        "country": "US",
        "phone": "+1 212 736 3100",
    },
    "JP": {
        "name": "山田 花子",
        "line1": "丸の内1-1-1",
        "city": "千代田区 東京都",
        "postal_code": "100-0005",
        "country": "JP",
        "phone": "+81 3 3211 4111",
    },
    "DE": {
        "name": "Alex Rivera",
        "line1": "Hauptstraße 1",
        "city": "Berlin",
        "postal_code": "10115",
        "country": "DE",
        "phone": "+49 30 1234567",
    },
    "BR": {
        "name": "Ana Souza",
        "line1": "Avenida Paulista, 1578",
        "city": "São Paulo, SP",
        "postal_code": "01310-200",
        "country": "BR",
        "phone": "+55 11 3549 9000",
    },
    "AE": {
        "name": "فاطمة علي",
        "line1": "Sheikh Zayed Road, Tower 1",
        "city": "Dubai",
        "postal_code": "",
        "country": "AE",
        "phone": "+971 4 123 4567",
    },
    "MX": {
        "name": "María López",
        "line1": "Paseo de la Reforma 505",
        "city": "Ciudad de México",
        "postal_code": "06500",
        "country": "MX",
        "phone": "+52 55 5230 7000",
    },
}

ORDERS = [
    DemoOrder("delivered-us", "buyer@example.com", "USD", "en", ADDRESSES["US"], DELIVERED, 21, 2, (1, 2)),
    DemoOrder("shipped-jp", "buyer-jp@example.com", "JPY", "ja", ADDRESSES["JP"], SHIPPED, 4, 2, (1, 1), 12),
    DemoOrder("confirmed-de", "buyer@example.com", "EUR", "en", ADDRESSES["DE"], CONFIRMED, 1, 1, (2,)),
    DemoOrder("cancelled-br", "buyer@example.com", "BRL", "pt-br", ADDRESSES["BR"], CANCELLED, 9, 1, (1,)),
    DemoOrder("delivered-ae", "buyer-ae@example.com", "AED", "ar", ADDRESSES["AE"], DELIVERED, 16, 1, (1,)),
    DemoOrder("fulfilling-mx", "buyer-mx@example.com", "MXN", "es", ADDRESSES["MX"], FULFILLING, 2, 1, (1,)),
]

MAX_TRIES = 40  # candidate carts per order before giving up on it (the demo catalog has 60+ products)


def seed(stdout: IO[str] | None = None) -> None:
    """Create the demo orders that do not exist yet; report what exists."""
    out = stdout or sys.stdout
    created, skipped = [], []
    _ensure_rates({spec.currency for spec in ORDERS})
    with quietly():
        for spec in ORDERS:
            if _existing(spec) is not None:
                continue
            order = _create(spec)
            (created if order is not None else skipped).append(spec.key)
    total = Order.objects.filter(checkout__cart__token__in=[_token(spec) for spec in ORDERS]).count()
    out.write(f"demo orders: {total} ({len(created)} new)" + (f", skipped: {', '.join(skipped)}" if skipped else ""))


def _token(spec: DemoOrder) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, spec.key)


def _existing(spec: DemoOrder) -> Order | None:
    return Order.objects.filter(checkout__cart__token=_token(spec)).first()


def _ensure_rates(currencies: Iterable[str]) -> None:
    """Cross-currency checkout needs fresh rates: the bundled (offline) ones, when none are current."""
    if current_rates().refresh_id is None or rates_are_stale(sorted(set(currencies) | {"EUR"})):
        with transaction.atomic():
            refresh_fx_rates()
        cache.delete(FX_CACHE_KEY)  # now, not at the commit: seed_demo runs in one transaction


def _create(spec: DemoOrder) -> Order | None:
    buyer = User.objects.filter(email=spec.buyer).first()
    if buyer is None or not Market.objects.filter(country=spec.address["country"]).exists():
        return None
    address = Address(email=spec.buyer, line2="", **spec.address)
    for variants in _candidate_carts(spec):
        try:
            with transaction.atomic():
                cart = _cart(spec, variants)
                checkout = start_checkout(
                    cart, buyer=buyer, address=address, currency=spec.currency, language=spec.language
                )
                order = place_order(checkout.token, buyer=buyer)
                _move(order, spec)
                return order
        except (CheckoutError, DomainError):
            continue  # this cart cannot go there (stock, route, rates): try the next one
    return None


def _candidate_carts(spec: DemoOrder) -> Iterable[list[Variant]]:
    """Carts of ``spec.sellers`` different sellers' variants with stock to spare, in a stable order."""
    spare = max(spec.units) + 2
    in_stock = set(
        Stock.objects.filter(on_hand__gte=F("allocated") + spare, warehouse__active=True).values_list(
            "variant_id", flat=True
        )
    )
    variants = [
        v
        for v in Variant.objects.filter(active=True, product__status=Product.Status.ACTIVE)
        .select_related("product")
        .order_by("sku")
        if v.pk in in_stock
    ]
    by_seller: dict[int, list[Variant]] = {}
    for variant in variants:
        by_seller.setdefault(variant.product.seller_id, []).append(variant)
    sellers = sorted(by_seller)
    offset = sum(map(ord, spec.key))  # each order starts somewhere else in the catalog
    for attempt in range(MAX_TRIES):
        if len(sellers) < spec.sellers:
            return
        chosen = [sellers[(offset + attempt + i) % len(sellers)] for i in range(spec.sellers)]
        if len(set(chosen)) < spec.sellers:
            continue
        yield [by_seller[s][(offset + attempt) % len(by_seller[s])] for s in chosen]


def _cart(spec: DemoOrder, variants: list[Variant]) -> Cart:
    cart, _ = Cart.objects.get_or_create(token=_token(spec), defaults={"user": None})
    cart.lines.all().delete()
    for variant, quantity in zip(variants, spec.units, strict=False):
        CartLine.objects.create(cart=cart, variant=variant, quantity=quantity)
    return cart


# --- Moving the order along ----------------------------------------------------------------------


def _move(order: Order, spec: DemoOrder) -> None:
    now = timezone.now().replace(microsecond=0)
    placed = now - timedelta(days=spec.days_ago)
    _backdate(order, placed)
    order.refresh_from_db()
    paid = placed + timedelta(minutes=7)
    _confirm(order, at=paid)
    shipments = list(Shipment.objects.filter(order_number=order.number).select_related("warehouse").order_by("pk"))
    if spec.outcome == CANCELLED:
        from .cancellation import cancel_order  # the cancellation module (issue 5, helper "money")

        record_event(order.pk, OrderEvent.Kind.CANCELLED, at=paid + timedelta(hours=5))
        cancel_order(Order.objects.get(pk=order.pk), reason="buyer")
    elif spec.outcome == FULFILLING:
        mark_packed(shipments[0])
    elif spec.outcome in (SHIPPED, DELIVERED):
        hours = spec.shipped_hours_ago or (spec.days_ago * 24 - 30)
        shipped_at = now - timedelta(hours=hours)
        carrier = SimulatedCarrier()
        for n, shipment in enumerate(shipments):
            shipped = mark_shipped(
                shipment, tracking_number=_tracking_number(spec, n), shipped_at=shipped_at + timedelta(minutes=40 * n)
            )
            request = tracking_request(Shipment.objects.select_related("warehouse").get(pk=shipped.pk))
            record_tracking_events(shipped.pk, carrier.events(request, now=now), source=TrackingEvent.Source.POLL)
    advance_order(order.pk, now=now)
    _replenish(order)
    _mark_emails_sent(order.pk)


def _replenish(order: Order) -> None:
    """The warehouses got as many units again as this past order shipped (a "received" stock
    adjustment), so the logistics demo finds its stock levels unchanged on the next run."""
    shipped = StockAdjustment.objects.filter(
        reason=StockAdjustment.Reason.SHIPPED, note=f"order {order.number}"
    ).values_list("stock_id", "quantity")
    for stock_id, quantity in shipped:
        adjust_stock(
            Stock.objects.get(pk=stock_id), quantity=-quantity, reason=StockAdjustment.Reason.RECEIVED, note=NOTE
        )


def _backdate(order: Order, placed: datetime) -> None:
    """Demo only: the order was placed ``placed``, not now."""
    Order.objects.filter(pk=order.pk).update(created_at=placed, updated_at=placed)
    Checkout.objects.filter(pk=order.checkout_id).update(created_at=placed, quoted_at=placed)
    SubOrder.objects.filter(order=order).update(created_at=placed)
    OrderLine.objects.filter(order=order).update(created_at=placed)
    Shipment.objects.filter(order_number=order.number).update(created_at=placed)


def _confirm(order: Order, *, at: datetime) -> None:
    """What the payment hand-over does once a payment is secured (no payment here: see above)."""
    record_event(order.pk, OrderEvent.Kind.CONFIRMED, at=at)  # the receiver then finds it recorded
    with transaction.atomic():
        order = lock_order(order.pk)
        order.status = Order.Status.CONFIRMED
        order.reservation_expires_at = None
        order.save(update_fields=["status", "reservation_expires_at", "updated_at"])
        order.sub_orders.filter(status=Order.Status.PENDING_PAYMENT).update(status=Order.Status.CONFIRMED)


def _tracking_number(spec: DemoOrder, n: int) -> str:
    """The first free number for this order and parcel whose simulated journey is a normal one."""
    prefix = f"DO{sum(map(ord, spec.key)) % 1000:03d}{n}"
    for i in range(100_000):
        number = f"{prefix}X{i:06d}"
        if journey_kind(number) == "normal" and not Shipment.objects.filter(tracking_number=number).exists():
            return number
    raise RuntimeError("no tracking number left")  # pragma: no cover


def _mark_emails_sent(order_id: int) -> None:
    """Past orders: their e-mails went out back then (none is sent by seeding)."""
    events = dict(OrderEvent.objects.filter(order_id=order_id, key="").values_list("kind", "occurred_at"))
    order = Order.objects.only("email", "language").get(pk=order_id)
    rows: list[Any] = [
        OrderNotification(
            order_id=order_id, kind=kind, recipient=order.email, language=order.language, sent_at=events[event]
        )
        for kind, event in EVENT_FOR_NOTIFICATION.items()
        if event in events
    ]
    OrderNotification.objects.bulk_create(rows, ignore_conflicts=True)
