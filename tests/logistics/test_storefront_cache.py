"""The storefront's caches and logistics: stock is read on every request (whatever wrote it), the
cached shipping configuration follows every change to warehouses, zones, methods and rates, and the
product page's allocation data is the one checkout's loader reads."""

from __future__ import annotations

import re

import pytest
from django.db.models import F
from djmoney.money import Money

from logistics.allocation import load_allocation_data
from logistics.models import ShippingRate, Stock
from logistics.storefront import product_allocation_data
from marketplace.fx.services import current_rates

from .world import make_product, put

GERMANY = {"HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9"}


@pytest.fixture(autouse=True)
def _catalog_cache_on(settings):
    settings.CATALOG_CACHE_SECONDS = 300


def warm(client, path: str) -> str:
    client.get(path, **GERMANY)
    return client.get(path, **GERMANY).content.decode()


def status_of(html: str) -> str:
    return re.search(r'data-testid="stock-status" data-status="(\w+)"', html).group(1)


def test_stock_running_out_shows_on_the_next_request(client, world, fx):
    # given a wig in stock in Frankfurt, its page and the listing warm
    wig = make_product(world.silk, world.category, "wig").variants.get()
    put(wig, world.de_fra, 2)
    assert status_of(warm(client, "/en/products/wig/")) == "low_stock"
    assert 'data-testid="local-stock"' in warm(client, "/en/products/")
    assert 'data-slug="wig"' in warm(client, "/en/products/?in_stock=1")
    # when checkout allocates the last units (a queryset update: no model signal)
    Stock.objects.filter(variant=wig).update(allocated=F("on_hand"))
    # then every page says so at once
    assert status_of(warm(client, "/en/products/wig/")) == "out_of_stock"
    assert 'data-testid="local-stock"' not in warm(client, "/en/products/")
    in_stock = warm(client, "/en/products/?in_stock=1")
    assert 'data-slug="wig"' not in in_stock and "0 products" in in_stock


def test_shipping_changes_show_on_the_next_request(client, world, fx):
    wig = make_product(world.silk, world.category, "wig").variants.get()
    put(wig, world.de_fra, 10)
    put(wig, world.cn_origin, 10)
    client.cookies["currency"] = "EUR"
    html = warm(client, "/en/products/wig/")
    assert "Ships from Frankfurt, Germany" in html
    assert 'data-testid="shipping-price" data-amount="4.90" data-currency="EUR"' in html
    # when the domestic rate goes up
    rate = ShippingRate.objects.get(warehouse=world.de_fra, zone=world.zones["domestic-de"], max_weight_grams=2000)
    rate.price = Money("5.90", "EUR")
    rate.save()
    html = warm(client, "/en/products/wig/")
    assert 'data-testid="shipping-price" data-amount="5.90" data-currency="EUR"' in html
    # when Silk Hair may no longer use Frankfurt, it ships from its origin
    world.de_fra.sellers.remove(world.silk)
    html = warm(client, "/en/products/wig/")
    assert "Ships from Guangzhou, China" in html
    # and when the origin warehouse closes too, nothing ships
    world.cn_origin.active = False
    world.cn_origin.save()
    html = warm(client, "/en/products/wig/")
    assert status_of(html) == "out_of_stock" and 'data-testid="ships-from"' not in html


@pytest.mark.parametrize("destination", ["DE", "US", "JP", "BR", ""])
def test_product_allocation_data_is_what_checkout_loads(world, fx, destination):
    # given a product whose variants lie in several warehouses, some unusable, some sold out
    product = make_product(world.silk, world.category, "wig", variants=4)
    v0, v1, v2, v3 = product.variants.order_by("position")
    put(v0, world.de_fra, 10)
    put(v0, world.cn_origin, 3, allocated=1)
    put(v1, world.us_lax, 4)
    put(v1, world.it_origin, 9)  # Silk Hair may not use Milan
    put(v2, world.cn_origin, 5, allocated=5)  # sold out
    variants = list(product.variants.filter(active=True).order_by("position", "pk"))
    table = current_rates()
    # when both loaders read it
    mine = product_allocation_data(product.seller_id, variants, destination, table=table)
    theirs = load_allocation_data([v.pk for v in variants], destination, table=table)
    # then they agree field by field
    assert mine == theirs
    assert v3.pk not in mine.variants and v2.pk not in mine.variants
