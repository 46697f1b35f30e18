"""Logistics on the storefront: stock filters, the local-stock badge, stock status and delivery
per variant. Plugged in through ``settings.STOREFRONT_EXTENSION`` (see ``catalog.extensions``),
because catalog must not import logistics.

"Usable" stock is the same everywhere: available units (on hand minus allocated) of an active
variant in an active warehouse its seller may use. Local stock is usable stock in a warehouse in
the buyer's country.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.db.models import BooleanField, Exists, F, OuterRef, QuerySet, Value

from catalog.extensions import VariantAvailability
from catalog.models import Product, Variant
from catalog.pricing import PriceContext
from marketplace.fx.services import MissingRate, convert
from marketplace.money import round_money

from .allocation import Line, load_allocation_data, plan_allocation
from .models import Stock

LOW_STOCK_THRESHOLD = 5  # "Only 3 left" at or below this many units


def usable_stock_exists(*, country: str | None = None) -> Exists:
    """For a Product queryset: does the product have usable stock (in ``country``, if given)?"""
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
        """Three queries for any number of variants: one load, then one plan per variant in memory."""
        data = load_allocation_data([v.pk for v in variants], country, table=ctx.table)
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
