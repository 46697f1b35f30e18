"""Writes of the orders app: the cart, the checkout quote, placing the order (STYLE.md, 2).

A quote is recomputed from the database every time it matters: nothing the browser posts (prices,
currencies, quantities, warehouses) is trusted. Placing the order locks the checkout row, then
the cart's Stock rows in pk order (``logistics.locks``), re-plans the allocation under those
locks and recomputes the quote with the FX rates locked in the checkout; if anything differs from
what the buyer saw, nothing is written and a new quote is stored for the buyer to look at.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django_countries import countries
from djmoney.money import Money

from catalog.models import Product, Variant
from catalog.pricing import PriceContext, variant_price
from logistics.allocation import Line, allocate, load_allocation_data, quote_shipping
from logistics.exceptions import LandedCostUnavailable, UnknownDestination
from logistics.locks import lock_stock, lock_stock_for_variants
from logistics.models import ShippingMethod, Stock, Warehouse
from logistics.quote import landed_cost_for_plan
from logistics.shipments import create_shipment
from marketplace.fx.services import MissingRate, RateInfo, RateTable, current_rates, rates_are_stale
from marketplace.markets import market_for_country
from marketplace.models import User

from .exceptions import (
    EmptyCart,
    NotForSale,
    OutOfStock,
    QuantityNotAllowed,
    QuoteChanged,
    QuoteExpired,
    StaleRates,
    UnsupportedDestination,
)
from .locks import lock_cart, lock_checkout, lock_order
from .models import MAX_LINE_QUANTITY, Cart, CartLine, Checkout, Order, OrderLine, StockReservation, SubOrder
from .selectors import CART_SESSION_KEY, current_cart

MONEY_FIELDS = ("goods", "shipping", "duties", "taxes", "fees", "total", "due_at_door")


# --- Cart ------------------------------------------------------------------------------------------


def available_units(variant_ids: Iterable[int]) -> dict[int, int]:
    """Units a buyer could order now, per variant: available stock its seller may sell (one query)."""
    ids = list(variant_ids)
    data = load_allocation_data(ids, None)
    return {v: data.units_for(v) for v in ids}


def cart_for_request(request: HttpRequest) -> Cart:
    """The buyer's open cart, created when there is none (anonymous: remembered in the session)."""
    cart = current_cart(request)
    if cart is not None:
        return cart
    user = request.user if request.user.is_authenticated else None
    if user is not None:
        try:
            with transaction.atomic():
                return Cart.objects.create(user=user)
        except IntegrityError:  # a concurrent request created it
            return Cart.objects.get(user=user, status=Cart.Status.OPEN)
    cart = Cart.objects.create()
    request.session[CART_SESSION_KEY] = str(cart.token)
    return cart


def _sellable_variant(variant_id: int) -> Variant:
    variant = (
        Variant.objects.select_related("product")
        .filter(pk=variant_id, active=True, product__status=Product.Status.ACTIVE)
        .first()
    )
    if variant is None:
        raise NotForSale()
    return variant


def _check_quantity(variant: Variant, quantity: int) -> None:
    if not 1 <= quantity <= MAX_LINE_QUANTITY:
        raise QuantityNotAllowed(maximum=MAX_LINE_QUANTITY)
    available = available_units([variant.pk])[variant.pk]
    if quantity > available:
        raise OutOfStock(name=variant.product.name, available=available)


@transaction.atomic
def add_to_cart(cart: Cart, *, variant_id: int, quantity: int) -> CartLine:
    """Add ``quantity`` units (added to what the cart holds); refused beyond the stock or the limit."""
    variant = _sellable_variant(variant_id)
    cart = lock_cart(cart.pk)
    line = CartLine.objects.filter(cart=cart, variant=variant).first()
    wanted = quantity + (line.quantity if line else 0)
    if quantity < 1:
        raise QuantityNotAllowed(maximum=MAX_LINE_QUANTITY)
    _check_quantity(variant, wanted)
    if line is None:
        return CartLine.objects.create(cart=cart, variant=variant, quantity=wanted)
    line.quantity = wanted
    line.save(update_fields=["quantity", "updated_at"])
    return line


@transaction.atomic
def set_line_quantity(cart: Cart, *, line_id: int, quantity: int) -> CartLine | None:
    """Set a line's quantity; 0 removes it. Returns the line, or None when removed."""
    cart = lock_cart(cart.pk)
    line = CartLine.objects.select_related("variant__product").filter(cart=cart, pk=line_id).first()
    if line is None:
        return None
    if quantity == 0:
        line.delete()
        return None
    _check_quantity(line.variant, quantity)
    line.quantity = quantity
    line.save(update_fields=["quantity", "updated_at"])
    return line


@transaction.atomic
def merge_carts(anonymous: Cart, *, user: User) -> Cart:
    """At sign-in: the session cart's lines join the user's open cart, quantities combined and
    capped by available stock (and the line limit). A line with no stock left keeps its quantity:
    the cart page flags it rather than dropping it silently."""
    anonymous = lock_cart(anonymous.pk)
    if anonymous.status != Cart.Status.OPEN or anonymous.user_id is not None:
        return anonymous
    target = Cart.objects.filter(user=user, status=Cart.Status.OPEN).select_for_update().first()
    if target is None:
        anonymous.user = user
        anonymous.save(update_fields=["user", "updated_at"])
        return anonymous
    incoming = list(anonymous.lines.all())
    existing = {line.variant_id: line for line in target.lines.all()}
    available = available_units([line.variant_id for line in incoming])
    for line in incoming:
        mine = existing.get(line.variant_id)
        combined = min(line.quantity + (mine.quantity if mine else 0), MAX_LINE_QUANTITY)
        if available[line.variant_id] > 0:
            combined = min(combined, available[line.variant_id])
        if mine is None:
            CartLine.objects.create(cart=target, variant_id=line.variant_id, quantity=combined)
        elif combined != mine.quantity:
            mine.quantity = combined
            mine.save(update_fields=["quantity", "updated_at"])
    anonymous.status = Cart.Status.MERGED
    anonymous.save(update_fields=["status", "updated_at"])
    return target


# --- Quote -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    email: str
    name: str
    line1: str
    city: str
    country: str
    phone: str
    line2: str = ""
    postal_code: str = ""


def _amount(money: Money) -> str:
    return str(money.amount)


def rates_snapshot(ctx: PriceContext) -> dict[str, Any]:
    table = ctx.table
    return {
        "refresh_id": table.refresh_id,
        "checked_at": table.checked_at.isoformat() if table.checked_at else None,
        "margin_percent": str(ctx.margin_percent),
        "rates": {
            code: {
                "units_per_eur": str(info.units_per_eur),
                "provider": info.provider,
                "as_of": info.as_of.isoformat(),
                "offline": info.offline,
            }
            for code, info in table.rates.items()
        },
    }


def locked_context(checkout: Checkout) -> PriceContext:
    """The prices context of a checkout: its currency, margin and the FX rates locked in it."""
    snap = checkout.fx_rates
    checked_at = parse_datetime(snap["checked_at"]) if snap.get("checked_at") else None
    rates = {
        code: RateInfo(Decimal(r["units_per_eur"]), r["provider"], parse_datetime(r["as_of"]), r["offline"])
        for code, r in snap.get("rates", {}).items()
    }
    table = RateTable(refresh_id=snap.get("refresh_id"), checked_at=checked_at, rates=rates)
    return PriceContext(currency=checkout.currency, margin_percent=Decimal(snap["margin_percent"]), table=table)


def checkout_context(currency: str, country: str) -> PriceContext:
    """Current rates, the destination market's margin (the country decides the market)."""
    market = market_for_country(country)
    margin = market.fx_margin if market is not None else Decimal(0)
    return PriceContext(currency=currency, margin_percent=margin, table=current_rates())


def compute_quote(lines: Sequence[Line], *, country: str, ctx: PriceContext, check_stale: bool = True) -> dict:
    """The landed-cost quote of ``lines`` to ``country`` in ``ctx.currency`` as JSON-ready data.

    Raises ``EmptyCart``, ``NotForSale``, ``UnsupportedDestination``, ``OutOfStock`` and
    ``StaleRates`` (cross-currency with stale rates, when ``check_stale``)."""
    if not lines:
        raise EmptyCart()
    country = country.upper()
    if market_for_country(country) is None:
        raise UnsupportedDestination(country=str(countries.name(country) or country))
    variants = {
        v.pk: v
        for v in Variant.objects.filter(pk__in=[line.variant_id for line in lines])
        .select_related("product__seller")
        .prefetch_related("prices")
    }
    foreign: set[str] = set()
    for line in lines:
        variant = variants.get(line.variant_id)
        if variant is None or not variant.active or variant.product.status != Product.Status.ACTIVE:
            raise NotForSale()
        price = variant_price(variant, ctx)
        if price.money.currency.code != ctx.currency:
            raise StaleRates()  # no rate at all for the seller's currency
        if price.converted:
            foreign.add(price.seller_price.currency.code)
    plan = allocate(lines, country)
    if plan.shortfalls:
        short = plan.shortfalls[0]
        variant = variants[short.variant_id]
        wanted = sum(line.quantity for line in lines if line.variant_id == short.variant_id)
        units = available_units([short.variant_id])[short.variant_id]
        if units >= wanted:  # the units exist, but nothing ships them to this country
            raise UnsupportedDestination(country=str(countries.name(country) or country))
        raise OutOfStock(name=variant.product.name, available=units)
    if not plan.shippable:
        raise UnsupportedDestination(country=str(countries.name(country) or country))
    for shipment in plan.shipments:
        if shipment.cheapest and shipment.cheapest.price.currency.code != ctx.currency:
            foreign.add(shipment.cheapest.price.currency.code)
    if check_stale and foreign and rates_are_stale(sorted(foreign | {ctx.currency})):
        raise StaleRates()
    try:
        shipping = quote_shipping(plan, currency=ctx.currency, margin_percent=ctx.margin_percent, table=ctx.table)
        landed = landed_cost_for_plan(plan, shipping, ctx=ctx, destination=country, variants=variants)
    except UnknownDestination as exc:
        raise UnsupportedDestination(country=str(countries.name(country) or country)) from exc
    except LandedCostUnavailable as exc:
        raise UnsupportedDestination(country=str(countries.name(country) or country)) from exc
    except MissingRate as exc:
        raise StaleRates() from exc
    shipments = []
    for planned, ship_quote, parcel, cost in zip(
        plan.shipments, shipping.shipments, landed.parcels, landed.costs, strict=True
    ):
        option = ship_quote.option
        assert option is not None and ship_quote.price is not None  # plan.shippable
        items = []
        for item, parcel_line in zip(planned.items, parcel.lines, strict=True):
            variant = variants[item.variant_id]
            seller_currency = variant.price.currency.code
            try:
                rate = ctx.factor(seller_currency)
            except MissingRate:
                rate = Decimal(0)
            items.append(
                {
                    "variant_id": variant.pk,
                    "seller_id": variant.product.seller_id,
                    "seller": variant.product.seller.name,
                    "sku": variant.sku,
                    "name": variant.product.name,
                    "options": variant.option_label,
                    "hs_code": variant.product.hs_code,
                    "origin": str(variant.product.origin_country),
                    "quantity": item.quantity,
                    "unit_price": _amount(parcel_line.customs_value),
                    "seller_price": _amount(variant.price),
                    "seller_currency": seller_currency,
                    "fx_rate": str(rate),
                }
            )
        shipments.append(
            {
                "warehouse_id": planned.warehouse.id,
                "warehouse": planned.warehouse.name,
                "place": planned.warehouse.place,
                "explanation": planned.explanation,
                "method_id": option.method.id,
                "method": option.method.name,
                "incoterm": option.method.incoterm,
                "days_min": option.days_min,
                "days_max": option.days_max,
                "items": items,
                **{field: _amount(getattr(cost, field)) for field in MONEY_FIELDS},
            }
        )
    zero = Money(0, ctx.currency)
    totals = {field: sum((getattr(c, field) for c in landed.costs), zero) for field in MONEY_FIELDS}
    rates_used = sorted(foreign)
    return {
        "currency": ctx.currency,
        "country": country,
        **{field: _amount(value) for field, value in totals.items()},
        "shipments": shipments,
        "rules": sorted({rule.text for cost in landed.costs for rule in cost.rules}),
        "fx": {code: str(ctx.factor(code)) for code in rates_used},
    }


def quote_fingerprint(quote: dict) -> tuple:
    """What must not change between the quote the buyer saw and the order: amounts, lines, warehouses."""
    return (
        quote.get("currency"),
        quote.get("country"),
        tuple(quote.get(field) for field in MONEY_FIELDS),
        tuple(
            (
                s["warehouse_id"],
                s["method_id"],
                s["shipping"],
                tuple((i["variant_id"], i["quantity"], i["unit_price"]) for i in s["items"]),
            )
            for s in quote.get("shipments", ())
        ),
    )


def quote_money(quote: dict, field: str) -> Money:
    return Money(quote[field], quote["currency"])


def _cart_lines(cart: Cart) -> list[Line]:
    return [Line(v, q) for v, q in cart.lines.order_by("pk").values_list("variant_id", "quantity")]


@transaction.atomic
def start_checkout(cart: Cart, *, buyer: User, address: Address, currency: str, language: str) -> Checkout:
    """A new checkout with a fresh quote (current rates, locked from now until ``expires_at``)."""
    ctx = checkout_context(currency, address.country)
    quote = compute_quote(_cart_lines(cart), country=address.country, ctx=ctx)
    now = timezone.now()
    return Checkout.objects.create(
        cart=cart,
        buyer=buyer,
        email=address.email,
        name=address.name,
        line1=address.line1,
        line2=address.line2,
        city=address.city,
        postal_code=address.postal_code,
        country=address.country,
        phone=address.phone,
        language=language,
        currency=currency,
        quote=quote,
        fx_rates=rates_snapshot(ctx),
        quoted_at=now,
        expires_at=now + timedelta(minutes=settings.CHECKOUT_QUOTE_MINUTES),
    )


@transaction.atomic
def refresh_quote(checkout: Checkout) -> Checkout:
    """Recompute an expired or outdated quote with today's rates; keeps the old total to show the
    difference. Raises the quote's errors (and then stores nothing)."""
    checkout = lock_checkout(checkout.pk)
    ctx = checkout_context(checkout.currency, str(checkout.country))
    with translation.override(checkout.language):
        quote = compute_quote(_cart_lines(checkout.cart), country=str(checkout.country), ctx=ctx)
    now = timezone.now()
    checkout.previous_total = quote_money(checkout.quote, "total") if checkout.quote else None
    checkout.quote = quote
    checkout.fx_rates = rates_snapshot(ctx)
    checkout.quoted_at = now
    checkout.expires_at = now + timedelta(minutes=settings.CHECKOUT_QUOTE_MINUTES)
    checkout.save(
        update_fields=[
            "previous_total",
            "previous_total_currency",
            "quote",
            "fx_rates",
            "quoted_at",
            "expires_at",
            "updated_at",
        ]
    )
    return checkout


# --- Placing the order -----------------------------------------------------------------------------


def place_order(checkout_token: Any, *, buyer: User) -> Order:
    """One atomic, idempotent step keyed by the checkout token: the same token always gives the
    same order. An expired or outdated quote is recomputed and stored, and ``QuoteExpired`` /
    ``QuoteChanged`` raised: the buyer places again after seeing it. Raises ``Checkout.DoesNotExist``
    for another buyer's token."""
    checkout = Checkout.objects.get(token=checkout_token, buyer=buyer)
    if (order := Order.objects.filter(checkout=checkout).first()) is not None:
        return order  # replay: same answer, no second order
    if checkout.expired:
        refresh_quote(checkout)
        raise QuoteExpired()
    try:
        return _create_order(checkout.pk)
    except QuoteChanged:
        refresh_quote(checkout)
        raise
    except IntegrityError:  # a concurrent submit of the same token won
        order = Order.objects.filter(checkout=checkout).first()
        if order is None:
            raise
        return order


@transaction.atomic
def _create_order(checkout_id: int) -> Order:
    checkout = lock_checkout(checkout_id)  # a double submit waits here, then finds the order
    if (order := Order.objects.filter(checkout=checkout).first()) is not None:
        return order
    if checkout.expired:
        raise QuoteChanged()
    lines = _cart_lines(checkout.cart)
    if not lines:
        raise EmptyCart()
    stocks = lock_stock_for_variants(sorted({line.variant_id for line in lines}))  # pk order
    with translation.override(checkout.language):
        quote = compute_quote(lines, country=str(checkout.country), ctx=locked_context(checkout), check_stale=False)
    if quote_fingerprint(quote) != quote_fingerprint(checkout.quote):
        raise QuoteChanged()
    now = timezone.now()
    order = Order.objects.create(
        checkout=checkout,
        buyer=checkout.buyer,
        email=checkout.email,
        language=checkout.language,
        currency=checkout.currency,
        country=checkout.country,
        shipping_address={
            "name": checkout.name,
            "line1": checkout.line1,
            "line2": checkout.line2,
            "city": checkout.city,
            "postal_code": checkout.postal_code,
            "country": str(checkout.country),
            "phone": checkout.phone,
        },
        fx_rates={"used": quote["fx"], **checkout.fx_rates},
        reservation_expires_at=now + timedelta(minutes=settings.ORDER_RESERVATION_MINUTES),
        **{field: quote_money(quote, field) for field in MONEY_FIELDS},
    )
    currency = checkout.currency
    sub_orders: dict[int, SubOrder] = {}
    goods_by_seller: dict[int, Money] = {}
    warehouses = Warehouse.objects.in_bulk([s["warehouse_id"] for s in quote["shipments"]])
    methods = ShippingMethod.objects.in_bulk([s["method_id"] for s in quote["shipments"]])
    for shipment in quote["shipments"]:
        declared = []
        for item in shipment["items"]:
            stock = stocks.get((item["variant_id"], shipment["warehouse_id"]))
            if stock is None or stock.on_hand - stock.allocated < item["quantity"]:
                available = 0 if stock is None else stock.on_hand - stock.allocated
                raise OutOfStock(name=item["name"], available=max(available, 0))
            seller_id = item["seller_id"]
            if seller_id not in sub_orders:
                sub_orders[seller_id] = SubOrder.objects.create(
                    order=order, seller_id=seller_id, goods=Money(0, currency)
                )
            unit = Money(item["unit_price"], currency)
            line_total = unit * item["quantity"]
            goods_by_seller[seller_id] = goods_by_seller.get(seller_id, Money(0, currency)) + line_total
            line = OrderLine.objects.create(
                order=order,
                sub_order=sub_orders[seller_id],
                variant_id=item["variant_id"],
                warehouse_id=shipment["warehouse_id"],
                name=item["name"],
                sku=item["sku"],
                hs_code=item["hs_code"],
                origin_country=item["origin"],
                quantity=item["quantity"],
                unit_price_seller=Money(item["seller_price"], item["seller_currency"]),
                unit_price=unit,
                fx_rate=Decimal(item["fx_rate"]),
                line_total=line_total,
            )
            Stock.objects.filter(pk=stock.pk).update(allocated=F("allocated") + item["quantity"])
            stock.allocated += item["quantity"]
            StockReservation.objects.create(order_line=line, stock=stock, quantity=item["quantity"])
            declared.append(
                {
                    "description": item["name"][:200],
                    "hs_code": item["hs_code"],
                    "origin": item["origin"],
                    "quantity": item["quantity"],
                    "value": item["unit_price"],
                    "currency": currency,
                }
            )
        create_shipment(
            warehouse=warehouses[shipment["warehouse_id"]],
            destination_country=str(checkout.country),
            items=declared,
            order_number=order.number,
            incoterm=shipment["incoterm"],
            method=methods.get(shipment["method_id"]),
            shipping_cost=Money(shipment["shipping"], currency),
            recipient_name=checkout.name,
            recipient_address="\n".join(checkout.address_lines()),
        )
    for seller_id, sub_order in sub_orders.items():
        sub_order.goods = goods_by_seller[seller_id]
        sub_order.save(update_fields=["goods", "goods_currency", "updated_at"])
    cart = checkout.cart
    cart.status = Cart.Status.ORDERED
    cart.save(update_fields=["status", "updated_at"])
    return order


# --- Releasing reserved stock ----------------------------------------------------------------------

EXPIRE_BATCH_SIZE = 200  # orders per beat run; each locks its own stock rows briefly


def due_unpaid_orders(*, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(
        Order.objects.filter(status=Order.Status.PENDING_PAYMENT, reservation_expires_at__lte=now)
        .order_by("reservation_expires_at", "pk")
        .values_list("pk", flat=True)[:EXPIRE_BATCH_SIZE]
    )


@transaction.atomic
def expire_unpaid_order(order_id: int, *, now: datetime | None = None) -> Order | None:
    """An unpaid order whose reservation ran out: its stock goes back (allocated decremented, rows
    locked in pk order) and it becomes EXPIRED. Safe to run twice: a paid, already expired or
    extended order is returned unchanged."""
    now = now or timezone.now()
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        return None
    order = lock_order(order_id)
    if (
        order.status != Order.Status.PENDING_PAYMENT
        or order.reservation_expires_at is None
        or order.reservation_expires_at > now
        or not order.can_become(Order.Status.EXPIRED)
    ):
        return order
    reservations = list(
        StockReservation.objects.filter(order_line__order=order, released_at=None).order_by("stock_id", "pk")
    )
    stocks = lock_stock({r.stock_id for r in reservations})  # pk order
    for reservation in reservations:
        stock = stocks[reservation.stock_id]
        stock.allocated = max(stock.allocated - reservation.quantity, 0)
        stock.save(update_fields=["allocated", "updated_at"])
    StockReservation.objects.filter(pk__in=[r.pk for r in reservations]).update(released_at=now)
    order.status = Order.Status.EXPIRED
    order.save(update_fields=["status", "updated_at"])
    order.sub_orders.update(status=Order.Status.EXPIRED)
    return order
