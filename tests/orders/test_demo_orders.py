"""Demo orders (orders.demo_orders.seed): past orders for the demo buyers in several currencies and
statuses, made by the real services, consistent with stock and shipments, idempotent next to the
other apps' seeds, and sending no e-mail."""

from __future__ import annotations

from collections import Counter
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db.models import Sum

from logistics.models import Shipment, Stock, StockAdjustment, TrackingEvent
from orders.demo_orders import ORDERS, seed
from orders.models import Order, OrderEvent, OrderNotification, StockReservation

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def stock_levels() -> list[tuple[int, int, int]]:
    return list(Stock.objects.order_by("pk").values_list("pk", "on_hand", "allocated"))


@pytest.fixture
def demo(settings: Any, mailoutbox, django_capture_on_commit_callbacks, monkeypatch) -> str:
    settings.DEBUG = True
    monkeypatch.setattr("orders.demo.seed", lambda stdout=None: None)  # the orders app's part comes next, alone
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())  # markets, users, catalog, warehouses, stock
    monkeypatch.undo()
    before = stock_levels()
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        seed(out)
    return out.getvalue(), before


def test_demo_orders_in_several_currencies_and_statuses(demo, mailoutbox):
    report, _before = demo
    assert report.startswith(f"demo orders: {len(ORDERS)} ({len(ORDERS)} new)") and "skipped" not in report
    orders = {o.checkout.cart.token: o for o in Order.objects.select_related("checkout__cart")}
    assert len(orders) == len(ORDERS)
    seen = Counter((o.currency, o.status) for o in orders.values())
    assert {"EUR", "JPY", "BRL", "USD", "AED", "MXN"} <= {currency for currency, _ in seen}
    assert {"delivered", "shipped", "confirmed", "cancelled", "fulfilling"} <= {status for _, status in seen}
    by_key = {o.checkout.cart.token: o for o in orders.values()}
    assert len(by_key) == len(ORDERS)
    languages = dict(Order.objects.values_list("currency", "language"))
    assert languages["JPY"] == "ja" and languages["AED"] == "ar" and languages["BRL"] == "pt-br"
    assert mailoutbox == []  # past orders: their e-mails are marked sent, none goes out now
    assert OrderNotification.objects.filter(sent_at__isnull=True).count() == 0


def test_orders_agree_with_shipments_stock_and_timeline(demo):
    for order in Order.objects.prefetch_related("sub_orders", "lines"):
        shipments = list(Shipment.objects.filter(order_number=order.number))
        assert shipments, order.number
        events = OrderEvent.objects.filter(order=order).order_by("occurred_at", "pk")
        kinds = list(events.values_list("kind", flat=True))
        assert kinds[0] == "confirmed" and order.created_at < events.first().occurred_at
        reserved = StockReservation.objects.filter(order_line__order=order, released_at=None)
        if order.status == "delivered":
            assert all(s.status == "delivered" for s in shipments)
            assert kinds == ["confirmed", "fulfilling", "shipped", "delivered"]
            assert not reserved.exists()  # the units left with the parcels
            assert {s.status for s in order.sub_orders.all()} == {"delivered"}
        elif order.status == "shipped":
            assert all(s.tracking_number and s.shipped_at for s in shipments)
            assert TrackingEvent.objects.filter(shipment__in=shipments, source="poll").exists()
            assert kinds == ["confirmed", "fulfilling", "shipped"]
            assert not reserved.exists()
        elif order.status == "cancelled":
            assert all(s.status == "cancelled" for s in shipments)
            assert not reserved.exists() and kinds == ["confirmed", "cancelled"]
        elif order.status == "fulfilling":
            assert {s.status for s in shipments} >= {"packed"}
            assert reserved.aggregate(n=Sum("quantity"))["n"] == sum(line.quantity for line in order.lines.all())
        else:
            assert order.status == "confirmed" and kinds == ["confirmed"]
            assert all(s.status == "pending" for s in shipments)
            assert reserved.aggregate(n=Sum("quantity"))["n"] == sum(line.quantity for line in order.lines.all())


def test_stock_accounts_for_every_unit(demo):
    _report, before = demo
    before = {pk: (on_hand, allocated) for pk, on_hand, allocated in before}
    after = {pk: (on_hand, allocated) for pk, on_hand, allocated in stock_levels()}
    held = Counter()
    for stock_id, quantity in StockReservation.objects.filter(released_at=None).values_list("stock_id", "quantity"):
        held[stock_id] += quantity
    for pk, (on_hand, allocated) in after.items():
        assert allocated == before[pk][1] + held[pk], pk  # open orders hold exactly their units
        assert on_hand == before[pk][0], pk  # shipped units were taken out and replenished
        assert 0 <= allocated <= on_hand
    shipped = StockAdjustment.objects.filter(reason="shipped").aggregate(n=Sum("quantity"))["n"]
    received = StockAdjustment.objects.filter(reason="received", note__startswith="demo data: replenished").aggregate(
        n=Sum("quantity")
    )["n"]
    assert shipped < 0 and received == -shipped


def test_seeding_again_changes_nothing(demo, settings, django_capture_on_commit_callbacks, monkeypatch):
    first = (counts(), stock_levels())
    out = StringIO()
    monkeypatch.setattr("orders.demo.seed", lambda stdout=None: None)  # as in the fixture: this seed alone
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())  # the other apps' seeds run again first
        seed(out)
    assert (counts(), stock_levels()) == first
    assert f"demo orders: {len(ORDERS)} (0 new)" in out.getvalue()
