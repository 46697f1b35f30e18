"""Row locks for logistics (STYLE.md, 7): always in pk order, ``no_key`` (nothing references a row
by a key we change), ``of=("self",)`` so joined rows stay unlocked. Call inside ``transaction.atomic``
and keep the block short: never call a carrier while holding one."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .models import Shipment, Stock


def lock_stock(stock_ids: Iterable[int]) -> dict[int, Stock]:
    """The Stock rows ``stock_ids``, locked, by pk. Missing ids are simply absent."""
    rows = Stock.objects.filter(pk__in=list(stock_ids)).order_by("pk").select_for_update(of=("self",), no_key=True)
    return {stock.pk: stock for stock in rows}


def lock_stock_for_variants(variant_ids: Iterable[int]) -> dict[tuple[int, int], Stock]:
    """Every Stock row of ``variant_ids``, locked, keyed by ``(variant_id, warehouse_id)``.

    For checkout: reserving what ``allocate`` planned locks all rows of the cart's variants at once.
    """
    rows = (
        Stock.objects.filter(variant_id__in=list(variant_ids))
        .order_by("pk")
        .select_for_update(of=("self",), no_key=True)
    )
    return {(stock.variant_id, stock.warehouse_id): stock for stock in rows}


def lock_shipments(shipment_ids: Iterable[int], *, only: Sequence[str] = ()) -> dict[int, Shipment]:
    """The Shipment rows ``shipment_ids``, locked, by pk (tracking events and status changes).
    ``only``: load just these fields (a batch of 500 loads faster)."""
    rows = (
        Shipment.objects.filter(pk__in=list(shipment_ids)).order_by("pk").select_for_update(of=("self",), no_key=True)
    )
    if only:
        rows = rows.only(*only)
    return {shipment.pk: shipment for shipment in rows}
