"""Sellers see and fulfil their own sub-orders in the portal (orders.portal): list by status,
one sub-order with its lines, address and parcels, "mark packed" and "ship" through the logistics
services. Anyone else's sub-order or parcel is a 404; so are the pages for a buyer."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import SellerMember
from logistics.models import Shipment
from marketplace.models import User
from orders.models import Order, SubOrder

from .fulfilment_helpers import confirm, parcel, place

pytestmark = pytest.mark.django_db

LIST = "/en/seller/orders/"
S = Order.Status


def detail(order: Order) -> str:
    return f"/en/seller/orders/{order.number}/"


def action(order: Order, shipment: Shipment, verb: str) -> str:
    return f"/en/seller/orders/{order.number}/shipments/{shipment.pk}/{verb}/"


def member(email: str, seller) -> User:
    user = User.objects.create_user(email, "x")
    SellerMember.objects.create(user=user, seller=seller)
    return user


def rows(html: str) -> list[tuple[str, str]]:
    return re.findall(r'data-testid="sub-order-row" data-number="([^"]+)" data-status="([^"]+)"', html)


def errors(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", e).strip() for e in re.findall(r'data-testid="form-error"[^>]*>(.*?)</', html, re.S)]


@pytest.fixture
def orders(shop, buyer, django_capture_on_commit_callbacks) -> dict[str, Order]:
    """mixed: silk's wig (Frankfurt, the marketplace's) + olive's oil (Milan, olive's own);
    oil: olive only; unpaid: olive only, not confirmed."""
    with django_capture_on_commit_callbacks(execute=True):
        mixed = confirm(place(buyer, (shop["wig"], 2), (shop["oil"], 1)))
        oil = confirm(place(buyer, (shop["oil"], 3)))
    unpaid = place(buyer, (shop["oil"], 1))
    return {"mixed": mixed, "oil": oil, "unpaid": unpaid}


@pytest.fixture
def olive(client, shop):
    client.force_login(member("seller-olive@example.com", shop["world"].olive))
    return client


@pytest.fixture
def silk(client, shop):
    client.force_login(member("seller-silk@example.com", shop["world"].silk))
    return client


def test_each_seller_lists_only_their_paid_sub_orders(orders, olive, shop):
    page = olive.get(LIST).content.decode()

    assert rows(page) == [(orders["oil"].number, "confirmed"), (orders["mixed"].number, "confirmed")]
    assert orders["unpaid"].number not in page  # not paid: not the seller's business yet
    assert 'data-testid="portal-orders"' in page and 'aria-current="page"' in page
    SubOrder.objects.filter(order=orders["oil"]).update(status=S.FULFILLING)
    assert rows(olive.get(LIST, {"status": "fulfilling"}).content.decode()) == [(orders["oil"].number, "fulfilling")]
    assert rows(olive.get(LIST, {"status": "shipped"}).content.decode()) == []
    assert len(rows(olive.get(LIST, {"status": "nonsense"}).content.decode())) == 2  # unknown filter: all


def test_the_other_seller_sees_only_their_part(orders, silk):
    page = silk.get(LIST).content.decode()
    assert rows(page) == [(orders["mixed"].number, "confirmed")]

    mixed = silk.get(detail(orders["mixed"])).content.decode()
    assert 'data-sku="wig-0"' in mixed and 'data-sku="oil-0"' not in mixed
    # Frankfurt is the marketplace's warehouse: shown, not the seller's to pack or ship
    assert 'data-own="0"' in mixed and 'data-testid="ship-form"' not in mixed and "mark-packed" not in mixed


def test_detail_shows_lines_address_and_own_parcels(orders, olive, shop):
    order = orders["mixed"]
    page = olive.get(detail(order)).content.decode()

    assert 'data-sku="oil-0"' in page and 'data-sku="wig-0"' not in page
    assert 'data-testid="line-quantity">1<' in page
    assert 'data-testid="seller-price" data-amount="100.00" data-currency="EUR"' in page
    assert "Hauptstrasse 1" in page and "10115 Berlin" in page and "+49 30 1234567" in page
    milan = parcel(order, shop["world"].it_origin)
    assert page.count('data-testid="shipment"') == 1  # Frankfurt carries none of olive's lines
    assert f'data-shipment="{milan.pk}" data-status="pending" data-own="1"' in page
    assert 'data-testid="mark-packed"' in page and 'data-testid="ship-form"' in page


def test_strangers_get_404_and_anonymous_the_login(client, orders, shop, buyer):
    order, milan = orders["oil"], parcel(orders["oil"], shop["world"].it_origin)
    client.force_login(member("seller-silk@example.com", shop["world"].silk))
    assert client.get(detail(order)).status_code == 404  # silk has no part in it
    assert client.post(action(order, milan, "pack")).status_code == 404
    assert (
        client.post(action(order, milan, "ship"), {"tracking_number": "AB123456", "carrier": "simulated"}).status_code
        == 404
    )
    # olive's parcel reached through silk's order number: still 404
    assert client.post(action(orders["mixed"], milan, "pack")).status_code == 404
    client.force_login(buyer)
    assert client.get(LIST).status_code == 404 and client.get(detail(order)).status_code == 404
    assert client.post(action(order, milan, "pack")).status_code == 404
    client.logout()
    response = client.get(detail(order))
    assert response.status_code == 302 and response.url.startswith("/en/accounts/login/")
    milan.refresh_from_db()
    assert milan.status == Shipment.Status.PENDING


def test_an_unpaid_order_is_404_for_the_seller(orders, olive, shop):
    order = orders["unpaid"]
    assert olive.get(detail(order)).status_code == 404
    assert olive.post(action(order, parcel(order, shop["world"].it_origin), "pack")).status_code == 404


def test_pack_then_ship_moves_the_order(orders, olive, shop, django_capture_on_commit_callbacks):
    order = orders["mixed"]
    milan = parcel(order, shop["world"].it_origin)

    with django_capture_on_commit_callbacks(execute=True):
        response = olive.post(action(order, milan, "pack"))
        olive.post(action(order, milan, "pack"))  # a double click
    assert response.status_code == 302 and response.url == detail(order)
    milan.refresh_from_db()
    assert milan.status == Shipment.Status.PACKED and milan.events.filter(key="packed").count() == 1
    order.refresh_from_db()
    assert order.status == S.FULFILLING

    # a tracking number with a space: the form says why, nothing changes
    bad = olive.post(action(order, milan, "ship"), {"tracking_number": "AB 123456", "carrier": "simulated"})
    assert bad.status_code == 400 and errors(bad.content.decode()) == ["A tracking number cannot contain spaces."]
    milan.refresh_from_db()
    assert milan.status == Shipment.Status.PACKED and milan.tracking_number == ""

    with django_capture_on_commit_callbacks(execute=True):
        response = olive.post(action(order, milan, "ship"), {"tracking_number": "it123456789", "carrier": "simulated"})
    assert response.status_code == 302
    milan.refresh_from_db()
    assert (milan.status, milan.tracking_number) == (Shipment.Status.SHIPPED, "IT123456789")
    statuses = dict(SubOrder.objects.filter(order=order).values_list("seller__slug", "status"))
    assert statuses == {"olive": S.SHIPPED, "silk": S.CONFIRMED}
    order.refresh_from_db()
    assert order.status == S.FULFILLING  # Frankfurt has not shipped yet
    page = olive.get(detail(order)).content.decode()
    assert 'data-testid="shipment-tracking">IT123456789<' in page and 'data-testid="ship-form"' not in page


def test_a_cancelled_order_cannot_be_shipped(orders, olive, shop):
    order = orders["oil"]
    Order.objects.filter(pk=order.pk).update(status=S.CANCELLED)
    milan = parcel(order, shop["world"].it_origin)

    page = olive.get(detail(order)).content.decode()
    assert 'data-testid="not-shippable"' in page and 'data-testid="ship-form"' not in page
    response = olive.post(action(order, milan, "ship"), {"tracking_number": "AB123456", "carrier": "simulated"})
    assert response.status_code == 400
    assert errors(response.content.decode()) == ["This order cannot be shipped now: it is cancelled."]
    assert olive.post(action(order, milan, "pack")).status_code == 400
    milan.refresh_from_db()
    assert milan.status == Shipment.Status.PENDING


def list_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(LIST).status_code == 200
    return len(queries)


def test_list_queries_do_not_grow_with_the_sub_orders(shop, buyer, olive, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        confirm(place(buyer, (shop["oil"], 1)))
    one = list_queries(olive)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(9):
            confirm(place(buyer, (shop["oil"], 1)))
    assert len(rows(olive.get(LIST).content.decode())) == 10
    assert list_queries(olive) == one
