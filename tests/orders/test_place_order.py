from __future__ import annotations

import re
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from djmoney.money import Money

from logistics.models import Shipment, ShippingRate, Stock
from marketplace.models import FxRefresh
from orders.exceptions import OutOfStock
from orders.models import Cart, CartLine, Checkout, Order, StockReservation
from orders.services import Address, expire_unpaid_order, place_order, start_checkout
from orders.tasks import expire_unpaid_orders
from payments.models import Payment
from tests.catalog.factories import UserFactory
from tests.logistics.world import put

from .conftest import ADDRESS_DE

pytestmark = pytest.mark.django_db


def fill(buyer, *pairs) -> Cart:
    cart = Cart.objects.create(user=buyer)
    for variant, quantity in pairs:
        CartLine.objects.create(cart=cart, variant=variant, quantity=quantity)
    return cart


def signed_in(client, buyer):
    client.force_login(buyer)
    client.cookies["currency"] = "EUR"
    return client


def stock_state():
    return list(Stock.objects.order_by("pk").values_list("on_hand", "allocated"))


def test_totals_equal_the_quote_for_three_sellers_in_three_currencies(client, shop, buyer):
    fill(buyer, (shop["wig"], 2), (shop["oil"], 1), (shop["syrup"], 1))
    signed_in(client, buyer)

    page = client.post("/en/checkout/", ADDRESS_DE, follow=True).content.decode()
    checkout = Checkout.objects.get()
    quote = checkout.quote
    for field in ("goods", "shipping", "duties", "taxes", "fees", "total"):
        assert f'data-testid="quote-{field}" data-amount="{Decimal(quote[field]):.2f}"' in page
    assert 'data-testid="quote-expires"' in page and 'data-testid="fx-rate"' in page
    assert set(quote["fx"]) == {"CNY", "USD"}

    # when: the browser posts tampered prices, quantities and warehouses next to the token
    response = client.post(
        "/en/checkout/place/",
        {"token": checkout.token, "total": "0.01", "quantity": "99", "warehouse": "1", "currency": "JPY"},
    )

    order = Order.objects.get()
    payment = Payment.objects.get(order=order)  # handed over to the checkout's payment method
    assert response.url == payment.next_action["url"] == f"/en/pay/demo/{payment.provider_reference}/"
    assert (payment.method, payment.amount) == (checkout.quote["payment_method"], order.total)
    assert order.currency == "EUR"
    for field in ("goods", "shipping", "duties", "taxes", "fees", "total"):
        assert getattr(order, field) == Money(quote[field], "EUR"), field
    assert sum((line.line_total for line in order.lines.all()), Money(0, "EUR")) == order.goods
    assert order.sub_orders.count() == 3
    assert sorted(order.lines.values_list("quantity", flat=True)) == [1, 1, 2]
    assert {line.unit_price_seller.currency.code for line in order.lines.all()} == {"CNY", "EUR", "USD"}
    assert Stock.objects.get(variant=shop["wig"]).allocated == 2
    assert Shipment.objects.filter(order_number=order.number).count() == 2  # Frankfurt, Milan
    detail = client.get(f"/en/orders/{order.number}/").content.decode()
    assert f'data-testid="order-number">{order.number}<' in detail
    assert detail.count('data-testid="shipment"') == 2
    assert order.number in client.get("/en/orders/").content.decode()


def test_double_submit_gives_one_order_and_one_reservation(shop, buyer):
    cart = fill(buyer, (shop["oil"], 1))
    checkout = start_checkout(cart, buyer=buyer, address=Address(**ADDRESS_DE), currency="EUR", language="en")
    first = place_order(checkout.token, buyer=buyer)
    second = place_order(checkout.token, buyer=buyer)
    assert first == second
    assert Order.objects.count() == 1 and StockReservation.objects.count() == 1
    assert Stock.objects.get(variant=shop["oil"]).allocated == 1


def test_an_expired_quote_is_recomputed_and_shown_before_placing(client, shop, buyer):
    fill(buyer, (shop["wig"], 1))
    signed_in(client, buyer)
    client.post("/en/checkout/", ADDRESS_DE)
    checkout = Checkout.objects.get()
    Checkout.objects.filter(pk=checkout.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1), quote={**checkout.quote, "total": "1.00"}
    )
    before = stock_state()

    response = client.post("/en/checkout/place/", {"token": checkout.token}, follow=True)

    page = response.content.decode()
    assert not Order.objects.exists() and stock_state() == before
    assert "Your quote expired" in page and 'data-testid="quote-difference"' in page
    checkout.refresh_from_db()
    assert checkout.expires_at > timezone.now() and checkout.previous_total == Money("1.00", "EUR")
    client.post("/en/checkout/place/", {"token": checkout.token})
    assert Order.objects.count() == 1


def test_cross_currency_checkout_is_refused_when_rates_are_stale(client, shop, buyer):
    fill(buyer, (shop["wig"], 1))
    FxRefresh.objects.update(checked_at=timezone.now() - timedelta(days=10))
    cache.clear()
    page = signed_in(client, buyer).post("/en/checkout/", ADDRESS_DE).content.decode()
    assert "Exchange rates are out of date" in page and 'data-testid="form-error"' in page
    assert not Checkout.objects.exists()


def test_an_empty_cart_cannot_check_out(client, shop, buyer):
    Cart.objects.create(user=buyer)
    response = signed_in(client, buyer).get("/en/checkout/", follow=True)
    assert "Your cart is empty." in response.content.decode()
    assert not Checkout.objects.exists()


def test_an_unsupported_destination_is_refused(client, shop, buyer):
    fill(buyer, (shop["oil"], 1))
    before = stock_state()
    address = {**ADDRESS_DE, "country": "AU", "postal_code": "2000", "phone": "+61 2 9374 4000"}
    page = signed_in(client, buyer).post("/en/checkout/", address).content.decode()
    assert "We do not deliver to Australia yet." in page
    assert not Checkout.objects.exists() and not Order.objects.exists() and stock_state() == before


def test_address_is_validated(client, shop, buyer):
    fill(buyer, (shop["oil"], 1))
    page = signed_in(client, buyer).post("/en/checkout/", {**ADDRESS_DE, "postal_code": "", "phone": "123"})
    text = page.content.decode()
    assert "A postal code is required" in text and "Enter a valid phone number" in text


def test_stock_gone_before_placing_no_order_no_stock_change(client, shop, buyer):
    fill(buyer, (shop["oil"], 3))
    signed_in(client, buyer).post("/en/checkout/", ADDRESS_DE)
    Stock.objects.filter(variant=shop["oil"]).update(allocated=8)  # someone else bought 8 of 10
    before = stock_state()
    response = client.post("/en/checkout/place/", {"token": Checkout.objects.get().token}, follow=True)
    assert "Only 2 left" in response.content.decode()
    assert not Order.objects.exists() and stock_state() == before


def test_someone_elses_checkout_and_order_are_404(client, shop, buyer):
    cart = fill(buyer, (shop["oil"], 1))
    checkout = start_checkout(cart, buyer=buyer, address=Address(**ADDRESS_DE), currency="EUR", language="en")
    order = place_order(checkout.token, buyer=buyer)
    other = UserFactory()
    client.force_login(other)
    assert client.post("/en/checkout/place/", {"token": checkout.token}).status_code == 404
    assert client.get(f"/en/orders/{order.number}/").status_code == 404


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_buyers_race_for_the_last_five_units(shop):
    Stock.objects.filter(variant=shop["oil"]).update(on_hand=5)
    checkouts = []
    for n in range(20):
        user = UserFactory(email=f"racer{n}@example.com")
        cart = fill(user, (shop["oil"], 1))
        checkouts.append(
            (start_checkout(cart, buyer=user, address=Address(**ADDRESS_DE), currency="EUR", language="en"), user)
        )
    results: list[str] = []
    barrier = threading.Barrier(20)

    def buy(checkout: Checkout, user) -> None:
        try:
            barrier.wait()
            place_order(checkout.token, buyer=user)
            results.append("order")
        except OutOfStock:
            results.append("out")
        finally:
            connection.close()

    threads = [threading.Thread(target=buy, args=pair) for pair in checkouts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results).count("order") == 5 and len(results) == 20
    assert Order.objects.count() == 5 and StockReservation.objects.count() == 5
    stock = Stock.objects.get(variant=shop["oil"])
    assert (stock.on_hand, stock.allocated) == (5, 5)


@pytest.mark.parametrize(("quantity", "duty_charged"), [(1, False), (2, True)])  # EUR 100 / 200 vs EUR 150
def test_totals_match_the_quote_under_and_over_the_de_minimis(shop, buyer, quantity, duty_charged):
    Stock.objects.filter(variant=shop["syrup"]).update(on_hand=0)
    put(shop["syrup"], shop["world"].us_lax, 10)
    cart = fill(buyer, (shop["syrup"], quantity))  # USD 100 each, shipped from Los Angeles to Germany
    shop["world"].us_lax.sellers.add(shop["syrup"].product.seller)
    ShippingRate.objects.create(
        method=shop["world"].economy,
        warehouse=shop["world"].us_lax,
        zone=shop["world"].zones["eu"],
        min_weight_grams=0,
        max_weight_grams=30_000,
        price=Money("11", "USD"),
    )
    checkout = start_checkout(cart, buyer=buyer, address=Address(**ADDRESS_DE), currency="JPY", language="en")
    quote = checkout.quote

    order = place_order(checkout.token, buyer=buyer)

    assert (Decimal(quote["duties"]) > 0) is duty_charged
    assert order.currency == "JPY"
    for field in ("goods", "shipping", "duties", "taxes", "fees", "total", "due_at_door"):
        assert getattr(order, field) == Money(quote[field], "JPY"), field
    assert order.total.amount == order.total.amount.to_integral_value()  # yen have no minor unit


def test_dap_is_explained_with_what_the_carrier_collects(client, shop, buyer):
    Stock.objects.filter(variant=shop["wig"]).update(on_hand=0)
    put(shop["wig"], shop["world"].cn_origin, 50)
    fill(buyer, (shop["wig"], 20))  # 20 x EUR 12.50 = EUR 250: above the duty threshold, DAP economy
    page = signed_in(client, buyer).post("/en/checkout/", ADDRESS_DE, follow=True).content.decode()
    assert "Delivered at place (DAP): the carrier will collect" in page
    assert 'data-testid="place-order"' in page


def test_unpaid_orders_give_their_stock_back_once(shop, buyer):
    cart = fill(buyer, (shop["oil"], 2))
    checkout = start_checkout(cart, buyer=buyer, address=Address(**ADDRESS_DE), currency="EUR", language="en")
    order = place_order(checkout.token, buyer=buyer)
    assert Stock.objects.get(variant=shop["oil"]).allocated == 2
    assert expire_unpaid_orders() == 0  # still reserved

    Order.objects.filter(pk=order.pk).update(reservation_expires_at=timezone.now() - timedelta(seconds=1))
    assert expire_unpaid_orders() == 1
    expire_unpaid_order(order.pk)  # twice: nothing more

    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED
    assert Stock.objects.get(variant=shop["oil"]).allocated == 0
    assert StockReservation.objects.get().released_at is not None


def test_order_page_shows_each_shipments_tracking_timeline(client, shop, buyer):
    from logistics.carriers.base import CarrierEvent
    from logistics.shipments import mark_packed, mark_shipped
    from logistics.tracking import record_tracking_events

    # given a placed order whose parcel was shipped and scanned twice
    fill(buyer, (shop["oil"], 1))
    signed_in(client, buyer)
    client.post("/en/checkout/", ADDRESS_DE)
    client.post("/en/checkout/place/", {"token": Checkout.objects.get().token})
    order = Order.objects.get()
    order_url = f"/en/orders/{order.number}/"
    shipment = Shipment.objects.get(order_number=order.number)
    mark_packed(shipment)
    mark_shipped(shipment, tracking_number="SIM123456DE", carrier="simulated")
    now = timezone.now()
    record_tracking_events(
        shipment.pk,
        [
            CarrierEvent("e2", "in_transit", now + timedelta(minutes=2), "Departed hub", "Milan"),
            CarrierEvent("e1", "", now + timedelta(minutes=1), "Scanned at depot", "Milan"),
        ],
    )

    # when the buyer opens the order
    html = client.get(order_url).content.decode()

    # then the parcel shows its status and its whole timeline, oldest first
    assert 'data-testid="shipment" data-status="in_transit"' in html
    statuses = re.findall(r'data-testid="tracking-event" data-status="([a-z_]*)"', html)
    assert statuses == ["packed", "shipped", "", "in_transit"]
    assert html.index("Scanned at depot") < html.index("Departed hub")
    assert "SIM123456DE" in html
    # and another buyer cannot see it
    other = type(buyer).objects.create_user("other@example.com", "x")
    client.force_login(other)
    assert client.get(order_url).status_code == 404


def test_order_list_and_order_page_keep_their_query_count(client, shop, buyer):
    from django.test.utils import CaptureQueriesContext

    def placed(*pairs):
        cart = fill(buyer, *pairs)
        checkout = start_checkout(cart, buyer=buyer, address=Address(**ADDRESS_DE), currency="EUR", language="en")
        return place_order(checkout.token, buyer=buyer)

    def queries(path):
        client.get(path)  # warm the caches (markets, rates, shipping configuration)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200
        return len(captured)

    signed_in(client, buyer)
    small = placed((shop["oil"], 1))  # one seller, one parcel
    small_page, one_order = queries(f"/en/orders/{small.number}/"), queries("/en/orders/")
    large = placed((shop["wig"], 2), (shop["oil"], 1), (shop["syrup"], 1))  # three sellers, two parcels
    assert large.lines.count() == 3
    assert queries(f"/en/orders/{large.number}/") == small_page
    assert queries("/en/orders/") == one_order
