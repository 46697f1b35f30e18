from __future__ import annotations

import pytest

from logistics.models import Stock
from orders.models import Cart, CartLine
from tests.logistics.world import put

pytestmark = pytest.mark.django_db


def add(client, variant, quantity=1, **extra):
    return client.post("/en/cart/add/", {"variant": variant.pk, "quantity": quantity, **extra})


def test_anonymous_cart_groups_by_seller_and_counts(client, shop):
    client.cookies["currency"] = "EUR"
    assert add(client, shop["wig"], 2).status_code == 302
    add(client, shop["oil"], 1, price="0.01")  # a posted price is ignored

    page = client.get("/en/cart/").content.decode()

    assert page.count('data-testid="cart-line"') == 2
    assert 'data-sku="wig-0"' in page and 'data-sku="oil-0"' in page
    assert "From Silk Hair Co" in page and "From Olive Grove" in page
    # CNY 100 = EUR 12.50 (8 CNY per EUR); 2 x 12.50 + 100.00
    assert 'data-testid="cart-total" data-amount="125.00" data-currency="EUR"' in page
    assert '<span data-testid="cart-count">3</span>' in page


def test_repriced_in_the_buyer_currency(client, shop):
    add(client, shop["oil"], 1)
    client.cookies["currency"] = "USD"
    page = client.get("/en/cart/").content.decode()
    assert 'data-testid="cart-total" data-amount="110.00" data-currency="USD"' in page


def test_more_than_the_stock_is_refused_with_a_message(client, shop):
    add(client, shop["wig"], 8)
    response = add(client, shop["wig"], 3)
    assert CartLine.objects.get().quantity == 8
    page = client.get(response.url).content.decode()
    assert 'data-testid="form-error"' in page and "Only 10 left" in page


def test_quantity_beyond_the_limit_is_refused(client, shop):
    add(client, shop["wig"], 21)
    assert not CartLine.objects.exists()


def test_update_and_remove_lines(client, shop):
    add(client, shop["wig"], 1)
    line = CartLine.objects.get()
    client.post(f"/en/cart/lines/{line.pk}/", {"quantity": 4})
    assert CartLine.objects.get().quantity == 4
    client.post(f"/en/cart/lines/{line.pk}/", {"quantity": 11})  # more than the stock
    assert CartLine.objects.get().quantity == 4
    client.post(f"/en/cart/lines/{line.pk}/", {"remove": "1"})
    assert not CartLine.objects.exists()


def test_vanished_stock_is_flagged_not_dropped(client, shop):
    add(client, shop["wig"], 2)
    Stock.objects.filter(variant=shop["wig"]).update(on_hand=0)
    page = client.get("/en/cart/").content.decode()
    assert 'data-sku="wig-0" data-problem="out_of_stock"' in page
    assert 'data-testid="checkout"' not in page
    assert CartLine.objects.get().quantity == 2


def test_sign_in_merges_quantities_capped_by_stock(client, shop, buyer):
    buyer.set_password("pw-123456")
    buyer.save()
    user_cart = Cart.objects.create(user=buyer)
    CartLine.objects.create(cart=user_cart, variant=shop["wig"], quantity=6)
    put(shop["wig"], shop["world"].de_fra, 8)
    add(client, shop["wig"], 5)
    add(client, shop["oil"], 1)

    client.post("/en/accounts/login/", {"username": buyer.email, "password": "pw-123456"})

    lines = {line.variant_id: line.quantity for line in CartLine.objects.filter(cart=user_cart)}
    assert lines == {shop["wig"].pk: 8, shop["oil"].pk: 1}  # 6 + 5 capped at the 8 in stock
    assert Cart.objects.get(user=None).status == Cart.Status.MERGED
    page = client.get("/en/cart/").content.decode()
    assert '<span data-testid="cart-count">9</span>' in page


def test_product_page_has_the_add_to_cart_form(client, shop):
    page = client.get("/en/products/wig/").content.decode()
    assert 'data-testid="add-to-cart"' in page and 'data-testid="quantity"' in page
