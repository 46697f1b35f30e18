"""Shipments: packing and shipping are idempotent; bad tracking numbers and declarations are
refused with a clear message and nothing saved (services, admin, database); the commercial
invoice page is for staff only."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from io import StringIO

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone
from djmoney.money import Money

from logistics import demo_shipments
from logistics.customs import customs_rules
from logistics.exceptions import (
    InvalidCustomsDeclaration,
    InvalidShipmentTransition,
    InvalidTrackingNumber,
    TrackingNumberTaken,
    UnknownCarrier,
)
from logistics.models import DutyRate, Shipment, TrackingEvent
from logistics.shipments import commercial_invoice, create_shipment, declare_customs, mark_packed, mark_shipped
from marketplace import demo as market_demo
from marketplace.models import Market, User

from .tracking_helpers import ITEMS, item, warehouse

Status = Shipment.Status
pytestmark = pytest.mark.django_db


@pytest.fixture
def shipment() -> Shipment:
    return create_shipment(
        warehouse=warehouse(),
        destination_country="DE",
        items=ITEMS,
        order_number="ORD-2001",
        incoterm="DAP",
        shipping_cost=Money("9.90", "USD"),
        recipient_name="Erika Mustermann",
        recipient_address="Musterstraße 1\n10115 Berlin",
    )


@pytest.fixture
def operator() -> User:
    return User.objects.create_superuser("ops@example.com", None)


def state(shipment: Shipment) -> tuple:
    shipment.refresh_from_db()
    return shipment.status, shipment.tracking_number, shipment.events.count()


# --- Packing and shipping ----------------------------------------------------------------------


def test_pack_then_ship_records_the_timeline_and_is_idempotent(shipment):
    # given a pending shipment
    assert state(shipment) == (Status.PENDING, "", 0)

    # when packed twice and shipped twice with the same number (lower case is upper-cased)
    mark_packed(shipment)
    mark_packed(shipment)
    first = mark_shipped(shipment, tracking_number="ea123456789cn")
    again = mark_shipped(shipment, tracking_number="EA123456789CN")

    # then it is shipped once, with one "packed" and one "shipped" event
    assert first.pk == again.pk
    assert state(shipment) == (Status.SHIPPED, "EA123456789CN", 2)
    assert list(shipment.events.values_list("key", "status", "source")) == [
        ("packed", "packed", "operator"),
        ("shipped", "shipped", "operator"),
    ]
    assert shipment.shipped_at is not None and shipment.packed_at <= shipment.shipped_at
    # packing a shipped parcel changes nothing
    assert mark_packed(shipment).status == Status.SHIPPED


def test_shipping_straight_from_pending_packs_it_too(shipment):
    mark_shipped(shipment, tracking_number="1Z999AA10123456784")
    shipment.refresh_from_db()
    assert shipment.packed_at is not None
    assert list(shipment.events.values_list("key", flat=True)) == ["packed", "shipped"]


def test_a_shipped_parcel_keeps_its_number_and_numbers_are_unique_per_carrier(shipment):
    mark_shipped(shipment, tracking_number="EA123456789CN")
    with pytest.raises(InvalidShipmentTransition):
        mark_shipped(shipment, tracking_number="EA000000000CN")
    other = create_shipment(warehouse=warehouse(), destination_country="FR", items=ITEMS)
    with pytest.raises(TrackingNumberTaken) as taken:
        mark_shipped(other, tracking_number="EA123456789CN")
    assert "EA123456789CN" in taken.value.message
    assert state(other) == (Status.PENDING, "", 0)
    with pytest.raises(UnknownCarrier):
        mark_shipped(other, tracking_number="EA123456780CN", carrier="pigeon")
    assert state(other) == (Status.PENDING, "", 0)


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("EA 123456789CN", "cannot contain spaces"),
        ("EA123456789CN ", "cannot contain spaces"),
        ("EA\u00a0123456789CN", "cannot contain spaces"),
        ("EA\t123456789CN", "control or invisible characters"),
        ("EA123456789CN\n", "control or invisible characters"),
        ("EA123\x00456789CN", "control or invisible characters"),
        ("EA123\u200b456789CN", "control or invisible characters"),
        ("EA123\u202e456789CN", "control or invisible characters"),
        ("AB123", "6 to 40 characters; this one has 5"),
        ("A" * 41, "6 to 40 characters; this one has 41"),
        ("", "6 to 40 characters; this one has 0"),
        ("EA#123456789", "capital letters A–Z, digits and hyphens"),
        ("ЕА123456789CN", "capital letters A–Z, digits and hyphens"),  # Cyrillic look-alikes
    ],
)
def test_a_bad_tracking_number_is_refused_clearly_and_nothing_is_saved(shipment, number, message):
    before = state(shipment)
    with pytest.raises(InvalidTrackingNumber) as refused:
        mark_shipped(shipment, tracking_number=number)
    assert message in refused.value.message
    assert refused.value.code == "invalid_tracking_number"
    assert state(shipment) == before == (Status.PENDING, "", 0)


def test_the_database_refuses_a_bad_tracking_number_or_a_shipped_parcel_without_one(shipment):
    for values in ({"tracking_number": "EA 123456"}, {"tracking_number": "ea123456"}, {"status": Status.SHIPPED}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Shipment.objects.filter(pk=shipment.pk).update(**values)
    assert state(shipment) == (Status.PENDING, "", 0)


def test_the_database_keeps_one_event_per_key(shipment):
    mark_shipped(shipment, tracking_number="EA123456789CN")
    with pytest.raises(IntegrityError), transaction.atomic():
        TrackingEvent.objects.create(
            shipment=shipment, key="shipped", status="shipped", occurred_at=timezone.now(), source="operator"
        )


# --- Customs declaration -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([item("", "670420", 1, "10")], "Item 1, description"),
        ([item("Wig", "6704.20", 1, "10")], "Item 1, hs_code"),
        ([item("Wig", "670420", 0, "10")], "Item 1, quantity"),
        ([item("Wig", "670420", 1, "-5")], "Item 1, value"),
        ([item("Wig", "670420", 1, "abc")], "Item 1, value"),
        ([item("Wig", "670420", 1, "10", "XXX")], "Item 1, currency"),
        ([item("Wig", "670420", 1, "10") | {"origin": "ZZ"}], "Item 1, origin: ZZ is not a country code"),
        ([item("Wig", "670420", 1, "10"), item("Cap", "650500", 1, "5", "EUR")], "same currency"),
        ({"not": "a list"}, "list of items"),
    ],
)
def test_a_bad_declaration_is_refused_and_the_old_one_kept(shipment, items, message):
    before = shipment.customs_items
    with pytest.raises(InvalidCustomsDeclaration) as refused:
        declare_customs(shipment, items=items)
    assert message in refused.value.message
    shipment.refresh_from_db()
    assert shipment.customs_items == before


def test_a_declaration_is_fixed_once_the_parcel_has_left(shipment):
    declare_customs(shipment, items=[item("Wig", "670420", 3, "50")])
    mark_shipped(shipment, tracking_number="EA123456789CN")
    with pytest.raises(InvalidCustomsDeclaration, match="once the parcel has left"):
        declare_customs(shipment, items=ITEMS)


def test_commercial_invoice_totals(shipment):
    invoice = commercial_invoice(shipment)
    # 2 x 60.00 + 1 x 12.50 = 132.50; freight 9.90 (same currency) -> 142.40
    assert [line.total.amount for line in invoice.lines] == [Decimal("120.00"), Decimal("12.50")]
    assert (invoice.goods_total, invoice.shipping, invoice.total) == (
        Money("132.50", "USD"),
        Money("9.90", "USD"),
        Money("142.40", "USD"),
    )
    assert invoice.number == f"CI-{shipment.pk:06d}" and invoice.total_quantity == 3


# --- Pages and admin ---------------------------------------------------------------------------


def test_the_commercial_invoice_page_is_for_staff_only(client: Client, shipment, operator):
    url = f"/en/shipments/{shipment.pk}/commercial-invoice/"
    assert client.get(url).status_code == 404  # anonymous
    client.force_login(User.objects.create_user("buyer@example.com"))
    assert client.get(url).status_code == 404  # a buyer
    client.force_login(operator)
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('data-testid="invoice-line"') == 2
    assert 'data-testid="invoice-total" data-amount="142.40" data-currency="USD"' in html
    assert "Erika Mustermann" in html and "670420" in html
    assert client.get(f"/en/shipments/{shipment.pk + 999}/commercial-invoice/").status_code == 404
    # in another language, the page is translated around the same figures
    german = client.get(f"/de/shipments/{shipment.pk}/commercial-invoice/")
    assert german.status_code == 200 and 'data-amount="142.40"' in german.content.decode()


def admin_form(shipment: Shipment, **changes: str) -> dict[str, str]:
    data = {
        "order_number": shipment.order_number,
        "warehouse": str(shipment.warehouse_id),
        "destination_country": str(shipment.destination_country),
        "recipient_name": shipment.recipient_name,
        "recipient_address": shipment.recipient_address,
        "method": "",
        "incoterm": shipment.incoterm,
        "shipping_cost_0": "9.90",
        "shipping_cost_1": "USD",
        "carrier": shipment.carrier,
        "tracking_number": "",
        "customs_items": json.dumps(shipment.customs_items),
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
        "events-MIN_NUM_FORMS": "0",
        "events-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return data


def test_admin_refuses_a_tracking_number_with_spaces_and_ships_with_a_good_one(client: Client, shipment, operator):
    client.force_login(operator)
    url = f"/admin/logistics/shipment/{shipment.pk}/change/"
    assert client.get(url).status_code == 200

    refused = client.post(url, admin_form(shipment, tracking_number="EA 1234 5678"))
    assert refused.status_code == 200
    assert "A tracking number cannot contain spaces." in refused.content.decode()
    assert state(shipment) == (Status.PENDING, "", 0)

    refused = client.post(url, admin_form(shipment, tracking_number="EA1234\x075678"))
    assert "control or invisible characters" in refused.content.decode()
    assert state(shipment) == (Status.PENDING, "", 0)

    shipped = client.post(url, admin_form(shipment, tracking_number="ea12345678"))
    assert shipped.status_code == 302
    assert state(shipment) == (Status.SHIPPED, "EA12345678", 2)


def test_admin_refuses_a_bad_declaration(client: Client, shipment, operator):
    client.force_login(operator)
    url = f"/admin/logistics/shipment/{shipment.pk}/change/"
    bad = json.dumps([item("Wig", "67", 1, "10")])
    response = client.post(url, admin_form(shipment, customs_items=bad))
    assert response.status_code == 200 and "Item 1, hs_code" in response.content.decode()
    shipment.refresh_from_db()
    assert shipment.customs_items == json.loads(json.dumps(ITEMS))


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"country": "XX"}, "Select a valid choice"),
        ({"hs_prefix": "67.04"}, "An HS prefix is up to 10 digits"),
        ({"rate": "-1"}, "greater than or equal to 0"),
    ],
)
def test_admin_refuses_bad_duty_rates(client: Client, operator, changes, error):
    client.force_login(operator)
    data = {
        "country": "DE",
        "hs_prefix": "6704",
        "description": "Wigs",
        "rate": "2.2",
        "per_item_fee_0": "",
        "per_item_fee_1": "EUR",
        "source": "TARIC",
        "verified_on": "2026-11-01",
        "tiers-TOTAL_FORMS": "0",
        "tiers-INITIAL_FORMS": "0",
        "tiers-MIN_NUM_FORMS": "0",
        "tiers-MAX_NUM_FORMS": "1000",
    } | changes
    response = client.post("/admin/logistics/dutyrate/add/", data)
    assert response.status_code == 200
    assert re.search(re.escape(error), response.content.decode())
    assert DutyRate.objects.count() == 0
    ok = client.post("/admin/logistics/dutyrate/add/", data | {"country": "DE", "hs_prefix": "6704", "rate": "2.2"})
    assert ok.status_code == 302 and DutyRate.objects.count() == 1


def test_demo_customs_and_shipments_cover_every_status_and_seed_twice_the_same(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    market_demo.seed(StringIO())
    warehouse()  # a seller's origin warehouse in CN
    out = StringIO()
    demo_shipments.seed(out)
    assert "demo shipments: 10" in out.getvalue()
    counts = (Shipment.objects.count(), TrackingEvent.objects.count(), DutyRate.objects.count())
    statuses = dict(Shipment.objects.values_list("order_number", "status"))
    assert sorted(statuses.values()) == sorted(Status.values)
    assert all(number == f"DEMO-SHIP-{status}" for number, status in statuses.items())

    demo_shipments.seed(StringIO())
    assert (Shipment.objects.count(), TrackingEvent.objects.count(), DutyRate.objects.count()) == counts
    # every seeded market has rules and a default duty rate
    for market in Market.objects.all():
        assert "" in customs_rules(str(market.country)).rates


def test_admin_lists_and_pages_render(client: Client, operator, shipment):
    market_demo.seed(StringIO())
    demo_shipments.seed(StringIO())
    client.force_login(operator)
    delivered = Shipment.objects.get(order_number="DEMO-SHIP-delivered")
    rate = DutyRate.objects.get(country="BR", hs_prefix="")
    for url in (
        "/admin/logistics/shipment/",
        "/admin/logistics/shipment/?status__exact=exception",
        f"/admin/logistics/shipment/{delivered.pk}/change/",
        "/admin/logistics/shipment/add/",
        "/admin/logistics/dutyrate/",
        f"/admin/logistics/dutyrate/{rate.pk}/change/",
        "/admin/logistics/marketcustomsrule/",
        f"/admin/logistics/marketcustomsrule/{Market.objects.get(country='GB').customs_rule.pk}/change/",
    ):
        assert client.get(url).status_code == 200, url
    # the delivered shipment's page shows its timeline, read-only
    page = client.get(f"/admin/logistics/shipment/{delivered.pk}/change/").content.decode()
    assert "Delivered" in page and "sim-DLV" in page
    # packing from the list
    response = client.post(
        "/admin/logistics/shipment/", {"action": "pack_selected", "_selected_action": [shipment.pk]}, follow=True
    )
    assert response.status_code == 200
    shipment.refresh_from_db()
    assert shipment.status == Status.PACKED
