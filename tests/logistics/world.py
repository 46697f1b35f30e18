"""A small logistics world for the tests (``build_world``, used by the ``world`` fixture and the
browser journey): two sellers, four warehouses, zones, methods and rates.

    seller "silk" (CN, CNY) may use: cn-origin (Guangzhou), de-fra (Frankfurt), us-lax (Los Angeles)
    seller "olive" (IT, EUR) may use: it-origin (Milan), de-fra

Rates (weight brackets [min, max) in grams):
    de-fra -> domestic-de  domestic (1-3 d)   EUR 4.90 below 2 kg, EUR 9.90 from 2 to 30 kg
    de-fra -> eu           regional (2-5 d)   EUR 8.90 below 30 kg
    us-lax -> domestic-us  domestic (1-3 d)   USD 5.00 below 30 kg
    us-lax -> north-am     regional (2-5 d)   USD 9.00 below 30 kg
    cn-origin -> eu, north-am, asia: economy (10-20 d, DAP) CNY 80, express (2-4 d) CNY 240, below 30 kg
    it-origin -> eu        regional (2-5 d)   EUR 7.00;  -> north-am economy EUR 15.00
Handling days: de-fra 0, us-lax 1, cn-origin 2, it-origin 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone
from djmoney.money import Money

from catalog.models import Category, Product, Seller, Variant
from logistics.models import ShippingMethod, ShippingRate, ShippingZone, Stock, Warehouse

# Units per 1 EUR, easy to compute by hand.
FX = {"USD": "1.10", "JPY": "160", "CNY": "8", "GBP": "0.85"}


@dataclass
class World:
    silk: Seller
    olive: Seller
    category: Category
    cn_origin: Warehouse
    it_origin: Warehouse
    de_fra: Warehouse
    us_lax: Warehouse
    domestic: ShippingMethod
    regional: ShippingMethod
    economy: ShippingMethod
    express: ShippingMethod
    zones: dict[str, ShippingZone]


def make_product(seller: Seller, category: Category, slug: str, *, variants: int = 1, weight: int = 300) -> Product:
    product = Product.objects.create(
        seller=seller,
        category=category,
        slug=slug,
        status=Product.Status.ACTIVE,
        hs_code="670420",
        origin_country=seller.country,
        published_at=timezone.now(),
        name_en=f"Product {slug}",
    )
    for i in range(variants):
        Variant.objects.create(
            product=product,
            sku=f"{slug}-{i}",
            options={"size": str(i)},
            price=Money("100", seller.base_currency),
            weight_grams=weight,
            position=i,
        )
    return product


def put(variant: Variant, warehouse: Warehouse, on_hand: int, allocated: int = 0) -> Stock:
    stock, _ = Stock.objects.update_or_create(
        variant=variant, warehouse=warehouse, defaults={"on_hand": on_hand, "allocated": allocated}
    )
    return stock


def _warehouse(code: str, country: str, city: str, kind: str, handling: int, *sellers: Seller) -> Warehouse:
    warehouse = Warehouse.objects.create(
        code=code, name=f"{city} warehouse", kind=kind, country=country, city=city, handling_days=handling
    )
    warehouse.sellers.set(sellers)
    return warehouse


def _method(code: str, level: str, incoterm: str, low: int, high: int) -> ShippingMethod:
    return ShippingMethod.objects.create(
        code=code,
        name=code.title(),
        carrier="simulated",
        service_level=level,
        incoterm=incoterm,
        transit_days_min=low,
        transit_days_max=high,
    )


def _rate(
    method: ShippingMethod, warehouse: Warehouse, zone: ShippingZone, price: Money, low: int = 0, high: int = 30_000
) -> None:
    ShippingRate.objects.create(
        method=method, warehouse=warehouse, zone=zone, min_weight_grams=low, max_weight_grams=high, price=price
    )


def build_world() -> World:
    silk = Seller.objects.create(slug="silk", name="Silk Hair Co", country="CN", base_currency="CNY")
    olive = Seller.objects.create(slug="olive", name="Olive Grove", country="IT", base_currency="EUR")
    category = Category.objects.create(slug="things", name_en="Things")
    cn_origin = _warehouse("cn-origin", "CN", "Guangzhou", Warehouse.Kind.ORIGIN, 2, silk)
    it_origin = _warehouse("it-origin", "IT", "Milan", Warehouse.Kind.ORIGIN, 1, olive)
    de_fra = _warehouse("de-fra", "DE", "Frankfurt", Warehouse.Kind.OVERSEAS, 0, silk, olive)
    us_lax = _warehouse("us-lax", "US", "Los Angeles", Warehouse.Kind.OVERSEAS, 1, silk)
    zones = {
        code: ShippingZone.objects.create(code=code, name=code, countries=countries)
        for code, countries in [
            ("domestic-de", ["DE"]),
            ("domestic-us", ["US"]),
            ("eu", ["DE", "FR", "IT", "ES", "NL"]),
            ("north-am", ["US", "CA", "MX"]),
            ("asia", ["CN", "JP", "KR"]),
        ]
    }
    domestic = _method("domestic", "standard", "DDP", 1, 3)
    regional = _method("regional", "standard", "DDP", 2, 5)
    economy = _method("economy", "economy", "DAP", 10, 20)
    express = _method("express", "express", "DDP", 2, 4)
    _rate(domestic, de_fra, zones["domestic-de"], Money("4.90", "EUR"), 0, 2000)
    _rate(domestic, de_fra, zones["domestic-de"], Money("9.90", "EUR"), 2000, 30_000)
    _rate(regional, de_fra, zones["eu"], Money("8.90", "EUR"))
    _rate(domestic, us_lax, zones["domestic-us"], Money("5.00", "USD"))
    _rate(regional, us_lax, zones["north-am"], Money("9.00", "USD"))
    for zone in ("eu", "north-am", "asia"):
        _rate(economy, cn_origin, zones[zone], Money("80", "CNY"))
        _rate(express, cn_origin, zones[zone], Money("240", "CNY"))
    _rate(regional, it_origin, zones["eu"], Money("7.00", "EUR"))
    _rate(economy, it_origin, zones["north-am"], Money("15.00", "EUR"))
    return World(
        silk, olive, category, cn_origin, it_origin, de_fra, us_lax, domestic, regional, economy, express, zones
    )
