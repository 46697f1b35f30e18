"""Allocation: which warehouse ships which units of a cart to a destination country, and how.

``allocate(lines, destination_country)`` reads what it needs in three queries whatever the size of
the cart (``load_allocation_data``), then plans in plain Python (``plan_allocation``, no queries),
so the product page can plan every variant from one load and the property tests can drive the
planner with generated data. Planning reserves nothing: checkout locks the stock rows
(``locks.lock_stock_for_variants``) and reserves what the plan says, re-planning if it changed.

The rules, in order:

1. A warehouse is *usable* for a line when it is active, the line's seller may use it
   (``Warehouse.sellers``), it holds available units (on hand minus allocated) of the variant,
   and it ships to the destination (an active method has a rate from it to a zone containing the
   destination country).
2. Warehouses rank by *tier*: LOCAL (in the destination country: no customs, fastest), REGIONAL
   (its country shares a shipping zone with the destination), INTERNATIONAL (everything else,
   typically the seller's origin).
3. A line ships whole from one warehouse whenever one can cover it, from the best tier that can.
   Among those, warehouses are chosen by greedy set cover: the one that can take the most lines
   first, so the cart ships in as few shipments as possible.
4. A line no single warehouse can cover is split: best tier first, then warehouses already
   shipping something, then the most units, until covered; what is left is a shortfall.
5. Every remaining tie is broken by warehouse code (unique): the same input gives the same plan.

Each planned shipment carries its shipping options for its total weight (the rate whose weight
bracket [min, max) contains it, cheapest per method) and explains itself in the active language.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import IntEnum
from typing import Protocol

from django.db.models import Exists, F, OuterRef
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_countries.fields import Country
from djmoney.money import Money

from marketplace.fx.services import Conversion, MissingRate, RateTable, convert, current_rates
from marketplace.money import round_money

from .models import ShippingRate, ShippingZone, Stock, Warehouse


class Tier(IntEnum):
    LOCAL = 0
    REGIONAL = 1
    INTERNATIONAL = 2

    @property
    def scope(self) -> str:
        return self.name.lower()


class LineLike(Protocol):
    """A cart line, or anything with these two attributes."""

    @property
    def variant_id(self) -> int: ...

    @property
    def quantity(self) -> int: ...


@dataclass(frozen=True)
class Line:
    variant_id: int
    quantity: int


@dataclass(frozen=True)
class VariantInfo:
    variant_id: int
    seller_id: int
    weight_grams: int


@dataclass(frozen=True)
class WarehouseInfo:
    id: int
    code: str
    name: str
    city: str
    country: str
    kind: str
    handling_days: int

    @property
    def place(self) -> str:
        """Like "Frankfurt, Germany", the country's name in the active language."""
        return f"{self.city or self.name}, {Country(self.country).name}"


@dataclass(frozen=True)
class MethodInfo:
    id: int
    code: str
    name: str
    carrier: str
    service_level: str
    incoterm: str
    transit_days_min: int
    transit_days_max: int


@dataclass(frozen=True)
class RateInfo:
    id: int
    warehouse_id: int
    method: MethodInfo
    min_weight_grams: int
    max_weight_grams: int
    price: Money

    def fits(self, weight_grams: int) -> bool:
        return self.min_weight_grams <= weight_grams < self.max_weight_grams


@dataclass(frozen=True)
class AllocationData:
    """Everything the planner reads: plain values, no model instances, no lazy queries."""

    destination: str
    variants: Mapping[int, VariantInfo]
    warehouses: Mapping[int, WarehouseInfo]  # active warehouses holding some of the variants
    allowed: frozenset[tuple[int, int]]  # (warehouse_id, seller_id) pairs: the seller may use it
    available: Mapping[tuple[int, int], int]  # (variant_id, warehouse_id) -> available units (> 0)
    regional_countries: frozenset[str]  # countries sharing a zone with the destination
    rates: Mapping[int, tuple[RateInfo, ...]]  # warehouse_id -> rates to the destination
    eur_factors: Mapping[str, Decimal] = field(default_factory=dict)  # currency -> EUR per unit

    def units_for(self, variant_id: int) -> int:
        """Available units of a variant over the warehouses its seller may use, wherever they ship."""
        info = self.variants.get(variant_id)
        if info is None:
            return 0
        return sum(
            units for (v, w), units in self.available.items() if v == variant_id and (w, info.seller_id) in self.allowed
        )

    def tier(self, warehouse_id: int) -> Tier:
        country = self.warehouses[warehouse_id].country
        if country == self.destination:
            return Tier.LOCAL
        if country in self.regional_countries:
            return Tier.REGIONAL
        return Tier.INTERNATIONAL


@dataclass(frozen=True)
class PlannedItem:
    variant_id: int
    quantity: int


@dataclass(frozen=True)
class ShippingOption:
    method: MethodInfo
    rate_id: int
    price: Money  # in the rate's currency (the warehouse's)
    days_min: int  # door to door: handling plus transit
    days_max: int
    sort_price: Decimal  # the price in EUR when a rate is known, for comparing options

    @property
    def incoterm(self) -> str:
        return self.method.incoterm


@dataclass(frozen=True)
class PlannedShipment:
    warehouse: WarehouseInfo
    tier: Tier
    items: tuple[PlannedItem, ...]
    weight_grams: int
    options: tuple[ShippingOption, ...]  # cheapest first

    @property
    def units(self) -> int:
        return sum(item.quantity for item in self.items)

    @property
    def cheapest(self) -> ShippingOption | None:
        return self.options[0] if self.options else None

    @property
    def fastest(self) -> ShippingOption | None:
        return min(self.options, key=lambda o: (o.days_max, o.days_min, o.sort_price, o.method.code), default=None)

    @property
    def explanation(self) -> str:
        """Like "Ships from Los Angeles warehouse, 2–4 days", in the active language (cheapest option)."""
        place = self.warehouse.city or self.warehouse.name
        option = self.cheapest
        if option is None:
            return _("Ships from %(place)s warehouse; no shipping rate covers %(weight)s g.") % {
                "place": place,
                "weight": self.weight_grams,
            }
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


@dataclass(frozen=True)
class Allocation:
    destination: str
    shipments: tuple[PlannedShipment, ...]
    shortfalls: tuple[PlannedItem, ...]  # units no usable warehouse holds

    @property
    def complete(self) -> bool:
        return not self.shortfalls

    @property
    def shippable(self) -> bool:
        """Every unit is placed and every shipment has a shipping option."""
        return self.complete and all(s.options for s in self.shipments)

    def quantities(self) -> dict[tuple[int, int], int]:
        """(variant_id, warehouse_id) -> units: what checkout reserves."""
        return {(i.variant_id, s.warehouse.id): i.quantity for s in self.shipments for i in s.items}


# --- Loading -------------------------------------------------------------------------------------


def load_allocation_data(
    variant_ids: Iterable[int], destination_country: str | None, *, table: RateTable | None = None
) -> AllocationData:
    """Three queries, whatever the number of variants: usable stock (with its variant, seller and
    warehouse), zones, rates with their methods. ``table`` (the FX rates, cached) only ranks rates
    in different currencies.

    Only usable stock is read: available units of active variants in active warehouses their
    seller may use. A variant without any is absent from ``variants``, and plans as a shortfall.
    """
    destination = (destination_country or "").upper()
    may_use = Warehouse.sellers.through.objects.filter(
        warehouse_id=OuterRef("warehouse_id"), seller_id=OuterRef("variant__product__seller_id")
    )
    stock = (
        Stock.objects.filter(
            Exists(may_use),
            variant_id__in=list(variant_ids),
            variant__active=True,
            warehouse__active=True,
            on_hand__gt=F("allocated"),
        )
        .order_by("pk")
        .values_list(
            "variant_id",
            "variant__product__seller_id",
            "variant__weight_grams",
            "on_hand",
            "allocated",
            "warehouse_id",
            "warehouse__code",
            "warehouse__name",
            "warehouse__city",
            "warehouse__country",
            "warehouse__kind",
            "warehouse__handling_days",
        )
    )
    variants: dict[int, VariantInfo] = {}
    available: dict[tuple[int, int], int] = {}
    warehouses: dict[int, WarehouseInfo] = {}
    allowed: set[tuple[int, int]] = set()
    for variant_id, seller_id, weight, on_hand, allocated, wid, code, name, city, country, kind, handling in stock:
        variants.setdefault(variant_id, VariantInfo(variant_id, seller_id, weight))
        available[(variant_id, wid)] = on_hand - allocated
        allowed.add((wid, seller_id))
        warehouses.setdefault(wid, WarehouseInfo(wid, code, name, city, str(country), kind, handling))
    _zones, regional, rates = load_zones_and_rates(destination, list(warehouses))
    currencies = {r.price.currency.code for rs in rates.values() for r in rs}
    return AllocationData(
        destination=destination,
        variants=dict(variants),
        warehouses=warehouses,
        allowed=frozenset(allowed),
        available=available,
        regional_countries=frozenset(regional - {destination}),
        rates={w: tuple(rs) for w, rs in rates.items()},
        eur_factors=_eur_factors(currencies, table) if len(currencies) > 1 else {},
    )


def _eur_factors(currencies: set[str], table: RateTable | None) -> dict[str, Decimal]:
    table = table or current_rates()
    factors = {}
    for code in currencies:
        try:
            factors[code] = table.cross_rate(code, "EUR")
        except MissingRate:
            continue
    return factors


# --- Planning (pure) -----------------------------------------------------------------------------


def allocate(lines: Sequence[LineLike], destination_country: str) -> Allocation:
    """Plan which warehouse ships which units of ``lines`` to ``destination_country``. Three queries."""
    data = load_allocation_data({line.variant_id for line in lines}, destination_country)
    return plan_allocation(lines, data)


def plan_allocation(lines: Sequence[LineLike], data: AllocationData) -> Allocation:
    """The planning rules of the module docstring, over ``data``; runs no query."""
    wanted: dict[int, int] = {}
    for line in lines:
        if line.quantity <= 0:
            raise ValueError(f"Line quantities must be positive, got {line.quantity} for {line.variant_id}.")
        wanted[line.variant_id] = wanted.get(line.variant_id, 0) + line.quantity
    order = list(wanted)  # first-seen order: the order of items in each shipment
    shipping = {w: data.tier(w) for w in data.warehouses if data.rates.get(w)}
    code = {w: data.warehouses[w].code for w in shipping}

    candidates: dict[int, list[int]] = {}
    for v in order:
        info = data.variants.get(v)
        candidates[v] = (
            []
            if info is None
            else [w for w in shipping if (w, info.seller_id) in data.allowed and data.available.get((v, w), 0) > 0]
        )

    # Whole lines: each from the best tier able to cover it; greedy set cover over those warehouses.
    eligible: dict[int, set[int]] = {}
    for v in order:
        whole = [w for w in candidates[v] if data.available[(v, w)] >= wanted[v]]
        if whole:
            best = min(shipping[w] for w in whole)
            eligible[v] = {w for w in whole if shipping[w] == best}
    assigned: dict[int, dict[int, int]] = {}
    uncovered = set(eligible)
    while uncovered:
        counts = Counter(w for v in uncovered for w in eligible[v])
        pick = min(counts, key=lambda w: (-counts[w], shipping[w], data.warehouses[w].handling_days, code[w], w))
        for v in order:
            if v in uncovered and pick in eligible[v]:
                assigned.setdefault(pick, {})[v] = wanted[v]
                uncovered.discard(v)

    # Split lines: best tier, then a warehouse already shipping, then the most units.
    shortfalls = []
    for v in order:
        if v in eligible:
            continue
        remaining = wanted[v]
        ranked = sorted(
            candidates[v], key=lambda w: (shipping[w], w not in assigned, -data.available[(v, w)], code[w], w)
        )
        for w in ranked:
            take = min(remaining, data.available[(v, w)])
            assigned.setdefault(w, {})[v] = take
            remaining -= take
            if not remaining:
                break
        if remaining:
            shortfalls.append(PlannedItem(v, remaining))

    shipments = []
    for w in sorted(assigned, key=lambda w: (shipping[w], code[w], w)):
        items = tuple(PlannedItem(v, assigned[w][v]) for v in order if v in assigned[w])
        weight = sum(item.quantity * data.variants[item.variant_id].weight_grams for item in items)
        warehouse = data.warehouses[w]
        shipments.append(
            PlannedShipment(
                warehouse=warehouse,
                tier=shipping[w],
                items=items,
                weight_grams=weight,
                options=_options(data.rates[w], weight, warehouse.handling_days, data.eur_factors),
            )
        )
    return Allocation(data.destination, tuple(shipments), tuple(shortfalls))


def _options(
    rates: Iterable[RateInfo], weight: int, handling_days: int, eur_factors: Mapping[str, Decimal]
) -> tuple[ShippingOption, ...]:
    best: dict[int, ShippingOption] = {}
    for rate in rates:
        if not rate.fits(weight):
            continue
        amount = rate.price.amount * eur_factors.get(rate.price.currency.code, Decimal(1))
        option = ShippingOption(
            method=rate.method,
            rate_id=rate.id,
            price=rate.price,
            days_min=handling_days + rate.method.transit_days_min,
            days_max=handling_days + rate.method.transit_days_max,
            sort_price=amount,
        )
        current = best.get(rate.method.id)
        if current is None or (amount, rate.id) < (current.sort_price, current.rate_id):
            best[rate.method.id] = option
    return tuple(sorted(best.values(), key=lambda o: (o.sort_price, o.days_max, o.days_min, o.method.code)))


# --- Quoting -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShipmentQuote:
    shipment: PlannedShipment
    option: ShippingOption | None
    conversion: Conversion | None  # the option's price in the buyer's currency, with the rate used

    @property
    def price(self) -> Money | None:
        return round_money(self.conversion.result) if self.conversion is not None else None


@dataclass(frozen=True)
class ShippingQuote:
    currency: str
    shipments: tuple[ShipmentQuote, ...]
    total: Money

    @property
    def complete(self) -> bool:
        return all(q.option is not None for q in self.shipments)


class Preference:
    CHEAPEST = "cheapest"
    FASTEST = "fastest"


def quote_shipping(
    allocation: Allocation,
    *,
    currency: str,
    margin_percent: Decimal = Decimal(0),
    table: RateTable | None = None,
    prefer: str = Preference.CHEAPEST,
) -> ShippingQuote:
    """Shipping of every planned shipment in the buyer's ``currency``, each converted (and rounded)
    through ``marketplace.fx.services.convert``; the total adds the rounded prices. Raises
    ``MissingRate`` when a rate's currency cannot be converted."""
    table = table or current_rates()
    quotes = []
    total = Money(0, currency)
    for shipment in allocation.shipments:
        option = shipment.fastest if prefer == Preference.FASTEST else shipment.cheapest
        conversion = None
        if option is not None:
            conversion = convert(option.price, currency, margin_percent=margin_percent, table=table)
            total += round_money(conversion.result)
        quotes.append(ShipmentQuote(shipment, option, conversion))
    return ShippingQuote(currency, tuple(quotes), total)


def load_zones_and_rates(
    destination: str, warehouse_ids: list[int]
) -> tuple[list[int], set[str], dict[int, list[RateInfo]]]:
    """Two queries: the zones containing ``destination`` (their ids, and every country they cover:
    "regional"), and the active rates from ``warehouse_ids`` into them, per warehouse, with their
    methods. Shared by allocation and the storefront's cached shipping configuration."""
    zone_ids: list[int] = []
    regional: set[str] = set()
    rates: dict[int, list[RateInfo]] = {}
    if not destination:
        return zone_ids, regional, rates
    # The raw column (django-countries stores "DE,FR,IT"): building a Country object per member of
    # a 190-country zone costs more than the rest of the planning.
    for zone_id, raw in ShippingZone.objects.order_by("pk").values_list("pk", "countries"):
        codes = set(raw.split(",")) if raw else set()
        if destination in codes:
            zone_ids.append(zone_id)
            regional |= codes
    if not (zone_ids and warehouse_ids):
        return zone_ids, regional, rates
    methods: dict[int, MethodInfo] = {}
    rows = (
        ShippingRate.objects.filter(warehouse_id__in=warehouse_ids, zone_id__in=zone_ids, method__active=True)
        .order_by("pk")
        .values_list(
            "pk",
            "warehouse_id",
            "min_weight_grams",
            "max_weight_grams",
            "price",
            "price_currency",
            "method_id",
            "method__code",
            "method__name",
            "method__carrier",
            "method__service_level",
            "method__incoterm",
            "method__transit_days_min",
            "method__transit_days_max",
        )
    )
    for pk, wid, low, high, amount, currency, method_id, *method_fields in rows:
        method = methods.get(method_id)
        if method is None:
            method = methods[method_id] = MethodInfo(method_id, *method_fields)
        rates.setdefault(wid, []).append(RateInfo(pk, wid, method, low, high, Money(amount, currency)))
    return zone_ids, regional, rates
