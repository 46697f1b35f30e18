"""Logistics on the storefront: stock filters, the local-stock badge, stock status and delivery
per variant. Plugged in through ``settings.STOREFRONT_EXTENSION`` (see ``catalog.extensions``),
because catalog must not import logistics.

"Usable" stock is the same everywhere: available units (on hand minus allocated) of an active
variant in an active warehouse its seller may use. Local stock is usable stock in a warehouse in
the buyer's country.

The product page plans delivery with ``plan_allocation``, the planner checkout uses, over the same
``AllocationData`` that ``load_allocation_data`` reads, loaded for one product in one query: its
stock is read on every request, while the shipping configuration (active warehouses and who may
use them, the destination's zones, the rates and methods to them), which operators change rarely,
is cached per destination under a version that any change to a warehouse, zone, method or rate
bumps (receivers below; ``tests/logistics/test_storefront_cache.py`` checks both loads agree).
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import BooleanField, Exists, F, OuterRef, QuerySet, Value
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from catalog.extensions import VariantAvailability
from catalog.models import Product, Variant
from catalog.pricing import PriceContext
from marketplace.fx.services import MissingRate, RateTable, convert
from marketplace.money import round_money

from .allocation import (
    AllocationData,
    Line,
    RateInfo,
    VariantInfo,
    WarehouseInfo,
    load_zones_and_rates,
    plan_allocation,
)
from .models import ShippingMethod, ShippingRate, ShippingZone, Stock, Warehouse

LOW_STOCK_THRESHOLD = 5  # "Only 3 left" at or below this many units


@functools.lru_cache(maxsize=512)
def usable_stock_exists(*, country: str | None = None) -> Exists:
    """For a Product queryset: does the product have usable stock (in ``country``, if given)?
    Built once per country: querysets resolve a copy of it (building it costs 0.4 ms a listing)."""
    stock = Stock.objects.filter(
        variant__product=OuterRef("pk"),
        variant__active=True,
        warehouse__active=True,
        warehouse__sellers=OuterRef("seller_id"),
        on_hand__gt=F("allocated"),
    )
    if country:
        stock = stock.filter(warehouse__country=country.upper())
    return Exists(stock)


def stock_status(units: int) -> str:
    if units <= 0:
        return VariantAvailability.Status.OUT_OF_STOCK
    if units <= LOW_STOCK_THRESHOLD:
        return VariantAvailability.Status.LOW_STOCK
    return VariantAvailability.Status.IN_STOCK


class LogisticsStorefront:
    def filter_products(
        self, products: QuerySet[Product], *, country: str | None, in_stock: bool, local_stock: bool
    ) -> QuerySet[Product]:
        if in_stock:
            products = products.filter(usable_stock_exists())
        if local_stock:
            # Without a known country nothing is local: an empty result, not every product.
            products = products.filter(usable_stock_exists(country=country)) if country else products.none()
        return products

    def annotate_cards(self, products: QuerySet[Product], *, country: str | None) -> QuerySet[Product]:
        if not country:
            return products.annotate(has_local_stock=Value(False, output_field=BooleanField()))
        return products.annotate(has_local_stock=usable_stock_exists(country=country))

    def variant_availability(
        self, product: Product, variants: Sequence[Variant], *, country: str | None, ctx: PriceContext
    ) -> Mapping[int, VariantAvailability]:
        """One query for any number of variants (the stock; the shipping configuration is cached),
        then one plan per variant in memory."""
        data = product_allocation_data(product.seller_id, variants, country, table=ctx.table)
        result = {}
        for variant in variants:
            units = data.units_for(variant.pk)
            status = stock_status(units)
            shipment = None
            if units and data.destination:
                plan = plan_allocation([Line(variant.pk, 1)], data)
                shipment = plan.shipments[0] if plan.complete and plan.shipments else None
            option = shipment.cheapest if shipment is not None else None
            if shipment is None or option is None:
                result[variant.pk] = VariantAvailability(status=status, available=units)
                continue
            try:
                shipping = convert(
                    option.price, ctx.currency, margin_percent=ctx.margin_percent, table=ctx.table
                ).result
            except MissingRate:
                shipping = option.price
            result[variant.pk] = VariantAvailability(
                status=status,
                available=units,
                ships_from=shipment.warehouse.place,
                scope=shipment.tier.scope,
                days_min=option.days_min,
                days_max=option.days_max,
                shipping=round_money(shipping),
                incoterm=option.incoterm,
                explanation=shipment.explanation,
            )
        return result


# --- The product page's allocation data --------------------------------------------------------


@dataclass(frozen=True)
class ShippingConfig:
    """What planning reads besides stock, for one destination: plain values, cached."""

    warehouses: Mapping[int, WarehouseInfo]  # active warehouses
    sellers: Mapping[int, frozenset[int]]  # active warehouse id -> sellers that may use it
    zone_ids: tuple[int, ...]  # zones containing the destination
    regional_countries: frozenset[str]  # the other countries of those zones
    rates: Mapping[int, tuple[RateInfo, ...]]  # warehouse id -> rates to those zones by active methods, by pk


CONFIG_VERSION_KEY = "logistics:storefront:shipping-version"
CONFIG_SECONDS = 600  # a bound only: every change to the configuration bumps the version


def product_allocation_data(
    seller_id: int, variants: Sequence[Variant], destination_country: str | None, *, table: RateTable | None = None
) -> AllocationData:
    """``load_allocation_data`` for the active ``variants`` of one product of seller ``seller_id``:
    the same data, from one query of their usable stock and the cached shipping configuration."""
    destination = (destination_country or "").upper()
    config = shipping_config(destination)
    usable = [w for w, sellers in config.sellers.items() if seller_id in sellers]
    weights = {variant.pk: variant.weight_grams for variant in variants}
    stock = (
        Stock.objects.filter(variant_id__in=list(weights), warehouse_id__in=usable, on_hand__gt=F("allocated"))
        .order_by("pk")
        .values_list("variant_id", "warehouse_id", "on_hand", "allocated")
        if weights and usable
        else []
    )
    infos: dict[int, VariantInfo] = {}
    available: dict[tuple[int, int], int] = {}
    holding: dict[int, WarehouseInfo] = {}
    for variant_id, warehouse_id, on_hand, allocated in stock:
        infos.setdefault(variant_id, VariantInfo(variant_id, seller_id, weights[variant_id]))
        available[(variant_id, warehouse_id)] = on_hand - allocated
        holding.setdefault(warehouse_id, config.warehouses[warehouse_id])
    rates = {w: config.rates[w] for w in holding if w in config.rates} if config.zone_ids else {}
    currencies = {r.price.currency.code for rs in rates.values() for r in rs}
    return AllocationData(
        destination=destination,
        variants=infos,
        warehouses=holding,
        allowed=frozenset((w, seller_id) for w in holding),
        available=available,
        regional_countries=config.regional_countries,
        rates=rates,
        eur_factors=_eur_factors(currencies, table) if len(currencies) > 1 else {},
    )


def _eur_factors(currencies: set[str], table: RateTable | None) -> dict[str, Decimal]:
    from marketplace.fx.services import current_rates

    table = table or current_rates()
    factors = {}
    for code in currencies:
        try:
            factors[code] = table.cross_rate(code, "EUR")
        except MissingRate:
            continue
    return factors


# cache key -> (config, until when, time.monotonic()): unpickling ~150 rates costs 0.4 ms a request
_in_process: dict[str, tuple[ShippingConfig, float]] = {}


def shipping_config(destination: str) -> ShippingConfig:
    """The shipping configuration for ``destination`` (a country code, "" if unknown), cached: in
    the shared cache under the current version, and in this process once read (immutable; the
    version, read from the shared cache on every call, retires both; ``CONFIG_SECONDS`` bounds both)."""
    version = cache.get(CONFIG_VERSION_KEY)
    if version is None:
        cache.add(CONFIG_VERSION_KEY, uuid.uuid4().hex, None)
        version = cache.get(CONFIG_VERSION_KEY) or ""
    key = f"logistics:storefront:shipping:{version}:{destination}"
    config, until = _in_process.get(key, (None, 0.0))
    if config is None or until < time.monotonic():
        config = cache.get(key)
        if config is None:
            config = _load_shipping_config(destination)
            cache.set(key, config, CONFIG_SECONDS)
        if len(_in_process) >= 64:  # old versions and rare destinations
            _in_process.clear()
        _in_process[key] = (config, time.monotonic() + CONFIG_SECONDS)
    return config


def _load_shipping_config(destination: str) -> ShippingConfig:
    """The same reads as ``load_allocation_data``'s, for every active warehouse: three queries."""
    warehouses: dict[int, WarehouseInfo] = {}
    for wid, code, name, city, country, kind, handling in Warehouse.objects.filter(active=True).values_list(
        "pk", "code", "name", "city", "country", "kind", "handling_days"
    ):
        warehouses[wid] = WarehouseInfo(wid, code, name, city, str(country), kind, handling)
    sellers: dict[int, set[int]] = {wid: set() for wid in warehouses}
    for wid, seller_id in Warehouse.sellers.through.objects.filter(warehouse_id__in=list(warehouses)).values_list(
        "warehouse_id", "seller_id"
    ):
        sellers[wid].add(seller_id)
    zone_ids, regional, rates = load_zones_and_rates(destination, list(warehouses))
    return ShippingConfig(
        warehouses=warehouses,
        sellers={wid: frozenset(ids) for wid, ids in sellers.items()},
        zone_ids=tuple(zone_ids),
        regional_countries=frozenset(regional - {destination}),
        rates={wid: tuple(rs) for wid, rs in rates.items()},
    )


def shipping_config_changed() -> None:
    """Retires every cached configuration, now and again after the commit (see ``catalog.cache``)."""

    def bump() -> None:
        cache.set(CONFIG_VERSION_KEY, uuid.uuid4().hex, None)

    bump()
    transaction.on_commit(bump)


@receiver([post_save, post_delete], sender=Warehouse)
@receiver([post_save, post_delete], sender=ShippingZone)
@receiver([post_save, post_delete], sender=ShippingMethod)
@receiver([post_save, post_delete], sender=ShippingRate)
@receiver(m2m_changed, sender=Warehouse.sellers.through)
def _shipping_configuration_changed(sender: Any, **kwargs: Any) -> None:
    shipping_config_changed()
