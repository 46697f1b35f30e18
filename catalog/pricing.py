"""What a buyer pays for a variant, in their currency.

An explicit price the seller set in the buyer's currency wins; otherwise the seller's price is
converted with the current rates (through EUR) plus the buyer market's FX margin, then rounded
to the currency's minor unit. The same rule exists twice, on purpose and tested together: in
Python for showing prices, and as a SQL expression for filtering and sorting a listing.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Case, DecimalField, F, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from djmoney.money import Money

from marketplace.fx.services import MissingRate, RateTable, convert, current_rates
from marketplace.money import ROUNDING, currency_digits, round_money

from .models import Variant, VariantPrice

AMOUNT = DecimalField(max_digits=30, decimal_places=10)


@dataclass(frozen=True)
class PriceContext:
    currency: str
    margin_percent: Decimal
    table: RateTable

    @classmethod
    def for_request(cls, request: HttpRequest) -> PriceContext:
        market = getattr(request, "market", None)
        return cls(
            currency=request.currency,  # type: ignore[attr-defined]
            margin_percent=market.fx_margin if market is not None else Decimal(0),
            table=current_rates(),
        )

    @classmethod
    def for_currency(cls, currency: str, margin_percent: Decimal = Decimal(0)) -> PriceContext:
        return cls(currency=currency, margin_percent=margin_percent, table=current_rates())

    def factor(self, source: str) -> Decimal:
        """Buyer-currency units per unit of ``source``, margin included."""
        if source == self.currency:
            return Decimal(1)
        return self.table.cross_rate(source, self.currency) * (1 + self.margin_percent / 100)

    def convertible_currencies(self) -> dict[str, Decimal]:
        factors = {}
        for code in [*self.table.rates, "EUR"]:
            try:
                factors[code] = self.factor(code)
            except MissingRate:
                continue
        return factors


@dataclass(frozen=True)
class BuyerPrice:
    money: Money  # in the buyer's currency (or the seller's when no rate exists), rounded
    seller_price: Money  # what the seller set, in their currency
    explicit: bool  # the seller set this price in the buyer's currency

    @property
    def converted(self) -> bool:
        return not self.explicit and self.money.currency != self.seller_price.currency


def variant_price(variant: Variant, ctx: PriceContext) -> BuyerPrice:
    """Reads ``variant.price_list`` when the selectors prefetched it, else ``variant.prices.all()``
    (prefetch that on listings)."""
    explicit_prices = getattr(variant, "price_list", None)
    if explicit_prices is None:
        explicit_prices = variant.prices.all()
    for explicit in explicit_prices:
        if explicit.price.currency.code == ctx.currency:
            return _buyer_price(variant.price, explicit.price, ctx)
    return _buyer_price(variant.price, None, ctx)


def _buyer_price(seller_price: Money, explicit: Money | None, ctx: PriceContext) -> BuyerPrice:
    """The rule itself: ``explicit`` (the seller's price in ``ctx.currency``, if any) wins, else
    conversion; without a rate, the seller's own price."""
    if explicit is not None:
        return BuyerPrice(round_money(explicit), seller_price, explicit=True)
    try:
        result = convert(seller_price, ctx.currency, margin_percent=ctx.margin_percent, table=ctx.table).result
    except MissingRate:
        result = round_money(seller_price)
    return BuyerPrice(result, seller_price, explicit=False)


def _lowest(prices: list[BuyerPrice], ctx: PriceContext) -> BuyerPrice | None:
    comparable = [p for p in prices if p.money.currency.code == ctx.currency] or prices
    return min(comparable, key=lambda p: p.money.amount, default=None)


def from_price(variants: list[Variant], ctx: PriceContext) -> BuyerPrice | None:
    """The lowest price among active variants, as a listing shows it ("from ...")."""
    return _lowest([variant_price(v, ctx) for v in variants if v.active], ctx)


@functools.lru_cache(maxsize=512)
def _quantum(code: str) -> Decimal:
    """What ``round_money`` rounds ``code`` amounts to: ``Decimal("0.01")`` for EUR, 1 for JPY."""
    return Decimal(1).scaleb(-currency_digits(code))


def from_price_of_rows(
    rows: Iterable[tuple[Decimal, str, Decimal | None]],
    ctx: PriceContext,
    factors: dict[str, Decimal | None] | None = None,
) -> BuyerPrice | None:
    """``from_price`` on plain rows of active variants, for listings built from ``.values()``:
    (seller's amount, seller's currency, explicit amount in ``ctx.currency`` or None).

    The same rule as ``_buyer_price`` on plain Decimals: a page of cards prices about a hundred
    variants, and only the lowest of each product becomes ``Money``. ``factors`` (currency ->
    ``ctx.factor``, None without a rate) may be shared by the calls of one page."""
    if factors is None:
        factors = {}
    target = ctx.currency
    quantum = _quantum(target)
    best: tuple[Decimal, str, Decimal, str, bool] | None = None  # amount, currency, seller's amount, ...
    best_in_target = False
    for amount, currency, explicit in rows:
        if explicit is not None:
            candidate = (explicit.quantize(quantum, rounding=ROUNDING), target, amount, currency, True)
        elif currency == target:
            candidate = (amount, target, amount, currency, False)  # convert() leaves it as it is
        else:
            if currency not in factors:
                try:
                    factors[currency] = ctx.factor(currency)
                except MissingRate:
                    factors[currency] = None
            factor = factors[currency]
            if factor is None:
                candidate = (amount.quantize(_quantum(currency), rounding=ROUNDING), currency, amount, currency, False)
            else:
                candidate = ((amount * factor).quantize(quantum, rounding=ROUNDING), target, amount, currency, False)
        in_target = candidate[1] == target
        # _lowest: prices in the buyer's currency win over those left in a seller's; then the first lowest.
        if (
            best is None
            or (in_target and not best_in_target)
            or (in_target == best_in_target and candidate[0] < best[0])
        ):
            best, best_in_target = candidate, in_target
    if best is None:
        return None
    amount, currency, seller_amount, seller_currency, explicit_price = best
    return BuyerPrice(Money(amount, currency), Money(seller_amount, seller_currency), explicit=explicit_price)


def variant_price_expression(ctx: PriceContext, prefix: str = "") -> Coalesce:
    """SQL for ``variant_price`` (unrounded), usable on a Variant queryset."""
    explicit = VariantPrice.objects.filter(variant=OuterRef(f"{prefix}pk"), price_currency=ctx.currency).values(
        "price"
    )[:1]
    converted = Case(
        *[
            When(Q(**{f"{prefix}price_currency": code}), then=F(f"{prefix}price") * Value(factor, output_field=AMOUNT))
            for code, factor in ctx.convertible_currencies().items()
        ],
        default=None,
        output_field=AMOUNT,
    )
    return Coalesce(Subquery(explicit, output_field=AMOUNT), converted, output_field=AMOUNT)


def product_from_price_subquery(ctx: PriceContext) -> Subquery:
    """For a Product queryset: the lowest buyer price among its active variants."""
    cheapest = (
        Variant.objects.filter(product=OuterRef("pk"), active=True)
        .annotate(buyer_price=variant_price_expression(ctx))
        .exclude(buyer_price=None)
        .order_by("buyer_price")
        .values("buyer_price")[:1]
    )
    return Subquery(cheapest, output_field=AMOUNT)
