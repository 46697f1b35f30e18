"""Demo data for logistics: warehouses, stock, shipping zones, methods and rates. Idempotent.

Runs after ``catalog.demo`` (``seed_demo`` follows INSTALLED_APPS), so every demo seller gets an
origin warehouse in its home country, and four overseas warehouses shared by all sellers serve
the buyer regions: Los Angeles, Frankfurt, Dubai (bonded) and Tokyo. Stock is spread over them
by a hash of the SKU, so the spread is the same on every run and every machine: some variants
sit only at origin, some also overseas, a few run low, a few are sold out.
"""

from __future__ import annotations

import zlib
from decimal import ROUND_HALF_UP, Decimal
from typing import IO

from django.db.models import Prefetch
from django_countries import countries
from djmoney.money import Money

from catalog.models import Product, Seller, Variant
from marketplace.money import currency_digits

from .models import ShippingMethod, ShippingRate, ShippingZone, Stock, StockAdjustment, Warehouse
from .stock import set_stock

NOTE = "demo data"
ORIGIN_CITIES = {
    "CN": "Guangzhou", "JP": "Osaka", "VN": "Ho Chi Minh City", "IT": "Milan", "FR": "Lyon", "DE": "Hamburg",
    "ES": "Valencia", "PT": "Porto", "MX": "Guadalajara", "BR": "São Paulo", "US": "Portland", "IN": "Jaipur",
    "KR": "Seoul", "TR": "Istanbul", "MA": "Marrakesh", "PE": "Cusco", "GB": "Manchester", "AE": "Sharjah",
}  # fmt: skip
# code, name, kind, country, city, address, operator, handling days, currency of its rates
OVERSEAS = [
    ("us-lax", "Los Angeles fulfilment centre", Warehouse.Kind.OVERSEAS, "US", "Los Angeles",
     "2400 E Pacific Coast Hwy, Long Beach, CA 90806", "Pacific 3PL Inc.", 1, "USD"),
    ("de-fra", "Frankfurt fulfilment centre", Warehouse.Kind.OVERSEAS, "DE", "Frankfurt",
     "Cargo City Süd, Gebäude 501, 60549 Frankfurt am Main", "Marketplace fulfilment", 0, "EUR"),
    ("ae-dxb", "Dubai bonded warehouse", Warehouse.Kind.BONDED, "AE", "Dubai",
     "Jebel Ali Free Zone, South Zone 2, Dubai", "Gulf Bonded Logistics FZE", 1, "AED"),
    ("jp-tyo", "Tokyo fulfilment centre", Warehouse.Kind.OVERSEAS, "JP", "Tokyo",
     "3-3 Heiwajima, Ota-ku, Tokyo 143-0006", "Marketplace fulfilment", 1, "JPY"),
]  # fmt: skip
# fmt: off
EU = ["AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
      "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"]
# fmt: on
REGIONS = [
    ("eu", "European Union", EU),
    (
        "europe-other",
        "Rest of Europe",
        ["GB", "CH", "NO", "IS", "LI", "RU", "UA", "RS", "TR", "AL", "BA", "ME", "MK", "MD", "BY"],
    ),
    ("north-america", "North America", ["US", "CA", "MX"]),
    (
        "latin-america",
        "Latin America",
        ["BR", "AR", "CL", "CO", "PE", "UY", "PY", "BO", "EC", "VE", "CR", "PA", "GT", "DO"],
    ),
    ("middle-east", "Middle East", ["AE", "SA", "KW", "BH", "QA", "OM", "JO", "IL", "EG", "LB"]),
    (
        "asia-pacific",
        "Asia-Pacific",
        ["CN", "JP", "KR", "VN", "SG", "MY", "TH", "ID", "PH", "AU", "NZ", "HK", "TW", "IN"],
    ),
]
# code, name, service level, Incoterm, transit days min-max, first-bracket price in EUR
METHODS = [
    ("domestic-standard", "Domestic standard", "standard", "DDP", 1, 3, "4.90"),
    ("domestic-express", "Domestic next day", "express", "DDP", 1, 1, "9.90"),
    ("regional-standard", "Regional road freight", "standard", "DDP", 2, 5, "8.90"),
    ("intl-economy", "International economy (duties on delivery)", "economy", "DAP", 10, 20, "9.90"),
    ("intl-standard", "International standard", "standard", "DDP", 6, 10, "16.90"),
    ("intl-express", "International express", "express", "DDP", 2, 4, "29.90"),
]
BRACKETS = [(0, 500, "1"), (500, 2000, "1.6"), (2000, 10_000, "2.8"), (10_000, 30_000, "5")]
# Rough units per EUR, only to price demo rates in each warehouse's currency.
DEMO_FX = {
    "EUR": "1", "USD": "1.1", "JPY": "160", "CNY": "8", "AED": "4", "GBP": "0.85", "VND": "29000",
    "MXN": "20", "BRL": "6", "INR": "95", "KRW": "1500", "TRY": "38", "SAR": "4.1", "AUD": "1.7",
}  # fmt: skip


def seed(stdout: IO[str]) -> None:
    warehouses = _warehouses()
    zones = _zones(warehouses)
    methods = _methods()
    rates = _rates(warehouses, zones, methods)
    stock = _stock(warehouses)
    stdout.write(
        f"warehouses: {len(warehouses)}, shipping zones: {len(zones)}, methods: {len(methods)}, "
        f"rates: {rates}, stock rows: {stock}"
    )
    # Customs rules, duty tables and one shipment per status need the warehouses above.
    from . import demo_shipments

    demo_shipments.seed(stdout)


def _warehouses() -> dict[str, tuple[Warehouse, str]]:
    """code -> (warehouse, currency of its rates)."""
    result: dict[str, tuple[Warehouse, str]] = {}
    sellers = list(Seller.objects.order_by("slug"))
    for seller in sellers:
        country = str(seller.country)
        warehouse, _ = Warehouse.objects.update_or_create(
            code=f"{seller.slug}-origin"[:40],
            defaults={
                "name": f"{seller.name} warehouse"[:120],
                "kind": Warehouse.Kind.ORIGIN,
                "country": country,
                "city": ORIGIN_CITIES.get(country, seller.country.name),
                "operator": seller.name,
                "handling_days": 2,
                "active": True,
            },
        )
        warehouse.sellers.set([seller])
        currency = seller.base_currency if seller.base_currency in DEMO_FX else "EUR"
        result[warehouse.code] = (warehouse, currency)
    for code, name, kind, country, city, address, operator, handling, currency in OVERSEAS:
        warehouse, _ = Warehouse.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": kind,
                "country": country,
                "city": city,
                "address": address,
                "operator": operator,
                "handling_days": handling,
                "active": True,
            },
        )
        warehouse.sellers.set(sellers)
        result[code] = (warehouse, currency)
    return result


def _zones(warehouses: dict[str, tuple[Warehouse, str]]) -> dict[str, ShippingZone]:
    zones = {}
    listed: set[str] = set()
    for code, name, members in REGIONS:
        zones[code] = _zone(code, name, members)
        listed |= set(members)
    rest = [code for code in countries if code not in listed]
    zones["world"] = _zone("world", "Rest of the world", rest)
    for warehouse, _currency in warehouses.values():
        country = str(warehouse.country)
        code = f"domestic-{country.lower()}"
        zones[code] = _zone(code, f"Domestic: {warehouse.country.name}", [country])
    return zones


def _zone(code: str, name: str, members: list[str]) -> ShippingZone:
    zone, _ = ShippingZone.objects.update_or_create(code=code, defaults={"name": name, "countries": sorted(members)})
    return zone


def _methods() -> dict[str, ShippingMethod]:
    methods = {}
    for code, name, level, incoterm, low, high, _price in METHODS:
        methods[code], _ = ShippingMethod.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "carrier": "simulated",
                "service_level": level,
                "incoterm": incoterm,
                "transit_days_min": low,
                "transit_days_max": high,
                "active": True,
            },
        )
    return methods


def _routes(warehouse: Warehouse, zones: dict[str, ShippingZone]) -> list[tuple[str, list[str]]]:
    """(zone code, method codes) a warehouse ships to."""
    domestic = f"domestic-{str(warehouse.country).lower()}"
    routes = [(domestic, ["domestic-standard", "domestic-express"])]
    if warehouse.kind == Warehouse.Kind.ORIGIN:
        routes += [(code, ["intl-economy", "intl-standard", "intl-express"]) for code, _n, _m in REGIONS]
        routes.append(("world", ["intl-economy", "intl-standard", "intl-express"]))
        return routes
    regional = {
        "us-lax": [("north-america", ["regional-standard", "intl-express"]), ("latin-america", ["intl-standard"])],
        "de-fra": [("eu", ["regional-standard", "intl-express"]), ("europe-other", ["intl-standard", "intl-express"])],
        "ae-dxb": [("middle-east", ["regional-standard", "intl-express"])],
        "jp-tyo": [("asia-pacific", ["regional-standard", "intl-express"])],
    }
    return routes + regional.get(warehouse.code, [])


def _rates(
    warehouses: dict[str, tuple[Warehouse, str]],
    zones: dict[str, ShippingZone],
    methods: dict[str, ShippingMethod],
) -> int:
    """Creates the missing rates and corrects changed prices, in a handful of queries."""
    base = {code: Decimal(price) for code, *_rest, price in METHODS}
    existing = {
        (r.method_id, r.warehouse_id, r.zone_id, r.min_weight_grams): r
        for r in ShippingRate.objects.filter(warehouse__in=[w for w, _c in warehouses.values()])
    }
    create, update, total = [], [], 0
    for warehouse, currency in warehouses.values():
        for zone_code, method_codes in _routes(warehouse, zones):
            zone = zones[zone_code]
            for method_code in method_codes:
                method = methods[method_code]
                for low, high, factor in BRACKETS:
                    price = _price(base[method_code] * Decimal(factor), currency)
                    total += 1
                    rate = existing.get((method.pk, warehouse.pk, zone.pk, low))
                    if rate is None:
                        create.append(
                            ShippingRate(
                                method=method,
                                warehouse=warehouse,
                                zone=zone,
                                min_weight_grams=low,
                                max_weight_grams=high,
                                price=price,
                            )
                        )
                    elif rate.price != price or rate.max_weight_grams != high:
                        rate.price, rate.max_weight_grams = price, high
                        update.append(rate)
    ShippingRate.objects.bulk_create(create)
    ShippingRate.objects.bulk_update(update, ["price", "price_currency", "max_weight_grams"])
    return total


def _price(eur: Decimal, currency: str) -> Money:
    amount = eur * Decimal(DEMO_FX[currency])
    digits = currency_digits(currency)
    if amount >= 1000:  # JPY, VND, KRW: a round figure
        amount = amount.quantize(Decimal(10), rounding=ROUND_HALF_UP)
    return Money(amount.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP), currency)


def _stock(warehouses: dict[str, tuple[Warehouse, str]]) -> int:
    """Target units per (variant, warehouse) from a hash of the SKU. New rows are created with an
    adjustment log entry in bulk; existing ones are corrected through ``set_stock`` (never below
    what orders have allocated), so a second run changes nothing."""
    products = (
        Product.objects.filter(status=Product.Status.ACTIVE)
        .select_related("seller")
        .prefetch_related(
            Prefetch("variants", queryset=Variant.objects.filter(active=True).order_by("sku"), to_attr="demo_variants")
        )
    )
    by_code = {code: w for code, (w, _c) in warehouses.items()}
    targets: dict[tuple[int, int], int] = {}
    for product in products:
        origin = by_code.get(f"{product.seller.slug}-origin"[:40])
        for variant in product.demo_variants:
            for warehouse, units in _spread(variant.sku, origin, by_code):
                if units > 0:
                    targets[(variant.pk, warehouse.pk)] = units
    existing = {(s.variant_id, s.warehouse_id): s for s in Stock.objects.filter(warehouse__in=list(by_code.values()))}
    new = [
        Stock(variant_id=v, warehouse_id=w, on_hand=units)
        for (v, w), units in targets.items()
        if (v, w) not in existing
    ]
    Stock.objects.bulk_create(new)
    created = {(s.variant_id, s.warehouse_id): s for s in Stock.objects.filter(warehouse__in=list(by_code.values()))}
    StockAdjustment.objects.bulk_create(
        StockAdjustment(
            stock=created[(s.variant_id, s.warehouse_id)],
            quantity=s.on_hand,
            on_hand_after=s.on_hand,
            reason=StockAdjustment.Reason.RECEIVED,
            note=NOTE,
        )
        for s in new
    )
    for key, stock in existing.items():
        target = max(targets.get(key, 0), stock.allocated)
        if stock.on_hand != target:
            set_stock(stock, on_hand=target, reason=StockAdjustment.Reason.CORRECTION, note=NOTE)
    return len(created)


def _spread(sku: str, origin: Warehouse | None, overseas: dict[str, Warehouse]) -> list[tuple[Warehouse, int]]:
    h = zlib.crc32(sku.encode())
    if h % 17 == 0:
        return []  # sold out everywhere
    spread = []
    if origin is not None:
        spread.append((origin, 0 if h % 13 == 0 else 10 + h % 60))
    for code, modulus, remainder in (("de-fra", 3, 0), ("us-lax", 4, 1), ("jp-tyo", 5, 2), ("ae-dxb", 6, 3)):
        if code in overseas and h % modulus == remainder:
            spread.append((overseas[code], 2 + h % 3 if h % 7 == 0 else 6 + h % 25))
    return spread
