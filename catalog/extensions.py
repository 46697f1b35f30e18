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
from django.http import HttpRequest
from django.utils.module_loading import import_string
from djmoney.money import Money

from .models import Product, Seller, Variant
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


# --- Panels: what higher apps show on the product and seller pages ----------------------------------
#
#     STOREFRONT_PANELS = ["orders.feedback_storefront.FeedbackPanels"]   # [] -> no panels
#
# Each class returns, per slot of the page ("aside": beside the buy box, "main": below the
# details), the panels to include: a template and its context. Like the extension above, a panel
# class adds a constant number of queries to a page.


@dataclass(frozen=True)
class Panel:
    template: str
    context: Mapping[str, object]


class StorefrontPanels(Protocol):
    def product_panels(self, request: HttpRequest, product: Product) -> Mapping[str, Sequence[Panel]]: ...

    def seller_panels(self, request: HttpRequest, seller: Seller) -> Mapping[str, Sequence[Panel]]: ...


def storefront_panels() -> list[StorefrontPanels]:
    """The configured panel classes, in order; the setting is read on every call."""
    return [_load_panels(path) for path in getattr(settings, "STOREFRONT_PANELS", ())]


@functools.cache
def _load_panels(path: str) -> StorefrontPanels:
    return import_string(path)()


def _by_slot(results: list[Mapping[str, Sequence[Panel]]]) -> dict[str, list[Panel]]:
    slots: dict[str, list[Panel]] = {}
    for result in results:
        for slot, panels in result.items():
            slots.setdefault(slot, []).extend(panels)
    return slots


def product_panels(request: HttpRequest, product: Product) -> dict[str, list[Panel]]:
    return _by_slot([p.product_panels(request, product) for p in storefront_panels()])


def seller_panels(request: HttpRequest, seller: Seller) -> dict[str, list[Panel]]:
    return _by_slot([p.seller_panels(request, seller) for p in storefront_panels()])
