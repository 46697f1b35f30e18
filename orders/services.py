"""Writes of the orders app: the cart, the checkout quote, placing the order (STYLE.md, 2).

A quote is recomputed from the database every time it matters: nothing the browser posts (prices,
currencies, quantities, warehouses) is trusted. Placing the order locks the checkout row, then
the cart's Stock rows in pk order (``logistics.locks``), re-plans the allocation under those
locks and recomputes the quote with the FX rates locked in the checkout; if anything differs from
what the buyer saw, nothing is written and a new quote is stored for the buyer to look at.

The quote carries the buyer's choices: a delivery option per shipment (the cheapest by default)
and a payment method among those the registry offers for the market, currency and amount, whose
fee is part of the fees and the total. Placing the order hands over to ``payments.services``
(``pay_order``), outside any lock; what payments report comes back through ``orders.receivers``
(``confirm_paid_order``, ``extend_reservation``).
"""

from __future__ import annotations

import contextlib
import logging
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
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_countries import countries
from djmoney.money import Money

from catalog.models import Product, Variant
from catalog.pricing import PriceContext, variant_price
from logistics.allocation import (
    Line,
    PlannedShipment,
    ShipmentQuote,
    ShippingOption,
    ShippingQuote,
    allocate,
    load_allocation_data,
)
from logistics.exceptions import LandedCostUnavailable, UnknownDestination
from logistics.locks import lock_stock, lock_stock_for_variants
from logistics.models import ShippingMethod, Stock, Warehouse
from logistics.quote import landed_cost_for_plan
from logistics.shipments import create_shipment
from logistics.stock import sellable_units
from marketplace.fx.services import MissingRate, RateInfo, RateTable, convert, current_rates, rates_are_stale
from marketplace.markets import market_for_country
from marketplace.models import User
from marketplace.money import round_money
from payments.amounts import charge_quantum
from payments.base import PaymentContext, PaymentMethod
from payments.exceptions import PaymentError
from payments.models import Payment
from payments.registry import available_methods
from payments.services import cancel_payment, confirm_payment, live_payment, start_payment

from .exceptions import (
    EmptyCart,
    InvalidDeliveryChoice,
    NotForSale,
    OrderNotPayable,
    OutOfStock,
    PaymentMethodNotOffered,
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

logger = logging.getLogger(__name__)


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
    """Add ``quantity`` units (added to what the cart holds); refused beyond the stock or the limit.
    Four queries on the way that matters: units for sale, the cart's lock, its line, the write."""
    if not 1 <= quantity <= MAX_LINE_QUANTITY:
        raise QuantityNotAllowed(maximum=MAX_LINE_QUANTITY)
    available = sellable_units(variant_id)
    if available is None:
        raise NotForSale()
    cart = lock_cart(cart.pk)
    line = CartLine.objects.filter(cart=cart, variant_id=variant_id).first()
    wanted = quantity + (line.quantity if line else 0)
    if wanted > MAX_LINE_QUANTITY:
        raise QuantityNotAllowed(maximum=MAX_LINE_QUANTITY)
    if wanted > available:
        raise OutOfStock(name=_sellable_variant(variant_id).product.name, available=available)
    if line is None:
        return CartLine.objects.create(cart=cart, variant_id=variant_id, quantity=wanted)
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


def _chosen_option(shipment: PlannedShipment, choices: dict[str, int]) -> ShippingOption | None:
    """The option the buyer chose for this shipment (keyed by warehouse), else the cheapest."""
    wanted = choices.get(str(shipment.warehouse.id))
    for option in shipment.options:
        if option.method.id == wanted:
            return option
    return shipment.cheapest


def _explanation(shipment: PlannedShipment, option: ShippingOption) -> str:
    """Like ``PlannedShipment.explanation`` (same wording), for the option chosen, not the cheapest."""
    place = shipment.warehouse.city or shipment.warehouse.name
    if option.days_min == option.days_max:
        return ngettext(
            "Ships from %(place)s warehouse, %(days)s day",
            "Ships from %(place)s warehouse, %(days)s days",
            option.days_max,
        ) % {"place": place, "days": option.days_max}
    return ngettext(
        "Ships from %(place)s warehouse, %(min)s–%(max)s day",
        "Ships from %(place)s warehouse, %(min)s–%(max)s days",
        option.days_max,
    ) % {"place": place, "min": option.days_min, "max": option.days_max}


def _option_rows(shipment: PlannedShipment, ctx: PriceContext) -> list[dict[str, Any]]:
    """Every shipping option of a shipment with its price in the buyer's currency (an option
    whose price cannot be converted is left out: it cannot be quoted)."""
    rows = []
    for option in shipment.options:
        try:
            price = round_money(
                convert(option.price, ctx.currency, margin_percent=ctx.margin_percent, table=ctx.table).result
            )
        except MissingRate:
            continue
        rows.append(
            {
                "method_id": option.method.id,
                "method": option.method.name,
                "incoterm": option.method.incoterm,
                "days_min": option.days_min,
                "days_max": option.days_max,
                "price": _amount(price),
            }
        )
    return rows


def compute_quote(
    lines: Sequence[Line],
    *,
    country: str,
    ctx: PriceContext,
    check_stale: bool = True,
    shipping_choices: dict[str, int] | None = None,
    payment_method: str | None = None,
    buyer_id: int | None = None,
) -> dict:
    """The landed-cost quote of ``lines`` to ``country`` in ``ctx.currency`` as JSON-ready data.

    Each shipment ships with the option chosen in ``shipping_choices`` (warehouse id -> method
    id; the cheapest when none or no longer offered) and lists all its options. With
    ``payment_method`` (a code; "" for the first one offered) the method's fee is part of the
    fees and the total (``apply_payment_method``).

    Raises ``EmptyCart``, ``NotForSale``, ``UnsupportedDestination``, ``OutOfStock`` and
    ``StaleRates`` (cross-currency with stale rates, when ``check_stale``)."""
    if not lines:
        raise EmptyCart()
    choices = shipping_choices or {}
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
    chosen = [_chosen_option(shipment, choices) for shipment in plan.shipments]
    for option in chosen:
        if option is not None and option.price.currency.code != ctx.currency:
            foreign.add(option.price.currency.code)
    if check_stale and foreign and rates_are_stale(sorted(foreign | {ctx.currency})):
        raise StaleRates()
    try:
        shipping = _quote_shipping(plan.shipments, chosen, ctx)
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
                "ship_from": planned.warehouse.country,
                "explanation": _explanation(planned, option),
                "method_id": option.method.id,
                "method": option.method.name,
                "incoterm": option.method.incoterm,
                "days_min": option.days_min,
                "days_max": option.days_max,
                "options": _option_rows(planned, ctx),
                "items": items,
                **{field: _amount(getattr(cost, field)) for field in MONEY_FIELDS},
            }
        )
    zero = Money(0, ctx.currency)
    totals = {field: sum((getattr(c, field) for c in landed.costs), zero) for field in MONEY_FIELDS}
    rates_used = sorted(foreign)
    quote = {
        "currency": ctx.currency,
        "country": country,
        **{field: _amount(value) for field, value in totals.items()},
        "shipments": shipments,
        "rules": sorted({rule.text for cost in landed.costs for rule in cost.rules}),
        "fx": {code: str(ctx.factor(code)) for code in rates_used},
    }
    if payment_method is None:
        return quote
    return apply_payment_method(quote, method_code=payment_method, buyer_id=buyer_id)


def _quote_shipping(
    shipments: Sequence[PlannedShipment], chosen: Sequence[ShippingOption | None], ctx: PriceContext
) -> ShippingQuote:
    """Like ``logistics.allocation.quote_shipping``, with the option chosen per shipment: each price
    converted (and rounded) through ``marketplace.fx.services.convert``, the total adds them."""
    quotes = []
    total = Money(0, ctx.currency)
    for shipment, option in zip(shipments, chosen, strict=True):
        conversion = None
        if option is not None:
            conversion = convert(option.price, ctx.currency, margin_percent=ctx.margin_percent, table=ctx.table)
            total += round_money(conversion.result)
        quotes.append(ShipmentQuote(shipment, option, conversion))
    return ShippingQuote(ctx.currency, tuple(quotes), total)


# --- Payment method and its fee --------------------------------------------------------------------


@dataclass(frozen=True)
class MethodOffer:
    """A payment method the buyer may choose, with its fee and the total it makes."""

    method: PaymentMethod
    fee: Money
    total: Money

    @property
    def code(self) -> str:
        return self.method.code

    @property
    def label(self) -> str:
        return str(self.method.label)  # translated in the active language

    @property
    def kind(self) -> str:
        return self.method.kind


def payment_fee(method: PaymentMethod, ctx: PaymentContext, *, due_at_door: Money) -> Money:
    """The method's fee for ``ctx``, raised by less than one step where the provider charges in
    coarser steps than the currency's minor unit (Stripe: KWD and BHD in multiples of 0.010), so
    that what is charged at checkout (total minus what is due at the door) is chargeable exactly:
    the order's total is always exactly what the provider takes."""
    fee = round_money(method.fee(ctx))
    if fee.currency.code != ctx.currency:
        raise MissingRate(fee.currency.code)
    quantum = charge_quantum(ctx.currency, method.provider)
    remainder = (ctx.amount + fee - due_at_door).amount % quantum
    if remainder:
        fee += Money(quantum - remainder, ctx.currency)
    return fee


def payment_offers(ctx: PaymentContext, *, due_at_door: Money) -> list[MethodOffer]:
    """The methods the registry offers for ``ctx`` (market, currency, amount), in the order of the
    setting, each with its fee. ``ctx.amount`` is the total before any method's fee."""
    offers = []
    for method in available_methods(ctx):
        try:
            fee = payment_fee(method, ctx, due_at_door=due_at_door)
        except (MissingRate, PaymentError):
            continue
        offers.append(MethodOffer(method, fee, ctx.amount + fee))
    return offers


def _payment_context(
    *, country: str, currency: str, amount: Money, buyer_id: int | None, ship_from: Iterable[str]
) -> PaymentContext:
    origins = list(ship_from)
    return PaymentContext(
        market=market_for_country(country),
        country=country,
        currency=currency,
        amount=amount,
        buyer_id=buyer_id,
        all_shipments_domestic=bool(origins) and all(origin == country for origin in origins),
    )


def quote_payment_context(quote: dict, *, buyer_id: int | None) -> PaymentContext:
    """What decides the payment methods of a quote: its destination, currency and total before
    any method's fee."""
    fee = Money(quote.get("payment_fee") or 0, quote["currency"])
    return _payment_context(
        country=quote["country"],
        currency=quote["currency"],
        amount=quote_money(quote, "total") - fee,
        buyer_id=buyer_id,
        ship_from=[s.get("ship_from", "") for s in quote["shipments"]],
    )


def apply_payment_method(quote: dict, *, method_code: str, buyer_id: int | None) -> dict:
    """The quote with the fee of ``method_code`` in its fees and total. A code that is not offered
    (or "") falls back to the first method offered; none offered: no method, no fee."""
    ctx = quote_payment_context(quote, buyer_id=buyer_id)
    previous_fee = Money(quote.get("payment_fee") or 0, quote["currency"])
    offers = payment_offers(ctx, due_at_door=quote_money(quote, "due_at_door"))
    offer = next((o for o in offers if o.code == method_code), offers[0] if offers else None)
    fee = offer.fee if offer is not None else Money(0, ctx.currency)
    return {
        **quote,
        "payment_method": offer.code if offer is not None else "",
        "payment_fee": _amount(fee),
        "fees": _amount(quote_money(quote, "fees") - previous_fee + fee),
        "total": _amount(ctx.amount + fee),
    }


def quote_fingerprint(quote: dict) -> tuple:
    """What must not change between the quote the buyer saw and the order: amounts, lines,
    warehouses, delivery options, the payment method and its fee."""
    return (
        quote.get("currency"),
        quote.get("country"),
        tuple(quote.get(field) for field in MONEY_FIELDS),
        quote.get("payment_method"),
        quote.get("payment_fee"),
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


def _checkout_quote(checkout: Checkout, ctx: PriceContext, *, check_stale: bool = True, **choices: Any) -> dict:
    """The checkout's quote in ``ctx`` with its delivery and payment choices (or those given)."""
    with translation.override(checkout.language):
        return compute_quote(
            _cart_lines(checkout.cart),
            country=str(checkout.country),
            ctx=ctx,
            check_stale=check_stale,
            shipping_choices=choices.get("shipping_choices", checkout.shipping_choices),
            payment_method=choices.get("payment_method", checkout.payment_method),
            buyer_id=checkout.buyer_id,
        )


@transaction.atomic
def start_checkout(cart: Cart, *, buyer: User, address: Address, currency: str, language: str) -> Checkout:
    """A new checkout with a fresh quote (current rates, locked from now until ``expires_at``):
    the cheapest delivery option per shipment and the first payment method offered."""
    ctx = checkout_context(currency, address.country)
    quote = compute_quote(_cart_lines(cart), country=address.country, ctx=ctx, payment_method="", buyer_id=buyer.pk)
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
        payment_method=quote["payment_method"],
        fx_rates=rates_snapshot(ctx),
        quoted_at=now,
        expires_at=now + timedelta(minutes=settings.CHECKOUT_QUOTE_MINUTES),
    )


_REQUOTE_FIELDS = [
    "previous_total",
    "previous_total_currency",
    "quote",
    "fx_rates",
    "quoted_at",
    "expires_at",
    "payment_method",
    "shipping_choices",
    "updated_at",
]


def _store_fresh_quote(checkout: Checkout, quote: dict, ctx: PriceContext) -> Checkout:
    now = timezone.now()
    checkout.previous_total = quote_money(checkout.quote, "total") if checkout.quote else None
    checkout.quote = quote
    checkout.payment_method = quote["payment_method"]
    checkout.fx_rates = rates_snapshot(ctx)
    checkout.quoted_at = now
    checkout.expires_at = now + timedelta(minutes=settings.CHECKOUT_QUOTE_MINUTES)
    checkout.save(update_fields=_REQUOTE_FIELDS)
    return checkout


@transaction.atomic
def refresh_quote(checkout: Checkout) -> Checkout:
    """Recompute an expired or outdated quote with today's rates (same delivery and payment
    choices where still offered); keeps the old total to show the difference. Raises the quote's
    errors (and then stores nothing)."""
    checkout = lock_checkout(checkout.pk)
    ctx = checkout_context(checkout.currency, str(checkout.country))
    return _store_fresh_quote(checkout, _checkout_quote(checkout, ctx), ctx)


def _choices_unchanged(checkout: Checkout, payment_method: str | None, shipping: dict[int, int] | None) -> bool:
    """The posted choices are what the quote already uses (the form posts them back on every
    submit): nothing to recompute."""
    quoted = {s["warehouse_id"]: s["method_id"] for s in checkout.quote.get("shipments", ())}
    same_shipping = all(quoted.get(warehouse_id) == method_id for warehouse_id, method_id in (shipping or {}).items())
    same_method = payment_method is None or payment_method == checkout.quote.get("payment_method")
    return same_shipping and same_method


def choose_checkout_options(
    checkout: Checkout, *, payment_method: str | None = None, shipping: dict[int, int] | None = None
) -> tuple[Checkout, bool]:
    """Apply the buyer's delivery and payment choices (see ``_choose_checkout_options``); choices
    the quote already uses cost no query."""
    if not checkout.expired and _choices_unchanged(checkout, payment_method, shipping):
        return checkout, False  # placing re-checks everything under its own locks
    return _choose_checkout_options(checkout, payment_method=payment_method, shipping=shipping)


@transaction.atomic
def _choose_checkout_options(
    checkout: Checkout, *, payment_method: str | None = None, shipping: dict[int, int] | None = None
) -> tuple[Checkout, bool]:
    """The buyer picks a delivery option per shipment (warehouse id -> shipping method id) and/or
    a payment method: both are checked against what the quote offers (never trusted: a tampered
    or outdated value raises ``InvalidDeliveryChoice`` / ``PaymentMethodNotOffered`` and changes
    nothing), then the quote is recomputed server-side, with the rates locked in the checkout
    (today's, if the quote expired). Returns the checkout and whether the quote's amounts changed."""
    checkout = lock_checkout(checkout.pk)
    if Order.objects.filter(checkout=checkout).exists():
        return checkout, False  # placed already (a double submit): the order keeps what was placed
    offered = {s["warehouse_id"]: {o["method_id"] for o in s.get("options", ())} for s in checkout.quote["shipments"]}
    choices = dict(checkout.shipping_choices)
    for warehouse_id, method_id in (shipping or {}).items():
        if method_id not in offered.get(warehouse_id, set()):
            raise InvalidDeliveryChoice()
        choices[str(warehouse_id)] = method_id
    method = checkout.payment_method if payment_method is None else payment_method
    if choices == checkout.shipping_choices and method == checkout.payment_method:
        return checkout, False
    fresh = checkout.expired
    ctx = checkout_context(checkout.currency, str(checkout.country)) if fresh else locked_context(checkout)
    quote = _checkout_quote(checkout, ctx, check_stale=fresh, shipping_choices=choices, payment_method=method)
    if payment_method is not None and quote["payment_method"] != payment_method:
        raise PaymentMethodNotOffered()
    changed = tuple(quote.get(f) for f in MONEY_FIELDS) != tuple(checkout.quote.get(f) for f in MONEY_FIELDS)
    checkout.shipping_choices = choices
    if fresh:
        _store_fresh_quote(checkout, quote, ctx)
        return checkout, True
    checkout.quote = quote
    checkout.payment_method = quote["payment_method"]
    checkout.previous_total = None  # the buyer's own choice changed the total: no "since your last quote"
    checkout.save(
        update_fields=[
            "quote",
            "shipping_choices",
            "payment_method",
            "previous_total",
            "previous_total_currency",
            "updated_at",
        ]
    )
    return checkout, changed


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
    quote = _checkout_quote(checkout, locked_context(checkout), check_stale=False)
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
        payment_method=quote.get("payment_method", ""),
        payment_fee=quote_money(quote, "payment_fee") if quote.get("payment_fee") else None,
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
    _after_commit_task("settle_payments_of_unpaid_order", order.pk)  # cancel the attempt still open
    return order


def _after_commit_task(name: str, *args: Any) -> None:
    from . import payment_tasks

    task = getattr(payment_tasks, name)
    transaction.on_commit(lambda: task.delay(*args))


# --- Paying for the order --------------------------------------------------------------------------


def order_payment_context(order: Order) -> PaymentContext:
    """What decides the payment methods of a placed order: its destination, currency, the total
    before the method's fee, and whether every parcel leaves a warehouse in the destination."""
    fee = order.payment_fee if order.payment_fee is not None else Money(0, order.currency)
    return _payment_context(
        country=str(order.country),
        currency=order.currency,
        amount=order.total - fee,
        buyer_id=order.buyer_id,
        ship_from=[str(c) for c in order.lines.values_list("warehouse__country", flat=True).distinct()],
    )


def order_payment_offers(order: Order) -> list[MethodOffer]:
    return payment_offers(order_payment_context(order), due_at_door=order.due_at_door)


def latest_payment(order: Order) -> Payment | None:
    return Payment.objects.filter(order=order).order_by("-created_at", "-pk").first()


def can_pay(order: Order, *, now: datetime | None = None) -> bool:
    """Awaiting payment, stock still reserved, and no attempt under way or done."""
    now = now or timezone.now()
    return (
        order.status == Order.Status.PENDING_PAYMENT
        and (order.reservation_expires_at is None or order.reservation_expires_at > now)
        and live_payment(order.pk) is None
    )


def pay_order(order: Order, *, method_code: str, return_url: str) -> Payment:
    """Start paying a placed order with ``method_code`` (first time, or again after a declined or
    cancelled attempt). Idempotent: while an attempt is under way or done, it is returned and
    nothing starts. The code must be among the methods offered for the order (a posted code is
    never trusted); choosing another method than the quote's replaces the method's fee in the
    order's fees and total before the provider is asked for exactly that total. One order has at
    most one live payment (a database constraint), hence at most one captured."""
    with transaction.atomic():
        order = lock_order(order.pk)
        if (live := live_payment(order.pk)) is not None:
            return live
        if order.status != Order.Status.PENDING_PAYMENT:
            raise OrderNotPayable(_("This order is not awaiting payment."))
        if order.reservation_expires_at is not None and order.reservation_expires_at <= timezone.now():
            raise OrderNotPayable(_("The time to pay for this order ran out; its items are no longer reserved."))
        ctx = order_payment_context(order)
        offer = next((o for o in payment_offers(ctx, due_at_door=order.due_at_door) if o.code == method_code), None)
        if offer is None:
            raise PaymentMethodNotOffered()
        old_fee = order.payment_fee if order.payment_fee is not None else Money(0, order.currency)
        if offer.code != order.payment_method or offer.fee != old_fee:
            order.fees = order.fees - old_fee + offer.fee
            order.total = ctx.amount + offer.fee
            order.payment_fee = offer.fee
            order.payment_method = offer.code
            order.save(
                update_fields=[
                    "fees",
                    "fees_currency",
                    "total",
                    "total_currency",
                    "payment_fee",
                    "payment_fee_currency",
                    "payment_method",
                    "updated_at",
                ]
            )
    # The provider is asked outside any lock (STYLE.md, 14).
    payment = start_payment(order, method_code=method_code, ctx=ctx, return_url=return_url)
    current = Order.objects.get(pk=order.pk)
    if payment.method != current.payment_method or payment.amount != round_money(current.due_at_checkout):
        # A concurrent attempt with another method changed the order meanwhile: void this one.
        if payment.can_become(Payment.State.CANCELLED):
            cancel_payment(payment.pk)
        raise OrderNotPayable(_("Your order changed while you were paying. Please try again."))
    return payment


def confirm_order_payment(order: Order, *, params: dict[str, Any]) -> Payment | None:
    """The buyer is back from the provider: ask it about the attempt still open (whatever the
    browser says, only the provider's answer counts). Returns the latest attempt."""
    payment = latest_payment(order)
    if payment is not None and payment.is_open:
        payment = confirm_payment(payment, params=params)
    return payment


# --- What payments tell the order (orders.receivers) -----------------------------------------------


@transaction.atomic
def confirm_paid_order(order_id: int, payment_id: int) -> Order | None:
    """The order's payment is secured (authorized, captured, or cash on delivery accepted): the
    order and its sub-orders are confirmed and the stock stays reserved for good (the expiry task
    only touches orders awaiting payment). Idempotent. An order that expired meanwhile cannot be
    revived (its stock went back): the late payment is voided or refunded."""
    if not Order.objects.filter(pk=order_id).exists():
        return None
    order = lock_order(order_id)
    secured = Payment.objects.filter(pk=payment_id, order_id=order_id, state__in=Payment.SECURED_STATES).exists()
    if not secured:
        return order
    if order.status == Order.Status.PENDING_PAYMENT:
        order.status = Order.Status.CONFIRMED
        order.reservation_expires_at = None
        order.save(update_fields=["status", "reservation_expires_at", "updated_at"])
        order.sub_orders.filter(status=Order.Status.PENDING_PAYMENT).update(status=Order.Status.CONFIRMED)
    elif order.status == Order.Status.EXPIRED:
        _after_commit_task("settle_payments_of_unpaid_order", order.pk)
    return order


@transaction.atomic
def extend_reservation(order_id: int, *, now: datetime | None = None) -> Order | None:
    """A payment of the order is still pending (the provider said so): its stock stays reserved at
    least ``ORDER_RESERVATION_STEP_MINUTES`` from now, never beyond
    ``ORDER_RESERVATION_CEILING_MINUTES`` after placing. Idempotent (the same report at the same
    time changes nothing), and never shortens a reservation."""
    now = now or timezone.now()
    if not Order.objects.filter(pk=order_id).exists():
        return None
    order = lock_order(order_id)
    if order.status != Order.Status.PENDING_PAYMENT or order.reservation_expires_at is None:
        return order
    ceiling = order.created_at + timedelta(minutes=settings.ORDER_RESERVATION_CEILING_MINUTES)
    wanted = min(now + timedelta(minutes=settings.ORDER_RESERVATION_STEP_MINUTES), ceiling)
    if wanted > order.reservation_expires_at:
        order.reservation_expires_at = wanted
        order.save(update_fields=["reservation_expires_at", "updated_at"])
    return order


def settle_payments_of_unpaid_order(order_id: int) -> list[Payment]:
    """An order that expired unpaid: its attempt still open is cancelled at the provider; one that
    was secured too late (the provider is asked first: the buyer may have paid without coming back)
    is voided (authorized) or refunded in full (captured). Safe to run twice: cancelling or
    refunding with the same key moves nothing again."""
    from payments.services import refund_payment

    order = Order.objects.filter(pk=order_id, status=Order.Status.EXPIRED).first()
    if order is None:
        return []
    settled = []
    for payment in Payment.objects.filter(order=order, state__in=Payment.LIVE_STATES).order_by("pk"):
        try:
            if payment.is_open:  # first ask the provider: the buyer may have paid without coming back
                with contextlib.suppress(NotImplementedError):
                    payment = confirm_payment(payment, params={})
            if payment.can_become(Payment.State.CANCELLED):
                payment = cancel_payment(payment.pk, idempotency_key=f"{payment.attempt}:order-expired")
            elif payment.state == Payment.State.CAPTURED:
                refund_payment(
                    payment.pk,
                    payment.refundable,
                    reason="order expired before the payment completed",
                    idempotency_key=f"{payment.attempt}:order-expired-refund",
                )
        except PaymentError:
            logger.exception("could not settle payment %s of expired order %s", payment.pk, order.pk)
            continue
        settled.append(payment)
    return settled
