"""From an allocation plan to what the buyer pays to land it: one customs ``Parcel`` per planned
shipment, priced by ``customs.landed_cost``. The cart page, the bench and (later) checkout call
``landed_cost_for_plan`` after ``allocate`` and ``quote_shipping``.

Each parcel line is a cart line's units from one warehouse: its customs value is what the buyer
pays for one unit (``catalog.pricing.variant_price`` in the buyer's currency), with the product's
HS code and country of origin. The parcel ships from the warehouse's country, costs the shipping
price ``quote_shipping`` chose for it (already in the buyer's currency) and takes that method's
Incoterm. One query (the variants with their products and explicit prices), then the customs
rules come from their cache.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.db.models import DecimalField, OuterRef, Subquery
from djmoney.money import Money

from catalog.models import Variant, VariantPrice
from catalog.pricing import PriceContext, variant_price

from .allocation import Allocation, ShippingQuote
from .customs import LandedCost, LandedCostLine, Parcel, landed_cost, landed_cost_total
from .exceptions import NoShippingOption


@dataclass(frozen=True)
class PlanLandedCost:
    destination: str
    currency: str
    parcels: tuple[Parcel, ...]  # one per planned shipment, in the plan's order
    costs: tuple[LandedCost, ...]  # the same order
    total: Money  # the sum of the parcels' totals

    @property
    def due_at_checkout(self) -> Money:
        return sum((c.due_at_checkout for c in self.costs), Money(0, self.currency))

    @property
    def due_at_door(self) -> Money:
        return sum((c.due_at_door for c in self.costs), Money(0, self.currency))


@dataclass(frozen=True)
class _Product:
    hs_code: str
    origin_country: str


@dataclass(frozen=True)
class _ExplicitPrice:
    price: Money


@dataclass(frozen=True)
class PlanVariant:
    """What a parcel line needs of a variant, shaped like one for ``catalog.pricing.variant_price``
    (``price``, ``price_list``) and for ``parcels_for_plan`` (``sku``, ``product.hs_code`` ...)."""

    pk: int
    sku: str
    price: Money
    price_list: tuple[_ExplicitPrice, ...]
    product: _Product


def plan_variants(plan: Allocation, *, currency: str) -> dict[int, PlanVariant]:
    """The plan's variants with what a parcel line needs, in one query of plain rows: the variant's
    price, its product's customs fields, and its explicit price in ``currency`` if the seller set
    one. Plain rows, not model instances: this runs on every quote (bench/logistics_bench.py)."""
    ids = {item.variant_id for shipment in plan.shipments for item in shipment.items}
    explicit = VariantPrice.objects.filter(variant=OuterRef("pk"), price_currency=currency).values("price")[:1]
    rows = (
        Variant.objects.filter(pk__in=ids)
        .annotate(explicit_price=Subquery(explicit, output_field=DecimalField(max_digits=14, decimal_places=3)))
        .values_list(
            "pk", "sku", "price", "price_currency", "product__hs_code", "product__origin_country", "explicit_price"
        )
    )
    return {
        pk: PlanVariant(
            pk=pk,
            sku=sku,
            price=Money(amount, price_currency),
            price_list=(_ExplicitPrice(Money(explicit_amount, currency)),) if explicit_amount is not None else (),
            product=_Product(hs_code=hs_code, origin_country=str(origin)),
        )
        for pk, sku, amount, price_currency, hs_code, origin, explicit_amount in rows
    }


def parcels_for_plan(
    plan: Allocation,
    shipping_quote: ShippingQuote,
    *,
    ctx: PriceContext,
    variants: Mapping[int, Variant] | Mapping[int, PlanVariant] | None = None,
) -> tuple[Parcel, ...]:
    """One customs parcel per planned shipment. ``shipping_quote`` is ``quote_shipping(plan, ...)``
    in ``ctx.currency``. Raises ``NoShippingOption`` when a shipment has no shipping rate."""
    if shipping_quote.currency != ctx.currency:
        raise ValueError(f"The shipping quote is in {shipping_quote.currency}, the prices in {ctx.currency}.")
    if len(shipping_quote.shipments) != len(plan.shipments):
        raise ValueError("The shipping quote is not for this plan.")
    variants = plan_variants(plan, currency=ctx.currency) if variants is None else variants
    prices: dict[int, Money] = {}
    parcels = []
    for shipment, quote in zip(plan.shipments, shipping_quote.shipments, strict=True):
        if quote.option is None or quote.price is None:
            raise NoShippingOption(warehouse=shipment.warehouse.name)
        lines = []
        for item in shipment.items:
            variant = variants[item.variant_id]
            if item.variant_id not in prices:
                prices[item.variant_id] = variant_price(variant, ctx).money
            lines.append(
                LandedCostLine(
                    customs_value=prices[item.variant_id],
                    quantity=item.quantity,
                    hs_code=variant.product.hs_code,
                    origin_country=str(variant.product.origin_country),
                    description=variant.sku,
                )
            )
        parcels.append(
            Parcel(
                lines=tuple(lines),
                ship_from=shipment.warehouse.country,
                shipping=quote.price,
                incoterm=quote.option.method.incoterm,
            )
        )
    return tuple(parcels)


def landed_cost_for_plan(
    plan: Allocation,
    shipping_quote: ShippingQuote,
    *,
    ctx: PriceContext,
    destination: str | None = None,
    variants: Mapping[int, Variant] | None = None,
) -> PlanLandedCost:
    """The landed cost of every parcel of ``plan`` (to ``destination``, default the plan's) in
    ``ctx.currency``, and their total. Raises ``NoShippingOption``, ``UnknownDestination`` and
    ``MissingDutyRate`` (``LandedCostUnavailable``) when it cannot be priced. Only planned units
    are priced: check ``plan.complete`` first (a shortfall is not in any parcel)."""
    destination = (destination or plan.destination).upper()
    parcels = parcels_for_plan(plan, shipping_quote, ctx=ctx, variants=variants)
    # Prices and shipping are in the buyer's currency already: no further margin on them.
    costs = tuple(
        landed_cost(parcel, destination=destination, buyer_currency=ctx.currency, rates=ctx.table) for parcel in parcels
    )
    total = landed_cost_total(costs) or Money(0, ctx.currency)
    return PlanLandedCost(destination, ctx.currency, parcels, costs, total)
