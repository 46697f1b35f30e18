"""Allocation by example: local stock first, then the zone, then origin; whole lines, fewest
shipments, splits only when needed; methods by weight bracket; quotes in the buyer's currency."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from djmoney.money import Money

from logistics.allocation import Line, Preference, Tier, allocate, quote_shipping
from logistics.models import ShippingRate, Warehouse

from .world import make_product, put


def v(world, seller="silk", slug="wig", weight=300):
    seller = getattr(world, seller)
    return make_product(seller, world.category, slug, weight=weight).variants.get()


def shipped(allocation):
    """{warehouse code: [(sku-less variant id, units), ...]} for readable assertions."""
    return {s.warehouse.code: [(i.variant_id, i.quantity) for i in s.items] for s in allocation.shipments}


def test_local_stock_is_preferred_and_explains_itself(world):
    wig = v(world)
    put(wig, world.cn_origin, 50)
    put(wig, world.de_fra, 10)
    plan = allocate([Line(wig.pk, 2)], "DE")
    assert shipped(plan) == {"de-fra": [(wig.pk, 2)]}
    shipment = plan.shipments[0]
    assert shipment.tier == Tier.LOCAL
    assert shipment.cheapest.price == Money("4.90", "EUR")
    assert (shipment.cheapest.days_min, shipment.cheapest.days_max) == (1, 3)  # handling 0 + transit 1-3
    assert shipment.explanation == "Ships from Frankfurt warehouse, 1–3 days"
    assert plan.complete and plan.shippable


def test_same_zone_comes_before_origin(world):
    wig = v(world)
    put(wig, world.cn_origin, 50)
    put(wig, world.de_fra, 10)
    plan = allocate([Line(wig.pk, 1)], "FR")  # no warehouse in France; Frankfurt shares the EU zone
    assert shipped(plan) == {"de-fra": [(wig.pk, 1)]}
    assert plan.shipments[0].tier == Tier.REGIONAL
    assert plan.shipments[0].explanation == "Ships from Frankfurt warehouse, 2–5 days"


def test_origin_ships_internationally_with_cheapest_and_fastest_methods(world):
    wig = v(world)
    put(wig, world.cn_origin, 50)
    shipment = allocate([Line(wig.pk, 1)], "DE").shipments[0]
    assert (shipment.warehouse.code, shipment.tier) == ("cn-origin", Tier.INTERNATIONAL)
    cheapest, fastest = shipment.cheapest, shipment.fastest
    assert (cheapest.method.code, cheapest.incoterm, cheapest.days_min, cheapest.days_max) == ("economy", "DAP", 12, 22)
    assert (fastest.method.code, fastest.incoterm, fastest.days_min, fastest.days_max) == ("express", "DDP", 4, 6)
    assert shipment.explanation == "Ships from Guangzhou warehouse, 12–22 days"


def test_a_line_ships_whole_when_one_warehouse_can_and_splits_only_when_none_can(world):
    wig = v(world)
    put(wig, world.de_fra, 5)
    put(wig, world.cn_origin, 5)
    # 4 units: Frankfurt alone has them
    assert shipped(allocate([Line(wig.pk, 4)], "DE")) == {"de-fra": [(wig.pk, 4)]}
    # 8 units: no warehouse has 8, so local first, the rest from origin
    plan = allocate([Line(wig.pk, 8)], "DE")
    assert shipped(plan) == {"de-fra": [(wig.pk, 5)], "cn-origin": [(wig.pk, 3)]}
    assert plan.complete
    # 6 units from Frankfurt's 5 and origin's 5 would split; origin with 10 takes the line whole
    put(wig, world.cn_origin, 10)
    assert shipped(allocate([Line(wig.pk, 6)], "DE")) == {"cn-origin": [(wig.pk, 6)]}


def test_fewest_shipments_among_equally_good_warehouses(world):
    # given a second EU warehouse that holds everything, while Frankfurt (first by code) holds two lines
    ams = Warehouse.objects.create(code="nl-ams", name="Amsterdam", kind="overseas", country="NL", city="Amsterdam")
    ams.sellers.add(world.silk)
    ShippingRate.objects.create(
        method=world.regional, warehouse=ams, zone=world.zones["eu"], max_weight_grams=30_000, price=Money("8", "EUR")
    )
    a, b, c = v(world, slug="a"), v(world, slug="b"), v(world, slug="c")
    for variant in (a, c):
        put(variant, world.de_fra, 5)
    for variant in (a, b, c):
        put(variant, ams, 5)
    # when a French buyer orders all three
    plan = allocate([Line(a.pk, 1), Line(b.pk, 1), Line(c.pk, 1)], "FR")
    # then one parcel from Amsterdam, not Frankfurt + Amsterdam
    assert shipped(plan) == {"nl-ams": [(a.pk, 1), (b.pk, 1), (c.pk, 1)]}


def test_sellers_share_an_overseas_warehouse_in_one_shipment(world):
    wig, oil = v(world, "silk", "wig"), v(world, "olive", "oil")
    put(wig, world.de_fra, 3)
    put(oil, world.de_fra, 3)
    put(oil, world.it_origin, 30)
    plan = allocate([Line(wig.pk, 1), Line(oil.pk, 2)], "DE")
    assert shipped(plan) == {"de-fra": [(wig.pk, 1), (oil.pk, 2)]}


def test_only_active_warehouses_the_seller_may_use(world):
    oil = v(world, "olive", "oil")
    put(oil, world.us_lax, 30)  # Los Angeles is not open to Olive Grove
    put(oil, world.it_origin, 2)
    plan = allocate([Line(oil.pk, 5)], "US")
    assert shipped(plan) == {"it-origin": [(oil.pk, 2)]}
    assert [(s.variant_id, s.quantity) for s in plan.shortfalls] == [(oil.pk, 3)]
    assert not plan.complete
    Warehouse.objects.filter(pk=world.it_origin.pk).update(active=False)
    plan = allocate([Line(oil.pk, 1)], "US")
    assert plan.shipments == () and plan.shortfalls[0].quantity == 1


def test_a_warehouse_that_does_not_ship_to_the_destination_is_not_used(world):
    wig = v(world)
    put(wig, world.us_lax, 10)  # Los Angeles ships to North America only
    put(wig, world.cn_origin, 10)
    assert shipped(allocate([Line(wig.pk, 1)], "DE")) == {"cn-origin": [(wig.pk, 1)]}


def test_allocated_units_are_not_available(world):
    wig = v(world)
    put(wig, world.de_fra, 5, allocated=4)
    put(wig, world.cn_origin, 5)
    assert shipped(allocate([Line(wig.pk, 2)], "DE")) == {"cn-origin": [(wig.pk, 2)]}


def test_rate_follows_the_weight_bracket_of_the_whole_shipment(world):
    wig = v(world, weight=300)
    put(wig, world.de_fra, 20)
    assert allocate([Line(wig.pk, 6)], "DE").shipments[0].cheapest.price == Money("4.90", "EUR")  # 1800 g
    heavy = allocate([Line(wig.pk, 7)], "DE").shipments[0]  # 2100 g
    prices = {o.method.code: o.price for o in heavy.options}
    assert heavy.weight_grams == 2100
    assert prices == {
        "domestic": Money("9.90", "EUR"),
        "regional": Money("8.90", "EUR"),
    }  # Germany is in the EU zone too
    assert heavy.cheapest.method.code == "regional"


def test_no_rate_for_the_weight_is_reported_not_guessed(world):
    anvil = v(world, slug="anvil", weight=40_000)
    put(anvil, world.de_fra, 2)
    plan = allocate([Line(anvil.pk, 1)], "DE")
    assert plan.complete and not plan.shippable
    assert plan.shipments[0].options == ()
    assert "no shipping rate" in plan.shipments[0].explanation


@pytest.mark.parametrize(("currency", "first", "second", "total"), [
    ("USD", "5.39", "11.00", "16.39"),  # 4.90 EUR x 1.10; 80 CNY / 8 x 1.10
    ("JPY", "784", "1600", "2384"),
    ("EUR", "4.90", "10.00", "14.90"),
])  # fmt: skip
def test_shipping_quote_is_converted_to_the_buyer_currency(world, fx, currency, first, second, total):
    wig, hat = v(world, slug="wig"), v(world, slug="hat")
    put(wig, world.de_fra, 5)
    put(hat, world.cn_origin, 5)
    quote = quote_shipping(allocate([Line(wig.pk, 1), Line(hat.pk, 1)], "DE"), currency=currency)
    assert [q.price for q in quote.shipments] == [Money(first, currency), Money(second, currency)]
    assert quote.total == Money(total, currency) and quote.complete
    assert quote.shipments[1].conversion.rate > 0  # the rate used is kept for the order


def test_quote_can_prefer_the_fastest_method_and_applies_the_market_margin(world, fx):
    hat = v(world, slug="hat")
    put(hat, world.cn_origin, 5)
    plan = allocate([Line(hat.pk, 1)], "DE")
    fast = quote_shipping(plan, currency="EUR", prefer=Preference.FASTEST)
    assert fast.shipments[0].option.method.code == "express" and fast.total == Money("30.00", "EUR")
    with_margin = quote_shipping(plan, currency="EUR", margin_percent=Decimal(2))
    assert with_margin.total == Money("10.20", "EUR")


def test_allocation_reads_a_constant_number_of_queries(world):
    def cart(n):
        lines = []
        for i in range(n):
            variant = v(world, "silk" if i % 2 else "olive", f"p{n}-{i}")
            put(variant, world.de_fra, 3)
            put(variant, world.cn_origin if i % 2 else world.it_origin, 10)
            lines.append(Line(variant.pk, 1 + i % 4))
        return lines

    small, large = cart(2), cart(20)
    allocate(small, "DE")  # warm the cached FX table (rates in EUR and CNY are ranked in EUR)
    with CaptureQueriesContext(connection) as two:
        allocate(small, "DE")
    with CaptureQueriesContext(connection) as twenty:
        plan = allocate(large, "DE")
    assert len(two.captured_queries) == len(twenty.captured_queries) <= 3
    assert plan.complete


def test_same_input_same_plan(world):
    lines = []
    for i in range(6):
        variant = v(world, slug=f"p{i}")
        put(variant, world.de_fra, 2)
        put(variant, world.cn_origin, 3)
        lines.append(Line(variant.pk, 4))
    assert allocate(lines, "DE") == allocate(lines, "DE")
    assert allocate(lines, "de") == allocate(lines, "DE")


def test_duplicate_lines_are_merged_and_bad_quantities_refused(world):
    wig = v(world)
    put(wig, world.de_fra, 5)
    assert shipped(allocate([Line(wig.pk, 2), Line(wig.pk, 3)], "DE")) == {"de-fra": [(wig.pk, 5)]}
    with pytest.raises(ValueError):
        allocate([Line(wig.pk, 0)], "DE")
