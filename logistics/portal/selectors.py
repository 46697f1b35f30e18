"""Reads for the seller's stock pages. Every lookup goes through the seller: another seller's
variant or a warehouse the seller may not use is a 404, like one that does not exist."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from catalog.models import Seller, Variant

from ..models import Shipment, Stock, StockAdjustment, Warehouse
from ..shipments import seller_shipments


def warehouses_for_seller(seller: Seller) -> QuerySet[Warehouse]:
    return Warehouse.objects.filter(sellers=seller, active=True).order_by("kind", "code")


def variants_for_seller(seller: Seller) -> QuerySet[Variant]:
    return (
        Variant.objects.filter(product__seller=seller)
        .select_related("product")
        .order_by("product__slug", "position", "pk")
    )


def variant_for_seller(pk: int, *, seller: Seller) -> Variant:
    return get_object_or_404(variants_for_seller(seller), pk=pk)


def warehouse_for_seller(pk: int, *, seller: Seller) -> Warehouse:
    return get_object_or_404(warehouses_for_seller(seller), pk=pk)


@dataclass(frozen=True)
class StockRow:
    variant: Variant
    cells: list[Stock | None]  # one per warehouse, in the order of ``StockTable.warehouses``

    @property
    def available(self) -> int:
        return sum(s.available for s in self.cells if s is not None)


@dataclass(frozen=True)
class StockTable:
    warehouses: list[Warehouse]
    rows: list[StockRow]


def stock_table(seller: Seller) -> StockTable:
    """Every variant of the seller against every warehouse they may use: three queries."""
    warehouses = list(warehouses_for_seller(seller))
    variants = list(variants_for_seller(seller))
    stock = {
        (s.variant_id, s.warehouse_id): s
        for s in Stock.objects.filter(variant__product__seller=seller, warehouse__in=warehouses)
    }
    rows = [StockRow(v, [stock.get((v.pk, w.pk)) for w in warehouses]) for v in variants]
    return StockTable(warehouses, rows)


def recent_adjustments(seller: Seller, *, limit: int = 20) -> QuerySet[StockAdjustment]:
    return StockAdjustment.objects.filter(stock__variant__product__seller=seller).select_related(
        "stock__variant", "stock__warehouse", "actor"
    )[:limit]


def shipment_for_seller(pk: int, *, seller: Seller) -> Shipment:
    """One of the seller's shipments (``logistics.shipments.seller_shipments``): another seller's,
    or one leaving an overseas or bonded warehouse (the operators'), is a 404."""
    return get_object_or_404(seller_shipments(seller), pk=pk)
