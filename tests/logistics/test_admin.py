"""Operators' admin: warehouses, stock through logged changes, zones, methods and rates. Bad input
(negative stock, an empty weight bracket, an unknown country) gets a clear error and saves nothing."""

from __future__ import annotations

import re

import pytest

from logistics.models import ShippingMethod, ShippingRate, ShippingZone, Stock, StockAdjustment, Warehouse
from marketplace.models import User

from .world import make_product, put


@pytest.fixture
def operator(db):
    return User.objects.create_superuser("operator@example.com", "x")


@pytest.fixture
def admin(client, operator):
    client.force_login(operator)
    return client


def form_errors(response) -> str:
    """Every error the admin form shows, as one string."""
    html = response.content.decode()
    return " ".join(
        re.sub(r"<[^>]+>", " ", e) for e in re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', html, re.S)
    )


def hidden_inputs(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


WAREHOUSE = {
    "code": "br-sao",
    "name": "São Paulo",
    "kind": "overseas",
    "active": "on",
    "country": "BR",
    "city": "São Paulo",
    "address": "",
    "operator": "",
    "handling_days": "1",
}


def test_every_logistics_admin_page_renders(admin, world):
    put(make_product(world.silk, world.category, "wig").variants.get(), world.de_fra, 3)
    for model in ("warehouse", "stock", "stockadjustment", "shippingzone", "shippingmethod", "shippingrate"):
        assert admin.get(f"/admin/logistics/{model}/").status_code == 200, model
        if model != "stockadjustment":
            assert admin.get(f"/admin/logistics/{model}/add/").status_code == 200, model
    assert admin.get(f"/admin/logistics/stock/{Stock.objects.get().pk}/change/").status_code == 200


def test_warehouse_with_an_unknown_country_is_refused(admin, world):
    response = admin.post("/admin/logistics/warehouse/add/", {**WAREHOUSE, "country": "XX"})
    assert response.status_code == 200
    assert "XX is not one of the available choices" in form_errors(response)
    assert not Warehouse.objects.filter(code="br-sao").exists()
    assert admin.post("/admin/logistics/warehouse/add/", WAREHOUSE).status_code == 302
    assert Warehouse.objects.get(code="br-sao").country == "BR"


def test_zone_with_an_unknown_country_is_refused(admin, world):
    response = admin.post(
        "/admin/logistics/shippingzone/add/", {"code": "latam", "name": "LatAm", "countries": ["BR", "XX"]}
    )
    assert response.status_code == 200 and "XX" in form_errors(response)
    assert not ShippingZone.objects.filter(code="latam").exists()


def test_rate_with_an_empty_weight_bracket_is_refused(admin, world):
    data = {
        "method": world.domestic.pk,
        "warehouse": world.de_fra.pk,
        "zone": world.zones["domestic-de"].pk,
        "min_weight_grams": "2000",
        "max_weight_grams": "2000",
        "price_0": "5.00",
        "price_1": "EUR",
    }
    before = ShippingRate.objects.count()
    response = admin.post("/admin/logistics/shippingrate/add/", data)
    assert response.status_code == 200
    assert "The weight bracket is empty" in form_errors(response)
    negative = admin.post("/admin/logistics/shippingrate/add/", {**data, "max_weight_grams": "5000", "price_0": "-1"})
    assert negative.status_code == 200 and "must not be negative" in form_errors(negative)
    assert ShippingRate.objects.count() == before
    assert admin.post("/admin/logistics/shippingrate/add/", {**data, "max_weight_grams": "5000"}).status_code == 302
    assert ShippingRate.objects.count() == before + 1


def test_method_with_an_inverted_transit_range_is_refused(admin, world):
    data = {
        "code": "slow",
        "name": "Slow",
        "carrier": "simulated",
        "service_level": "economy",
        "incoterm": "DAP",
        "transit_days_min": "9",
        "transit_days_max": "3",
        "active": "on",
    }
    response = admin.post("/admin/logistics/shippingmethod/add/", data)
    assert response.status_code == 200 and "must not be shorter" in form_errors(response)
    assert not ShippingMethod.objects.filter(code="slow").exists()


def stock_add(variant, warehouse, quantity, operation="add"):
    return {
        "variant": variant.pk,
        "warehouse": warehouse.pk,
        "operation": operation,
        "quantity": quantity,
        "reason": "received",
        "note": "first delivery",
    }


def test_stock_is_created_through_a_logged_change(admin, world, operator):
    wig = make_product(world.silk, world.category, "wig").variants.get()
    # negative stock: refused, nothing saved
    response = admin.post("/admin/logistics/stock/add/", stock_add(wig, world.de_fra, "-5"))
    assert response.status_code == 200 and "Stock cannot be negative" in form_errors(response)
    # a warehouse the seller may not use: refused
    response = admin.post("/admin/logistics/stock/add/", stock_add(wig, world.it_origin, "5"))
    assert response.status_code == 200 and "may not use this warehouse" in form_errors(response)
    assert not Stock.objects.exists() and not StockAdjustment.objects.exists()
    # valid
    assert admin.post("/admin/logistics/stock/add/", stock_add(wig, world.de_fra, "10")).status_code == 302
    stock = Stock.objects.get()
    log = StockAdjustment.objects.get()
    assert (stock.on_hand, log.quantity, log.on_hand_after, log.actor, log.note) == (
        10,
        10,
        10,
        operator,
        "first delivery",
    )


def test_stock_change_in_admin_is_checked_and_logged(admin, world, operator):
    wig = make_product(world.silk, world.category, "wig").variants.get()
    stock = put(wig, world.de_fra, 6, allocated=2)
    url = f"/admin/logistics/stock/{stock.pk}/change/"
    management = {k: v for k, v in hidden_inputs(admin.get(url).content.decode()).items() if "FORMS" in k}

    def change(operation, quantity):
        return admin.post(url, {**management, "operation": operation, "quantity": quantity, "reason": "damaged"})

    assert "only 6 on hand" in form_errors(change("remove", "7"))
    assert "allocated to orders" in form_errors(change("remove", "5"))
    assert "Stock cannot be negative" in form_errors(change("set", "-1"))
    stock.refresh_from_db()
    assert stock.on_hand == 6 and not StockAdjustment.objects.exists()
    assert change("remove", "4").status_code == 302
    stock.refresh_from_db()
    assert stock.on_hand == 2
    assert list(StockAdjustment.objects.values_list("quantity", "reason", "actor")) == [(-4, "damaged", operator.pk)]
    assert change("add", "").status_code == 302  # no change asked: nothing logged
    assert StockAdjustment.objects.count() == 1


def test_adjustment_log_is_read_only(admin, world):
    stock = put(make_product(world.silk, world.category, "wig").variants.get(), world.de_fra, 6)
    StockAdjustment.objects.create(stock=stock, quantity=6, on_hand_after=6, reason="received")
    log = StockAdjustment.objects.get()
    assert admin.get("/admin/logistics/stockadjustment/add/").status_code == 403
    assert admin.post(f"/admin/logistics/stockadjustment/{log.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin.post(f"/admin/logistics/stock/{stock.pk}/delete/", {"post": "yes"}).status_code == 403
