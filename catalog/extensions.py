"""What higher apps add to the storefront, without catalog importing them.

Dependencies point one way (``catalog`` <- ``logistics``), yet the product page shows where a
variant ships from and the listing filters by stock. So catalog defines the interface here and
the project names the implementation in settings::

    STOREFRONT_EXTENSION = "logistics.storefront.LogisticsStorefront"   # "" -> no extension

The storefront views call ``storefront_extension()``; with no extension configured they get
``NoExtension``, which changes nothing (every product "available", no delivery information).
Every method works on querysets or on data the view already loaded, so an extension adds a
constant number of queries to a page, never one per product.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.db.models import BooleanField, QuerySet, Value
from django.utils.module_loading import import_string
from djmoney.money import Money

from .models import Product, Variant
from .pricing import PriceContext


@dataclass(frozen=True)
class VariantAvailability:
    """Stock and delivery of one variant for one buyer, as the product page shows them."""

    class Status:
        IN_STOCK = "in_stock"
        LOW_STOCK = "low_stock"
        OUT_OF_STOCK = "out_of_stock"

    status: str
    available: int  # units a buyer could order now, over every warehouse the seller may use
    ships_from: str = ""  # "Frankfurt, Germany": where one unit would ship from; "" if nowhere
    scope: str = ""  # "local" (buyer's country), "regional" (same zone), "international"
    days_min: int | None = None  # door-to-door days, handling included
    days_max: int | None = None
    shipping: Money | None = None  # cheapest shipping of one unit, in the buyer's currency
    incoterm: str = ""  # "DDP" or "DAP"
    explanation: str = ""  # "Ships from Frankfurt warehouse, 1–3 days" (translated)

    @property
    def ships(self) -> bool:
        return self.days_min is not None


class StorefrontExtension(Protocol):
    def filter_products(
        self, products: QuerySet[Product], *, country: str | None, in_stock: bool, local_stock: bool
    ) -> QuerySet[Product]:
        """The listing's stock filters, as queryset filters (no query of their own)."""
        ...

    def annotate_cards(self, products: QuerySet[Product], *, country: str | None) -> QuerySet[Product]:
        """Adds ``has_local_stock`` (bool) to each product, for the card's badge."""
        ...

    def variant_availability(
        self, product: Product, variants: Sequence[Variant], *, country: str | None, ctx: PriceContext
    ) -> Mapping[int, VariantAvailability]:
        """Per variant pk: stock status and delivery to ``country``, in a constant number of queries."""
        ...


class NoExtension:
    """The storefront without logistics: filters do nothing, no badges, no delivery information."""

    def filter_products(
        self, products: QuerySet[Product], *, country: str | None, in_stock: bool, local_stock: bool
    ) -> QuerySet[Product]:
        return products

    def annotate_cards(self, products: QuerySet[Product], *, country: str | None) -> QuerySet[Product]:
        return products.annotate(has_local_stock=Value(False, output_field=BooleanField()))

    def variant_availability(
        self, product: Product, variants: Sequence[Variant], *, country: str | None, ctx: PriceContext
    ) -> Mapping[int, VariantAvailability]:
        return {}


@functools.cache
def _load(path: str) -> StorefrontExtension:
    return import_string(path)()


def storefront_extension() -> StorefrontExtension:
    """The configured extension; the setting is read on every call, so tests may override it."""
    path = getattr(settings, "STOREFRONT_EXTENSION", "")
    return _load(path) if path else NoExtension()
