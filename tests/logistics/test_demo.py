"""The logistics demo data: enough warehouses, stock spread over them, zones, methods and rates
that answer for every market; and running it twice changes nothing."""

from __future__ import annotations

import io

import pytest
from django.utils import timezone
from djmoney.money import Money

from catalog.models import Category, Product, Seller, Variant
from logistics import demo
from logistics.allocation import Line, allocate
from logistics.models import ShippingMethod, ShippingRate, ShippingZone, Stock, StockAdjustment, Warehouse

SELLERS = [("silk", "CN", "CNY"), ("kyoto", "JP", "JPY"), ("olive", "IT", "EUR"), ("oaxaca", "MX", "MXN")]


@pytest.fixture
def catalog(db):
    category = Category.objects.create(slug="things", name_en="Things")
    for slug, country, currency in SELLERS:
        seller = Seller.objects.create(slug=slug, name=slug.title(), country=country, base_currency=currency)
        for i in range(15):
            product = Product.objects.create(
                seller=seller,
                category=category,
                slug=f"{slug}-{i}",
                status=Product.Status.ACTIVE,
                hs_code="420222",
                origin_country=country,
                published_at=timezone.now(),
                name_en=f"{slug} {i}",
            )
            for j in range(2):
                Variant.objects.create(
                    product=product, sku=f"{slug}-{i}-{j}", price=Money("10", currency), weight_grams=400, position=j
                )


def snapshot() -> dict[str, object]:
    return {
        "warehouses": list(Warehouse.objects.values_list("code", "kind", "country", "city", "handling_days")),
        "sellers": sorted(Warehouse.sellers.through.objects.values_list("warehouse__code", "seller__slug")),
        "stock": sorted(Stock.objects.values_list("variant__sku", "warehouse__code", "on_hand", "allocated")),
        "log": StockAdjustment.objects.count(),
        "zones": list(ShippingZone.objects.values_list("code", "countries")),
        "methods": list(ShippingMethod.objects.values_list("code", "incoterm", "transit_days_min", "transit_days_max")),
        "rates": sorted(
            ShippingRate.objects.values_list(
                "warehouse__code", "zone__code", "method__code", "min_weight_grams", "price"
            )
        ),
    }


def test_demo_is_idempotent_and_complete(catalog):
    out = io.StringIO()
    demo.seed(out)
    first = snapshot()
    demo.seed(io.StringIO())
    assert snapshot() == first
    assert "warehouses: 8" in out.getvalue()

    # at least 5 warehouses: every seller's origin plus overseas ones in the buyer regions
    kinds = dict(Warehouse.objects.values_list("code", "kind"))
    assert {f"{slug}-origin" for slug, _c, _cur in SELLERS} <= {c for c, k in kinds.items() if k == "origin"}
    cities = dict(Warehouse.objects.exclude(kind="origin").values_list("country", "city"))
    assert cities["US"] == "Los Angeles" and cities["DE"] == "Frankfurt" and {"JP", "AE"} <= set(cities)
    assert (
        ShippingMethod.objects.filter(incoterm="DDP").exists()
        and ShippingMethod.objects.filter(incoterm="DAP").exists()
    )
    assert set(ShippingMethod.objects.values_list("service_level", flat=True)) == {"economy", "standard", "express"}

    # stock is spread: some variants overseas, some only at origin, some sold out
    per_variant: dict[str, set[str]] = {}
    for sku, code in Stock.objects.filter(on_hand__gt=0).values_list("variant__sku", "warehouse__code"):
        per_variant.setdefault(sku, set()).add(code)
    assert any("de-fra" in codes for codes in per_variant.values())
    assert any(codes == {f"{sku.split('-')[0]}-origin"} for sku, codes in per_variant.items())
    assert Variant.objects.exclude(sku__in=per_variant).exists()


MARKETS = ["US", "CA", "MX", "BR", "GB", "DE", "FR", "ES", "RU", "AE", "SA", "KW", "CN", "JP", "VN", "SG", "AU"]


def test_every_market_can_be_served_from_origin(catalog):
    demo.seed(io.StringIO())
    origin_only = Stock.objects.filter(warehouse__code="silk-origin", on_hand__gt=0).values_list(
        "variant_id", flat=True
    )
    unserved = [market for market in MARKETS if not allocate([Line(origin_only[0], 1)], market).shippable]
    assert unserved == []


def test_demo_explains_the_overseas_warehouses(catalog):
    demo.seed(io.StringIO())
    in_frankfurt = Stock.objects.filter(warehouse__code="de-fra", on_hand__gte=3).values_list("variant_id", flat=True)
    assert (
        allocate([Line(in_frankfurt[0], 1)], "DE").shipments[0].explanation
        == "Ships from Frankfurt warehouse, 1–3 days"
    )
    in_la = Stock.objects.filter(warehouse__code="us-lax", on_hand__gte=3).values_list("variant_id", flat=True)
    assert allocate([Line(in_la[0], 1)], "US").shipments[0].explanation == "Ships from Los Angeles warehouse, 2–4 days"
