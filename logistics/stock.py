"""Writes of on-hand stock. Every change goes through ``adjust_stock``: it locks the row, refuses a
result below zero or below the allocated units, and appends a ``StockAdjustment`` (who, why, how
many). The database constraints on ``Stock`` back these rules up; the checks here exist to give
a person a clear message instead of an IntegrityError.

Allocated units are not changed here: checkout reserves them (with ``locks.lock_stock_for_variants``).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F, Q, Sum

from catalog.models import Product, Seller, Variant
from marketplace.models import User

from .exceptions import NegativeStock, StockAllocated, WarehouseNotAllowed
from .locks import lock_stock
from .models import Stock, StockAdjustment, Warehouse


def sellable_units(variant_id: int) -> int | None:
    """Units of one variant a buyer could order now (available stock in active warehouses its seller
    may use, as allocation counts them), or None when the variant is not for sale. One small query:
    what adding to the cart asks on every click."""
    usable = Q(
        stock__on_hand__gt=F("stock__allocated"),
        stock__warehouse__active=True,
        stock__warehouse__sellers=F("product__seller_id"),
    )
    rows = (
        Variant.objects.filter(pk=variant_id, active=True, product__status=Product.Status.ACTIVE)
        .annotate(units=Sum(F("stock__on_hand") - F("stock__allocated"), filter=usable, default=0))
        .order_by()
        .values_list("units", flat=True)
    )
    return next(iter(rows), None)


def stock_row(variant: Variant, warehouse: Warehouse) -> Stock:
    """The Stock row of ``variant`` in ``warehouse``, created empty on first use."""
    stock, _created = Stock.objects.get_or_create(variant=variant, warehouse=warehouse)
    return stock


def ensure_warehouse_allowed(warehouse: Warehouse, *, seller: Seller) -> None:
    if not warehouse.active or not warehouse.sellers.filter(pk=seller.pk).exists():
        raise WarehouseNotAllowed(warehouse=str(warehouse))


@transaction.atomic
def adjust_stock(stock: Stock, *, quantity: int, reason: str, actor: User | None = None, note: str = "") -> Stock:
    """Add ``quantity`` (negative: remove) to the on-hand units of ``stock`` and log it.

    Raises ``NegativeStock`` or ``StockAllocated`` and writes nothing when the result would be
    below zero or below the allocated units. Returns the locked, updated row.
    """
    if quantity == 0:
        raise ValueError("A stock adjustment must change something.")
    if reason not in StockAdjustment.Reason.values:
        raise ValueError(f"Unknown stock adjustment reason {reason!r}.")
    locked = lock_stock([stock.pk])[stock.pk]
    return _apply(locked, quantity=quantity, reason=reason, actor=actor, note=note)


@transaction.atomic
def set_stock(stock: Stock, *, on_hand: int, reason: str, actor: User | None = None, note: str = "") -> Stock:
    """Set the on-hand units (a stock count), logging the difference. No difference, no log entry."""
    locked = lock_stock([stock.pk])[stock.pk]
    change = on_hand - locked.on_hand
    if change == 0:
        return locked
    if reason not in StockAdjustment.Reason.values:
        raise ValueError(f"Unknown stock adjustment reason {reason!r}.")
    return _apply(locked, quantity=change, reason=reason, actor=actor, note=note)


def _apply(stock: Stock, *, quantity: int, reason: str, actor: User | None, note: str) -> Stock:
    after = stock.on_hand + quantity
    if after < 0:
        raise NegativeStock(sku=_sku(stock), warehouse=_warehouse(stock), on_hand=stock.on_hand, change=quantity)
    if after < stock.allocated:
        raise StockAllocated(sku=_sku(stock), warehouse=_warehouse(stock), allocated=stock.allocated)
    stock.on_hand = after
    stock.save(update_fields=["on_hand", "updated_at"])
    StockAdjustment.objects.create(
        stock=stock, quantity=quantity, on_hand_after=after, reason=reason, actor=actor, note=note[:300]
    )
    return stock


def _sku(stock: Stock) -> str:  # error path only: one query
    return Variant.objects.filter(pk=stock.variant_id).values_list("sku", flat=True).first() or "?"


def _warehouse(stock: Stock) -> str:
    return str(Warehouse.objects.get(pk=stock.warehouse_id))


class Operation:
    """What a person asks for in the portal or admin: add units, remove units, or set the count."""

    ADD = "add"
    REMOVE = "remove"
    SET = "set"
    ALL = (ADD, REMOVE, SET)


@transaction.atomic
def change_stock(
    variant: Variant,
    warehouse: Warehouse,
    *,
    operation: str,
    quantity: int,
    reason: str,
    actor: User | None = None,
    note: str = "",
) -> Stock:
    """One person's stock change, all or nothing: the row is created on first use, and a refused
    change (``InvalidStockChange``) rolls that back too. ``quantity`` is a count, never negative."""
    if quantity < 0 or operation not in Operation.ALL:
        raise ValueError(f"Bad stock change: {operation} {quantity}.")
    stock = stock_row(variant, warehouse)
    if operation == Operation.SET:
        return set_stock(stock, on_hand=quantity, reason=reason, actor=actor, note=note)
    change = quantity if operation == Operation.ADD else -quantity
    return adjust_stock(stock, quantity=change, reason=reason, actor=actor, note=note)
