"""Sellers manage their stock per warehouse in the portal: their variants, their warehouses,
a log of every change, and bad input refused with a clear message and nothing saved."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from catalog.models import SellerMember
from logistics.models import Stock, StockAdjustment
from marketplace.models import User

from .world import make_product, put

URL = "/en/seller/stock/"
CHANGE = "/en/seller/stock/change/"


@pytest.fixture
def silk_user(world):
    user = User.objects.create_user("seller-silk@example.com", "x")
    SellerMember.objects.create(user=user, seller=world.silk)
    return user


@pytest.fixture
def wig(world):
    return make_product(world.silk, world.category, "wig").variants.get()


def errors(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", e).strip() for e in re.findall(r'data-testid="form-error"[^>]*>(.*?)</', html, re.S)]


def post(client, variant, warehouse, operation, quantity, reason="received", note=""):
    data = {"variant": variant.pk, "warehouse": warehouse.pk, "operation": operation, "quantity": quantity}
    return client.post(CHANGE, {**data, "reason": reason, "note": note})


def test_urls_are_wired():
    assert reverse("stock:overview") == URL and reverse("stock:change") == CHANGE


def test_only_seller_users_get_in(client, world):
    assert client.get(URL).status_code == 302  # to the login page
    client.force_login(User.objects.create_user("buyer@example.com", "x"))
    assert client.get(URL).status_code == 403


def test_seller_sees_own_variants_in_the_warehouses_they_may_use(client, world, silk_user, wig):
    make_product(world.olive, world.category, "oil")
    put(wig, world.de_fra, 7, allocated=2)
    client.force_login(silk_user)
    html = client.get(URL).content.decode()
    assert "Frankfurt warehouse" in html and "Guangzhou warehouse" in html and "Los Angeles warehouse" in html
    assert "Milan warehouse" not in html  # Olive Grove's origin
    assert 'data-sku="wig-0"' in html and 'data-sku="oil-0"' not in html
    assert "(2 allocated)" in html


def test_adding_units_logs_who_and_why(client, world, silk_user, wig):
    client.force_login(silk_user)
    response = post(client, wig, world.de_fra, "add", 12, note="container 7")
    assert response.status_code == 302
    stock = Stock.objects.get(variant=wig, warehouse=world.de_fra)
    assert stock.on_hand == 12
    log = StockAdjustment.objects.get()
    assert (log.quantity, log.actor, log.reason, log.note) == (12, silk_user, "received", "container 7")
    page = client.get(URL).content.decode()
    assert "wig-0 at Frankfurt warehouse: 12 on hand." in page and 'data-testid="stock-adjustment"' in page
    # set the count after a stock take
    post(client, wig, world.de_fra, "set", 10, reason="correction")
    assert Stock.objects.get(pk=stock.pk).on_hand == 10
    assert list(StockAdjustment.objects.order_by("pk").values_list("quantity", flat=True)) == [12, -2]


@pytest.mark.parametrize(
    ("operation", "quantity", "message"),
    [
        ("add", -3, "Enter a number of units, zero or more"),
        ("set", -1, "Enter a number of units, zero or more"),
        ("remove", 4, "Stock cannot go below zero"),
        ("add", 0, "Enter how many units to add or remove."),
        ("add", "ten", "Enter a whole number of units."),
        ("set", 1, "are allocated to orders"),
    ],
)
def test_bad_stock_input_is_refused_and_nothing_is_saved(client, world, silk_user, wig, operation, quantity, message):
    # given 3 on hand, 2 of them allocated
    stock = put(wig, world.de_fra, 3, allocated=2)
    other = make_product(world.silk, world.category, "hat").variants.get()
    client.force_login(silk_user)
    # when
    response = post(client, wig, world.de_fra, operation, quantity)
    response_new_row = post(client, other, world.de_fra, "remove", 1)
    # then
    assert response.status_code == 400
    assert any(message in e for e in errors(response.content.decode())), errors(response.content.decode())
    assert response_new_row.status_code == 400
    stock.refresh_from_db()
    assert (stock.on_hand, stock.allocated) == (3, 2)
    assert not StockAdjustment.objects.exists()
    assert not Stock.objects.filter(variant=other).exists()  # no empty row left behind


def test_other_sellers_variants_and_warehouses_are_not_choices(client, world, silk_user, wig):
    oil = make_product(world.olive, world.category, "oil").variants.get()
    client.force_login(silk_user)
    for variant, warehouse in [(oil, world.de_fra), (wig, world.it_origin)]:
        response = post(client, variant, warehouse, "add", 5)
        assert response.status_code == 400
        assert any("valid choice" in e for e in errors(response.content.decode()))
    assert not Stock.objects.exists()
