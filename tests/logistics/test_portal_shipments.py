"""Sellers mark their own shipments packed and shipped in the portal: only shipments leaving an
origin warehouse their seller may use (overseas ones are the operators'), through the services,
idempotent on a double submit; bad input re-renders the form with a 400 and saves nothing."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import SellerMember
from logistics.models import Shipment, TrackingEvent
from logistics.shipments import create_shipment
from marketplace.models import User

from .tracking_helpers import ITEMS

Status = Shipment.Status
LIST = "/en/seller/shipments/"


def pack_url(shipment: Shipment) -> str:
    return f"/en/seller/shipments/{shipment.pk}/pack/"


def ship_url(shipment: Shipment) -> str:
    return f"/en/seller/shipments/{shipment.pk}/ship/"


def invoice_url(shipment: Shipment) -> str:
    return f"/en/shipments/{shipment.pk}/commercial-invoice/"


def errors(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", e).strip() for e in re.findall(r'data-testid="form-error"[^>]*>(.*?)</', html, re.S)]


def member(email: str, seller) -> User:
    user = User.objects.create_user(email, "x")
    SellerMember.objects.create(user=user, seller=seller)
    return user


def state(shipment: Shipment) -> tuple:
    shipment.refresh_from_db()
    return shipment.status, shipment.carrier, shipment.tracking_number, shipment.events.count()


@pytest.fixture
def silk_user(world) -> User:
    return member("seller-silk@example.com", world.silk)


@pytest.fixture
def olive_user(world) -> User:
    return member("seller-olive@example.com", world.olive)


@pytest.fixture
def silk_parcel(world) -> Shipment:
    """Leaves Silk's origin warehouse in Guangzhou: Silk's to pack and ship."""
    return create_shipment(warehouse=world.cn_origin, destination_country="DE", items=ITEMS, order_number="ORD-1")


@pytest.fixture
def frankfurt_parcel(world) -> Shipment:
    """Leaves the overseas Frankfurt warehouse, which Silk may use: still the operators' parcel."""
    return create_shipment(warehouse=world.de_fra, destination_country="DE", items=ITEMS, order_number="ORD-2")


@pytest.fixture
def olive_parcel(world) -> Shipment:
    return create_shipment(warehouse=world.it_origin, destination_country="DE", items=ITEMS, order_number="ORD-3")


def test_urls_are_wired():
    assert reverse("seller-shipments:list") == LIST
    assert reverse("seller-shipments:pack", kwargs={"pk": 7}) == "/en/seller/shipments/7/pack/"
    assert reverse("seller-shipments:ship", kwargs={"pk": 7}) == "/en/seller/shipments/7/ship/"


def test_the_seller_lists_only_shipments_from_their_origin_warehouses(
    client, silk_user, silk_parcel, frankfurt_parcel, olive_parcel
):
    client.force_login(silk_user)
    response = client.get(LIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert re.findall(r'data-testid="shipment-row" data-shipment="(\d+)"', html) == [str(silk_parcel.pk)]
    assert "ORD-1" in html and "Guangzhou warehouse" in html and "Pending" in html
    assert 'data-testid="portal-shipments"' in html and 'aria-current="page" data-testid="portal-shipments"' in html
    assert invoice_url(silk_parcel) in html


def test_the_list_takes_the_same_queries_for_one_shipment_or_many(client, world, silk_user, silk_parcel):
    client.force_login(silk_user)
    client.get(LIST)  # warm caches (session, markets)
    with CaptureQueriesContext(connection) as one:
        assert client.get(LIST).status_code == 200
    for n in range(6):
        create_shipment(warehouse=world.cn_origin, destination_country="US", items=ITEMS, order_number=f"ORD-9{n}")
    with CaptureQueriesContext(connection) as seven:
        html = client.get(LIST).content.decode()
    assert html.count('data-testid="shipment-row"') == 7
    assert len(seven.captured_queries) == len(one.captured_queries)


def test_pack_then_ship_through_the_services(client, silk_user, silk_parcel):
    client.force_login(silk_user)
    assert client.post(pack_url(silk_parcel)).status_code == 302
    assert state(silk_parcel) == (Status.PACKED, "simulated", "", 1)

    response = client.post(ship_url(silk_parcel), {"tracking_number": "ea123456789cn", "carrier": "simulated"})
    assert response.status_code == 302 and response["Location"] == LIST
    assert state(silk_parcel) == (Status.SHIPPED, "simulated", "EA123456789CN", 2)
    assert list(silk_parcel.events.values_list("key", "source")) == [("packed", "operator"), ("shipped", "operator")]
    page = client.get(LIST).content.decode()
    assert "Shipment ORD-1 is shipped with tracking number EA123456789CN." in page
    assert 'data-status="shipped"' in page and 'data-testid="ship-form"' not in page


def test_a_double_submit_changes_nothing_the_second_time(client, silk_user, silk_parcel):
    client.force_login(silk_user)
    client.post(pack_url(silk_parcel))
    packed = state(silk_parcel)
    assert client.post(pack_url(silk_parcel)).status_code == 302
    assert state(silk_parcel) == packed

    data = {"tracking_number": "EA123456789CN", "carrier": "simulated"}
    assert client.post(ship_url(silk_parcel), data).status_code == 302
    shipped = state(silk_parcel)
    updated_at = Shipment.objects.get(pk=silk_parcel.pk).updated_at
    assert client.post(ship_url(silk_parcel), data).status_code == 302
    assert client.post(pack_url(silk_parcel)).status_code == 302  # a late "packed" click too
    assert state(silk_parcel) == shipped
    assert Shipment.objects.get(pk=silk_parcel.pk).updated_at == updated_at
    assert TrackingEvent.objects.filter(shipment=silk_parcel).count() == 2


def test_shipping_straight_from_pending_packs_too(client, silk_user, silk_parcel):
    client.force_login(silk_user)
    client.post(ship_url(silk_parcel), {"tracking_number": "SIM0000001", "carrier": "simulated"})
    assert state(silk_parcel) == (Status.SHIPPED, "simulated", "SIM0000001", 2)


@pytest.mark.parametrize(
    ("number", "carrier", "message"),
    [
        ("EA 123456789CN", "simulated", "A tracking number cannot contain spaces."),
        ("EA123456789CN ", "simulated", "A tracking number cannot contain spaces."),
        ("EA123\x1b456789CN", "simulated", "A tracking number cannot contain control or invisible characters."),
        ("EA123456789CN\t", "simulated", "A tracking number cannot contain control or invisible characters."),
        ("EA123\x00456789CN", "simulated", "Null characters are not allowed."),  # Django's own check
        ("EA123\u200b456789CN", "simulated", "A tracking number cannot contain control or invisible characters."),
        ("EA1", "simulated", "A tracking number has 6 to 40 characters; this one has 3."),
        ("", "simulated", "This field is required."),
        ("EA123456789CN", "pigeon", "Select a valid choice. pigeon is not one of the available choices."),
    ],
)
def test_bad_input_rerenders_the_form_and_saves_nothing(client, silk_user, silk_parcel, number, carrier, message):
    client.force_login(silk_user)
    before = state(silk_parcel)
    response = client.post(ship_url(silk_parcel), {"tracking_number": number, "carrier": carrier})
    assert response.status_code == 400
    html = response.content.decode()
    assert message in errors(html)
    assert 'data-testid="ship-form"' in html
    assert state(silk_parcel) == before


def test_another_number_for_a_shipped_parcel_is_refused(client, silk_user, silk_parcel):
    client.force_login(silk_user)
    client.post(ship_url(silk_parcel), {"tracking_number": "EA123456789CN", "carrier": "simulated"})
    shipped = state(silk_parcel)
    response = client.post(ship_url(silk_parcel), {"tracking_number": "EA999999999CN", "carrier": "simulated"})
    assert response.status_code == 400
    assert errors(response.content.decode()) == ["A shipment that is Shipped cannot become Shipped."]
    assert state(silk_parcel) == shipped


def test_a_tracking_number_used_by_another_parcel_is_refused(client, world, silk_user, silk_parcel):
    other = create_shipment(warehouse=world.cn_origin, destination_country="FR", items=ITEMS)
    client.force_login(silk_user)
    client.post(ship_url(other), {"tracking_number": "EA123456789CN", "carrier": "simulated"})
    response = client.post(ship_url(silk_parcel), {"tracking_number": "EA123456789CN", "carrier": "simulated"})
    assert response.status_code == 400
    assert errors(response.content.decode()) == ["Tracking number EA123456789CN is already used by another shipment."]
    assert state(silk_parcel) == (Status.PENDING, "simulated", "", 0)


def test_the_owner_sees_the_commercial_invoice(client, silk_user, silk_parcel):
    client.force_login(silk_user)
    response = client.get(invoice_url(silk_parcel))
    assert response.status_code == 200
    assert response.content.decode().count('data-testid="invoice-line"') == 2


def test_staff_keep_the_commercial_invoice(client, silk_parcel, frankfurt_parcel):
    client.force_login(User.objects.create_superuser("ops@example.com", None))
    assert client.get(invoice_url(silk_parcel)).status_code == 200
    assert client.get(invoice_url(frankfurt_parcel)).status_code == 200


def test_another_seller_gets_404_everywhere(client, olive_user, silk_parcel):
    client.force_login(olive_user)
    before = state(silk_parcel)
    assert client.post(pack_url(silk_parcel)).status_code == 404
    data = {"tracking_number": "EA123456789CN", "carrier": "simulated"}
    assert client.post(ship_url(silk_parcel), data).status_code == 404
    assert client.get(invoice_url(silk_parcel)).status_code == 404
    assert str(silk_parcel.pk) not in re.findall(r'data-shipment="(\d+)"', client.get(LIST).content.decode())
    assert state(silk_parcel) == before


def test_an_overseas_warehouse_shipment_is_the_operators(client, silk_user, frankfurt_parcel):
    client.force_login(silk_user)
    before = state(frankfurt_parcel)
    assert client.post(pack_url(frankfurt_parcel)).status_code == 404
    data = {"tracking_number": "EA123456789CN", "carrier": "simulated"}
    assert client.post(ship_url(frankfurt_parcel), data).status_code == 404
    assert client.get(invoice_url(frankfurt_parcel)).status_code == 404
    assert state(frankfurt_parcel) == before


def test_a_buyer_gets_403_and_anonymous_the_login_page(client, silk_parcel):
    data = {"tracking_number": "EA123456789CN", "carrier": "simulated"}
    for response in (client.get(LIST), client.post(pack_url(silk_parcel)), client.post(ship_url(silk_parcel), data)):
        assert response.status_code == 302 and response["Location"].startswith("/en/accounts/login/")
    assert client.get(invoice_url(silk_parcel)).status_code == 404
    client.force_login(User.objects.create_user("buyer@example.com", "x"))
    assert client.get(LIST).status_code == 403
    assert client.post(pack_url(silk_parcel)).status_code == 403
    assert client.post(ship_url(silk_parcel), data).status_code == 403
    assert client.get(invoice_url(silk_parcel)).status_code == 404
    assert state(silk_parcel) == (Status.PENDING, "simulated", "", 0)


def test_get_is_not_an_action(client, silk_user, silk_parcel):
    client.force_login(silk_user)
    assert client.get(pack_url(silk_parcel)).status_code == 405
    assert client.get(ship_url(silk_parcel)).status_code == 405
    assert state(silk_parcel) == (Status.PENDING, "simulated", "", 0)
