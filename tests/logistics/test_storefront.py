"""Logistics on the storefront: delivery estimate and ships-from for the buyer's country, stock
status per variant, the local-stock badge, and the in-stock / local-stock listing filters, all
without a query per product."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from logistics.models import Warehouse

from .world import make_product, put

GERMANY = {"HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9"}


def tagged(html: str, testid: str) -> list[str]:
    """The opening tags carrying ``data-testid``: the default variant's block comes first."""
    return re.findall(rf'<[^>]*data-testid="{testid}"[^>]*>', html)


def text_of(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</p>', html, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip() if match else ""


def slugs(html: str) -> set[str]:
    return set(re.findall(r'data-testid="product-card" data-slug="([^"]+)"', html))


def test_german_buyer_sees_local_warehouse_and_a_short_estimate(client, world, fx):
    wig = make_product(world.silk, world.category, "wig").variants.get()
    put(wig, world.cn_origin, 40)
    put(wig, world.de_fra, 12)
    client.cookies["currency"] = "EUR"
    html = client.get("/en/products/wig/", **GERMANY).content.decode()
    assert text_of(html, "ships-from") == "Ships from Frankfurt, Germany"
    estimate = tagged(html, "delivery-estimate")[0]
    assert 'data-days-min="1"' in estimate and 'data-days-max="3"' in estimate and 'data-scope="local"' in estimate
    assert text_of(html, "delivery-estimate").startswith("Delivery in 1–3 days")
    assert 'data-testid="shipping-price" data-amount="4.90" data-currency="EUR"' in html
    assert 'data-status="in_stock"' in tagged(html, "stock-status")[0]


def test_origin_only_product_gets_an_international_estimate(client, world, fx):
    hat = make_product(world.silk, world.category, "hat").variants.get()
    put(hat, world.cn_origin, 40)
    client.cookies["currency"] = "JPY"
    html = client.get("/en/products/hat/", **GERMANY).content.decode()
    assert text_of(html, "ships-from") == "Ships from Guangzhou, China"
    estimate = tagged(html, "delivery-estimate")[0]
    assert 'data-scope="international"' in estimate and 'data-days-min="12"' in estimate
    assert "international shipping" in text_of(html, "delivery-estimate")
    # 80 CNY economy: 80 / 8 * 160 = 1600 JPY, duties collected at the door (DAP)
    assert 'data-testid="shipping-price" data-amount="1600" data-currency="JPY"' in html
    assert "import duties and taxes due on delivery" in html


def test_stock_status_per_variant(client, world, fx):
    product = make_product(world.silk, world.category, "wig", variants=3)
    v0, v1, v2 = product.variants.order_by("position")
    put(v0, world.de_fra, 10)
    put(v1, world.cn_origin, 5, allocated=2)  # 3 available
    put(v2, world.us_lax, 0)
    html = client.get("/en/products/wig/", **GERMANY).content.decode()
    statuses = [re.search(r'data-status="(\w+)"', tag).group(1) for tag in tagged(html, "stock-status")]
    # the visible block (first variant), then one template per variant for the variant select
    assert statuses == ["in_stock", "in_stock", "low_stock", "out_of_stock"]
    assert "Only 3 left" in html and "Out of stock" in html
    assert html.count('data-testid="ships-from"') == 3  # visible + two variants that ship


def test_unusable_stock_counts_as_out_of_stock(client, world):
    oil = make_product(world.olive, world.category, "oil").variants.get()
    put(oil, world.us_lax, 50)  # Olive Grove may not use Los Angeles
    html = client.get("/en/products/oil/", **GERMANY).content.decode()
    assert 'data-status="out_of_stock"' in html and 'data-testid="ships-from"' not in html


def test_without_a_known_country_there_is_stock_status_but_no_estimate(client, world):
    wig = make_product(world.silk, world.category, "wig").variants.get()
    put(wig, world.de_fra, 9)
    html = client.get("/en/products/wig/", HTTP_ACCEPT_LANGUAGE="").content.decode()
    assert 'data-status="in_stock"' in html and 'data-testid="ships-from"' not in html
    assert "Delivery times depend on your country." in html


def test_product_page_queries_do_not_grow_with_variants_or_warehouses(client, world, fx):
    one = make_product(world.silk, world.category, "one", variants=1)
    four = make_product(world.silk, world.category, "four", variants=4)
    for variant in [*one.variants.all(), *four.variants.all()]:
        put(variant, world.cn_origin, 10)
        put(variant, world.de_fra, 3)
    for variant in four.variants.all():
        put(variant, world.us_lax, 3)
    # Both with every cache empty (markets, rates, the catalog and shipping caches, the feedback
    # panel's): all the queries the page may run.
    cache.clear()
    with CaptureQueriesContext(connection) as small:
        client.get("/en/products/one/", **GERMANY)
    cache.clear()
    with CaptureQueriesContext(connection) as large:
        html = client.get("/en/products/four/", **GERMANY).content.decode()
    assert html.count('data-testid="delivery-estimate"') == 5
    assert len(small.captured_queries) == len(large.captured_queries)


@pytest.fixture
def assortment(world):
    """local: stocked in Frankfurt; origin: only at origin; sold: all units allocated;
    closed: only in an inactive warehouse; foreign: only where its seller may not stock."""
    variants = {slug: make_product(world.silk, world.category, slug).variants.get() for slug in ("local", "origin")}
    variants |= {slug: make_product(world.olive, world.category, slug).variants.get() for slug in ("sold", "foreign")}
    variants["closed"] = make_product(world.silk, world.category, "closed").variants.get()
    put(variants["local"], world.de_fra, 4)
    put(variants["origin"], world.cn_origin, 4)
    put(variants["sold"], world.de_fra, 4, allocated=4)
    put(variants["foreign"], world.us_lax, 4)
    closed = Warehouse.objects.create(
        code="old", name="Old", kind="overseas", country="DE", city="Berlin", active=False
    )
    closed.sellers.add(world.silk)
    put(variants["closed"], closed, 4)
    return variants


def test_in_stock_and_local_stock_filters(client, world, assortment):
    everything = slugs(client.get("/en/products/", **GERMANY).content.decode())
    assert everything == {"local", "origin", "sold", "foreign", "closed"}
    assert slugs(client.get("/en/products/?in_stock=1", **GERMANY).content.decode()) == {"local", "origin"}
    assert slugs(client.get("/en/products/?local_stock=1", **GERMANY).content.decode()) == {"local"}
    in_us = {"HTTP_ACCEPT_LANGUAGE": "en-US"}
    assert slugs(client.get("/en/products/?local_stock=1", **in_us).content.decode()) == set()
    assert slugs(client.get("/en/products/?local_stock=1", HTTP_ACCEPT_LANGUAGE="").content.decode()) == set()


def test_local_stock_badge_on_cards(client, world, assortment):
    html = client.get("/en/products/", **GERMANY).content.decode()
    cards = dict(re.findall(r'data-slug="([^"]+)"(.*?)</article>', html, re.S))
    assert [slug for slug, card in cards.items() if 'data-testid="local-stock"' in card] == ["local"]
    assert 'data-testid="local-stock"' not in client.get("/en/products/", HTTP_ACCEPT_LANGUAGE="en-US").content.decode()
    assert 'data-testid="local-stock"' in client.get("/en/sellers/silk/", **GERMANY).content.decode()


@pytest.mark.parametrize("query", ["", "&in_stock=1&local_stock=1", "&local_stock=1&sort=price_asc"])
def test_listing_with_stock_filters_runs_the_same_queries_for_12_or_48_products(client, world, fx, query, settings):
    settings.CATALOG_CACHE_SECONDS = 0  # every request reads the cards (warm, catalog.cache spares them)
    client.cookies["currency"] = "JPY"
    for i in range(48):
        variant = make_product(world.silk if i % 2 else world.olive, world.category, f"p{i}").variants.get()
        put(variant, world.de_fra, 1 + i % 5)
        if i % 3:
            put(variant, world.cn_origin if i % 2 else world.it_origin, 7)
    path = "/de/products/?per_page={n}" + query
    client.get(path.format(n=12), **GERMANY)  # warm the caches (markets, categories, rates)
    with CaptureQueriesContext(connection) as small:
        html12 = client.get(path.format(n=12), **GERMANY).content.decode()
    with CaptureQueriesContext(connection) as large:
        html48 = client.get(path.format(n=48), **GERMANY).content.decode()
    assert html12.count('data-testid="product-card"') == 12
    assert html48.count('data-testid="product-card"') == 48
    assert html48.count('data-testid="local-stock"') == 48
    assert len(small.captured_queries) == len(large.captured_queries) <= 8


def test_without_the_extension_the_storefront_shows_no_logistics(client, world, settings):
    settings.STOREFRONT_EXTENSION = ""
    wig = make_product(world.silk, world.category, "wig").variants.get()
    put(wig, world.de_fra, 4)
    make_product(world.silk, world.category, "none")
    html = client.get("/en/products/wig/", **GERMANY).content.decode()
    assert client.get("/en/products/wig/").status_code == 200
    assert 'data-testid="delivery-estimate"' not in html
    listing = client.get("/en/products/?local_stock=1", **GERMANY).content.decode()
    assert slugs(listing) == {"wig", "none"} and 'data-testid="local-stock"' not in listing
