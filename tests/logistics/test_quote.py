"""Landed cost of an allocation plan: one customs parcel per planned shipment, computed by hand.

World (tests/logistics/world.py), FX units per EUR: USD 1.10, CNY 8, so CNY 100 = USD 13.75 and
EUR 100 = USD 110.00. The cart, to the US, quoted in USD:
    2 x wig (Silk, CNY 100) held only in Guangzhou  -> economy CNY 80 = USD 11.00, DAP
    1 x oil (Olive, EUR 100) held only in Milan     -> economy EUR 15 = USD 16.50, DAP
US rules (test figures): duty 10 % on goods only (FOB) from the first cent, no VAT, a clearance
fee of USD 5 per parcel.
    Guangzhou: goods 27.50 + shipping 11.00 + duty 2.75 + taxes 0 + fee 5 =  46.25
    Milan:     goods 110.00 + shipping 16.50 + duty 11.00 + taxes 0 + fee 5 = 142.50
    total 188.75
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from djmoney.money import Money

from catalog.models import Variant, VariantPrice
from catalog.pricing import PriceContext
from logistics.allocation import Line, allocate, quote_shipping
from logistics.exceptions import NoShippingOption
from logistics.models import DutyRate, MarketCustomsRule
from logistics.quote import landed_cost_for_plan
from marketplace.models import Market

from .world import make_product, put

D = Decimal
TODAY = date(2026, 11, 1)


@pytest.fixture
def us_rules(db) -> None:
    us = Market.objects.create(
        country="US",
        region="americas",
        currency="USD",
        language="en",
        vat_rate=D("0"),
        duty_de_minimis=Money("0", "USD"),
        duty_de_minimis_verified_on=TODAY,
        tax_de_minimis=Money("0", "USD"),
        tax_de_minimis_verified_on=TODAY,
    )
    MarketCustomsRule.objects.create(
        market=us,
        tax_name=MarketCustomsRule.TaxName.SALES_TAX,
        duty_base_includes_shipping=False,
        parcel_fee=Money("5", "USD"),
        verified_on=TODAY,
    )
    DutyRate.objects.create(country="US", hs_prefix="", rate=D("10"), verified_on=TODAY)


@pytest.fixture
def cart(world, fx) -> list[Line]:
    wig = make_product(world.silk, world.category, "wig").variants.get()
    oil = make_product(world.olive, world.category, "oil").variants.get()
    put(wig, world.cn_origin, 10)
    put(oil, world.it_origin, 10)
    return [Line(wig.pk, 2), Line(oil.pk, 1)]


def test_two_parcels_add_up_by_hand(world, cart, us_rules, django_assert_max_num_queries):
    plan = allocate(cart, "US")
    ctx = PriceContext.for_currency("USD")
    shipping = quote_shipping(plan, currency="USD", table=ctx.table)
    assert [s.warehouse.code for s in plan.shipments] == ["cn-origin", "it-origin"]

    with django_assert_max_num_queries(1 + 4):  # the variants; the US rules once (then cached)
        result = landed_cost_for_plan(plan, shipping, ctx=ctx)

    assert (result.destination, result.currency) == ("US", "USD")
    guangzhou, milan = result.parcels
    assert (guangzhou.ship_from, guangzhou.shipping, guangzhou.incoterm) == ("CN", Money("11.00", "USD"), "DAP")
    assert [(line.customs_value, line.quantity, line.hs_code, line.origin_country) for line in guangzhou.lines] == [
        (Money("13.75", "USD"), 2, "670420", "CN")
    ]
    assert (milan.ship_from, milan.shipping) == ("IT", Money("16.50", "USD"))
    assert [(line.customs_value, line.quantity, line.origin_country) for line in milan.lines] == [
        (Money("110.00", "USD"), 1, "IT")
    ]

    figures = [(c.goods, c.shipping, c.duties, c.taxes, c.fees, c.total) for c in result.costs]
    usd = [
        [Money(v, "USD") for v in row]
        for row in (
            ("27.50", "11.00", "2.75", "0", "5", "46.25"),
            ("110.00", "16.50", "11.00", "0", "5", "142.50"),
        )
    ]
    assert [list(row) for row in figures] == usd
    for cost in result.costs:
        assert cost.currency == "USD" and cost.incoterm == "DAP"
        assert cost.total == cost.goods + cost.shipping + cost.duties + cost.taxes + cost.fees
    assert result.total == Money("188.75", "USD")
    # DAP: goods and shipping at checkout, duty and fees at the door
    assert result.due_at_checkout == Money("165.00", "USD")
    assert result.due_at_door == Money("23.75", "USD")


def test_a_shipment_without_a_shipping_rate_cannot_be_priced(world, fx):
    anvil = make_product(world.olive, world.category, "anvil", weight=31_000).variants.get()
    put(anvil, world.it_origin, 5)
    plan = allocate([Line(anvil.pk, 1)], "FR")  # Milan's rates to the EU stop below 30 kg
    assert plan.complete and not plan.shippable
    ctx = PriceContext.for_currency("EUR")
    with pytest.raises(NoShippingOption) as caught:
        landed_cost_for_plan(plan, quote_shipping(plan, currency="EUR"), ctx=ctx)
    assert caught.value.code == "no_shipping_option"


def test_the_quote_and_the_prices_must_share_the_currency(world, cart, us_rules):
    plan = allocate(cart, "US")
    with pytest.raises(ValueError, match="EUR"):
        landed_cost_for_plan(plan, quote_shipping(plan, currency="EUR"), ctx=PriceContext.for_currency("USD"))


def test_an_explicit_price_in_the_buyers_currency_is_the_customs_value(world, cart, us_rules):
    oil = Variant.objects.get(sku="oil-0")
    VariantPrice.objects.create(variant=oil, price=Money("99.00", "USD"))
    VariantPrice.objects.create(variant=oil, price=Money("80.00", "GBP"))  # not the buyer's: ignored
    plan = allocate(cart, "US")
    ctx = PriceContext.for_currency("USD")
    result = landed_cost_for_plan(plan, quote_shipping(plan, currency="USD"), ctx=ctx)
    assert result.parcels[1].lines[0].customs_value == Money("99.00", "USD")
    # Milan: goods 99.00 + shipping 16.50 + duty 9.90 + fee 5
    assert result.costs[1].total == Money("130.40", "USD")
    assert result.costs[0].total == Money("46.25", "USD")  # the wig converts as before
