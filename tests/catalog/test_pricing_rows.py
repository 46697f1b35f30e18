"""``from_price_of_rows`` (listing cards, plain rows) and ``from_price`` (model instances) apply one
rule: explicit price in the buyer's currency, else conversion with the margin, rounded half up;
without a rate, the seller's own price; the lowest wins, prices in the buyer's currency first."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from djmoney.money import Money

from catalog.models import Variant, VariantPrice
from catalog.pricing import PriceContext, from_price, from_price_of_rows
from marketplace.fx.services import RateInfo, RateTable

AS_OF = datetime(2026, 1, 2, tzinfo=UTC)
TABLE = RateTable(
    refresh_id=1,
    checked_at=AS_OF,
    rates={
        code: RateInfo(Decimal(value), "test", AS_OF, offline=False)
        for code, value in {"USD": "1.10", "JPY": "160", "CNY": "8", "KWD": "0.34"}.items()
    },
)

# Each case: the variants as (seller's amount, currency, explicit amount in the buyer's currency or None).
CASES = [
    [("100", "CNY", None)],
    [("100.025", "CNY", None), ("99.99", "CNY", None)],  # 2000.5 -> 2001 JPY; 1999.8 -> 2000
    [("100", "CNY", "1500"), ("90", "CNY", None)],  # an explicit price below the converted one
    [("100", "CNY", None), ("12.50", "EUR", None)],  # two currencies converging on one price: the first wins
    [("100", "JPY", None), ("5", "USD", None)],  # the buyer's own currency, left as set
    [("7", "BRL", None)],  # no rate: the seller's price, rounded
    [("7", "BRL", None), ("100", "CNY", None)],  # a price in the buyer's currency beats one without a rate
    [("3.3333", "KWD", None), ("1.2345", "KWD", "9")],
    [],
]


@pytest.mark.parametrize("rows", CASES)
@pytest.mark.parametrize(("currency", "margin"), [("JPY", "0"), ("JPY", "2"), ("EUR", "0"), ("KWD", "1.5")])
def test_rows_and_models_give_the_same_from_price(rows, currency, margin):
    ctx = PriceContext(currency=currency, margin_percent=Decimal(margin), table=TABLE)
    variants = []
    for amount, code, explicit in rows:
        variant = Variant(price=Money(amount, code), active=True)
        variant.price_list = [] if explicit is None else [VariantPrice(price=Money(explicit, currency))]
        variants.append(variant)
    plain = [(Decimal(a), code, None if explicit is None else Decimal(explicit)) for a, code, explicit in rows]

    expected = from_price(variants, ctx)
    got = from_price_of_rows(plain, ctx)

    if expected is None:
        assert got is None
        return
    assert got is not None
    assert (got.money.amount, got.money.currency.code) == (expected.money.amount, expected.money.currency.code)
    assert got.money.amount.as_tuple() == expected.money.amount.as_tuple()  # the same digits, not only equal
    assert got.seller_price == expected.seller_price and got.explicit == expected.explicit


def test_a_shared_factor_table_gives_the_same_prices():
    ctx = PriceContext(currency="JPY", margin_percent=Decimal("2"), table=TABLE)
    factors: dict[str, Decimal | None] = {}
    rows = [(Decimal("100"), "CNY", None), (Decimal("7"), "BRL", None)]
    first = from_price_of_rows(rows, ctx, factors)
    again = from_price_of_rows(rows, ctx, factors)
    assert first == again and first.money == Money("2040", "JPY")
    assert factors == {"CNY": Decimal("20.40"), "BRL": None}
