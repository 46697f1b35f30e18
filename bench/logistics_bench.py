"""Allocation + shipping quote + landed cost for a 20-line cart from 4 sellers: median time per call.

    .venv/bin/python bench/logistics_bench.py                      # SQLite (in memory)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_logistics .venv/bin/python bench/logistics_bench.py

One call is what checkout and the cart page do: ``allocate(lines, "DE")`` (three queries),
``quote_shipping(plan, currency="JPY")`` (conversion through the cached FX table) and
``landed_cost_for_plan(plan, quote, ctx=...)`` (logistics/quote.py: one customs parcel per planned
shipment, buyer prices through ``catalog.pricing``, one query; customs rules cached). The data is
the logistics demo (every seller's origin warehouse, Los Angeles, Frankfurt, Dubai, Tokyo, zones,
methods, about 1,300 rates) over 4 sellers x 50 products, and the cart mixes local, regional and
origin stock with one split line. It runs in a throw-away test database (``test_<name>``), so
the database named by ``DATABASE_URL`` is never touched. Target: median under 20 ms.

Prints a table and appends it to ``bench/RESULTS.md`` (``--no-append`` to skip). ``main()``
returns the figures as a dict for ``bench/run.py``.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
RESULTS = BASE_DIR / "bench" / "RESULTS.md"
TARGET_MS = 20.0
SELLERS = [
    ("bench-silk", "CN", "CNY"),
    ("bench-kyoto", "JP", "JPY"),
    ("bench-olive", "IT", "EUR"),
    ("bench-oaxaca", "MX", "MXN"),
]
PRODUCTS_PER_SELLER = 50


def build_cart() -> list[Any]:
    from django.utils import timezone
    from djmoney.money import Money

    from catalog.models import Category, Product, Seller, Variant
    from logistics import demo
    from logistics.allocation import Line
    from logistics.models import Stock, Warehouse
    from marketplace import demo as market_demo
    from marketplace.fx.services import refresh_fx_rates

    market_demo.seed(io.StringIO())
    refresh_fx_rates()
    category = Category.objects.create(slug="bench", name_en="Bench")
    cart_variants = []
    for slug, country, currency in SELLERS:
        seller = Seller.objects.create(slug=slug, name=slug, country=country, base_currency=currency)
        variants = []
        for i in range(PRODUCTS_PER_SELLER):
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
            variants.append(
                Variant(
                    product=product, sku=f"{slug}-{i}", price=Money("20", currency), weight_grams=250 + 50 * (i % 7)
                )
            )
        Variant.objects.bulk_create(variants)
        cart_variants += list(Variant.objects.filter(product__seller=seller).order_by("sku")[:5])
    demo.seed(io.StringIO())  # warehouses, zones, methods, rates, and stock spread over the catalogue
    # The cart's own stock, fixed: everything at origin, some lines also in Frankfurt (local for a
    # German buyer), one line in Frankfurt short of units (a split), some in Tokyo (no rate to DE).
    frankfurt, tokyo = Warehouse.objects.get(code="de-fra"), Warehouse.objects.get(code="jp-tyo")
    lines = []
    for n, variant in enumerate(cart_variants):
        quantity = 1 + n % 3
        origin = Warehouse.objects.get(code=f"{variant.product.seller.slug}-origin")
        Stock.objects.update_or_create(variant=variant, warehouse=origin, defaults={"on_hand": 100, "allocated": 0})
        if n % 3 == 0:
            Stock.objects.update_or_create(
                variant=variant, warehouse=frankfurt, defaults={"on_hand": 10, "allocated": 0}
            )
        if n == 4:
            Stock.objects.update_or_create(
                variant=variant, warehouse=frankfurt, defaults={"on_hand": 1, "allocated": 0}
            )
            Stock.objects.update_or_create(variant=variant, warehouse=origin, defaults={"on_hand": 1, "allocated": 0})
        if n % 4 == 1:
            Stock.objects.update_or_create(variant=variant, warehouse=tokyo, defaults={"on_hand": 10, "allocated": 0})
        lines.append(Line(variant.pk, quantity))
    return lines


def measure(lines: list[Any], *, calls: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from catalog.pricing import PriceContext
    from logistics.allocation import allocate, quote_shipping
    from logistics.quote import landed_cost_for_plan

    def one() -> Any:
        ctx = PriceContext.for_currency("JPY")
        plan = allocate(lines, "DE")
        quote = quote_shipping(plan, currency="JPY", table=ctx.table)
        return plan, quote, landed_cost_for_plan(plan, quote, ctx=ctx)

    for _ in range(10):
        one()  # warm: FX table cached, connections and statements ready
    with CaptureQueriesContext(connection) as queries:
        plan, quote, landed = one()
    assert plan.complete and quote.complete, "the bench cart must be fully allocated and quoted"
    assert len(landed.costs) == len(plan.shipments)
    timings = []
    for _ in range(calls):
        start = time.perf_counter()
        one()
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    return {
        "lines": len(lines),
        "sellers": len(SELLERS),
        "shipments": len(plan.shipments),
        "split_lines": sum(1 for n in _units_per_variant(plan).values() if n > 1),
        "queries": len(queries.captured_queries),
        "calls": calls,
        "median_ms": statistics.median(timings),
        "p95_ms": timings[int(len(timings) * 0.95) - 1],
        "shipping_total": str(quote.total),
        "landed_total": str(landed.total),
        "duties": str(sum((c.duties for c in landed.costs), landed.total * 0)),
        "taxes": str(sum((c.taxes for c in landed.costs), landed.total * 0)),
    }


def _units_per_variant(plan: Any) -> dict[int, int]:
    sources: dict[int, int] = {}
    for shipment in plan.shipments:
        for item in shipment.items:
            sources[item.variant_id] = sources.get(item.variant_id, 0) + 1
    return sources


def main(*, calls: int = 300, append: bool = True) -> dict[str, Any]:
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    settings.FX_PROVIDERS = ["marketplace.fx.providers.BundledEcb", "marketplace.fx.providers.Manual"]  # offline
    setup_test_environment(debug=False)
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        lines = build_cart()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # what autovacuum does within a minute of the load
                cursor.execute("ANALYZE")
        result = measure(lines, calls=calls)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()
    result["database"] = connection.vendor
    result["ok"] = result["median_ms"] < TARGET_MS
    report = table(result)
    print(report)
    if append:
        with RESULTS.open("a", encoding="utf-8") as f:
            f.write(report + "\n")
    return result


def table(r: dict[str, Any]) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {r['database']}"
    verdict = "OK" if r["ok"] else "MISSED"
    return "\n".join(
        [
            f"\n## Logistics: allocation + shipping quote + landed cost ({when}; {machine})\n",
            "| cart | shipments | split lines | queries/call | calls | median | p95 | landed total | target |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            f"| {r['lines']} lines, {r['sellers']} sellers, to DE, quoted in JPY | {r['shipments']} "
            f"| {r['split_lines']} | {r['queries']} | {r['calls']} | {r['median_ms']:.2f} ms | {r['p95_ms']:.2f} ms "
            f"| {r['landed_total']} | < {TARGET_MS:.0f} ms: {verdict} |",
        ]
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--no-append", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args()
    outcome = main(calls=args.calls, append=not args.no_append)
    sys.exit(0 if outcome["ok"] else 1)
