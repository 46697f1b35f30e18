"""Cancelling an order before shipping: stock back to the unit, the payment cancelled or refunded
once, the order, sub-orders and parcels cancelled; after shipping, refused with a message."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from djmoney.money import Money

from logistics.models import Shipment, Stock
from orders.cancellation import AlreadyShipped, NotCancellable, can_cancel, cancel_order
from orders.models import Order, StockReservation
from orders.signals import order_cancelled
from payments.models import Payment, Refund
from tests.catalog.factories import UserFactory
from tests.payments.conftest import ScriptedMethod
from tests.payments.money_world import pay, place, ship, shipments

pytestmark = pytest.mark.django_db


def available(shop: dict[str, Any], name: str) -> tuple[int, int]:
    stock = Stock.objects.get(pk=shop["stocks"][name].pk)
    return stock.on_hand, stock.allocated


@pytest.fixture
def scripted(settings: Any) -> type[ScriptedMethod]:
    """The payments tests' scripted method (tests/payments/conftest.py)."""
    settings.PAYMENT_METHODS = {"scripted": "tests.payments.conftest.ScriptedMethod"}
    ScriptedMethod.calls = []
    ScriptedMethod.answers = {}
    return ScriptedMethod


@pytest.fixture
def two_seller_order(shop, buyer) -> Order:
    return place(buyer, [(shop["wig"], 3), (shop["oil"], 2)])  # Frankfurt and Milan: two parcels


@pytest.fixture
def cancelled_signals() -> Any:
    received: list[dict[str, Any]] = []
    order_cancelled.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="test-order-cancelled")
    yield received
    order_cancelled.disconnect(dispatch_uid="test-order-cancelled")


def test_cancel_a_paid_order_before_shipping_releases_stock_and_refunds_once(
    shop, two_seller_order, scripted, cancelled_signals, django_capture_on_commit_callbacks
):
    # given a captured order of 3 + 2 units
    order = two_seller_order
    payment = pay(order, django_capture_on_commit_callbacks)
    assert available(shop, "wig") == (10, 3) and available(shop, "oil") == (10, 2)
    assert can_cancel(order)
    # when the buyer cancels, twice (a double click)
    with django_capture_on_commit_callbacks(execute=True):
        first = cancel_order(order)
    with django_capture_on_commit_callbacks(execute=True):
        second = cancel_order(order)
    # then the stock is back to the unit
    assert available(shop, "wig") == (10, 0) and available(shop, "oil") == (10, 0)
    assert not StockReservation.objects.filter(order_line__order=order, released_at=None).exists()
    # the order, its sub-orders and its parcels are cancelled
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert set(order.sub_orders.values_list("status", flat=True)) == {Order.Status.CANCELLED}
    assert {s.status for s in shipments(order)} == {Shipment.Status.CANCELLED}
    # the money went back once, in full
    payment.refresh_from_db()
    assert Refund.objects.filter(payment=payment).count() == 1
    refund = Refund.objects.get(payment=payment)
    assert refund.amount == order.total and refund.state == Refund.State.SUCCEEDED
    assert payment.state == Payment.State.REFUNDED and payment.refunded == payment.captured
    assert [name for name, _ in scripted.calls].count("refund") == 1
    assert (first.cancelled_now, second.cancelled_now) == (True, False)
    assert first.refund == refund and second.refund == refund
    # and one announcement, after the commit
    assert [(s["order_id"], s["reason"]) for s in cancelled_signals] == [(order.pk, "buyer")]


def test_cancel_an_authorized_order_voids_the_payment_without_a_refund(
    shop, two_seller_order, scripted, django_capture_on_commit_callbacks
):
    payment = pay(two_seller_order, django_capture_on_commit_callbacks, capture=False)
    with django_capture_on_commit_callbacks(execute=True):
        result = cancel_order(two_seller_order)
    payment.refresh_from_db()
    assert payment.state == Payment.State.CANCELLED and result.refund is None
    assert not Refund.objects.exists()
    assert available(shop, "wig") == (10, 0)


def test_cancel_an_order_left_unpaid(shop, two_seller_order, cancelled_signals, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        result = cancel_order(two_seller_order)
    assert result.order.status == Order.Status.CANCELLED and result.payment is None
    assert available(shop, "oil") == (10, 0) and len(cancelled_signals) == 1


def test_after_a_parcel_left_cancelling_is_refused_and_nothing_changes(
    shop, two_seller_order, scripted, django_capture_on_commit_callbacks
):
    order = two_seller_order
    payment = pay(order, django_capture_on_commit_callbacks)
    ship(shipments(order)[0], django_capture_on_commit_callbacks)  # the Frankfurt parcel left
    before = (available(shop, "wig"), available(shop, "oil"))
    order.refresh_from_db()
    assert not can_cancel(order)
    with pytest.raises(AlreadyShipped):
        cancel_order(order)
    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.status != Order.Status.CANCELLED and payment.state == Payment.State.CAPTURED
    assert (available(shop, "wig"), available(shop, "oil")) == before
    assert {s.status for s in shipments(order)} == {Shipment.Status.SHIPPED, Shipment.Status.PENDING}
    assert not Refund.objects.exists()


def test_a_packed_parcel_has_not_left_yet(shop, two_seller_order, scripted, django_capture_on_commit_callbacks):
    from logistics.shipments import mark_packed

    pay(two_seller_order, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        mark_packed(shipments(two_seller_order)[0])
    with django_capture_on_commit_callbacks(execute=True):
        cancel_order(two_seller_order)
    assert Order.objects.get(pk=two_seller_order.pk).status == Order.Status.CANCELLED
    assert available(shop, "wig") == (10, 0)


def test_a_cancelled_parcel_cannot_be_shipped_by_the_seller(shop, two_seller_order, django_capture_on_commit_callbacks):
    from logistics.exceptions import ShipmentError
    from logistics.shipments import mark_shipped

    with django_capture_on_commit_callbacks(execute=True):
        cancel_order(two_seller_order)
    with pytest.raises(ShipmentError):
        mark_shipped(shipments(two_seller_order)[0], tracking_number="LATE-0001")


# --- The buyer's page and button ------------------------------------------------------------------


def test_the_buyer_cancels_from_the_order_page(
    client, shop, buyer, two_seller_order, scripted, django_capture_on_commit_callbacks
):
    payment = pay(two_seller_order, django_capture_on_commit_callbacks)
    client.force_login(buyer)
    page = client.get(reverse("orders:order-detail", args=[two_seller_order.number]))
    assert b'data-testid="cancel-order"' in page.content and b"confirm(" in page.content
    url = reverse("orders:order-cancel", args=[two_seller_order.number])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, follow=True)
    assert response.status_code == 200
    assert b'data-status="cancelled"' in response.content
    assert b'data-testid="cancel-order"' not in response.content
    # the refund is shown on the order page, to the cent
    assert b'data-testid="refund-amount"' in response.content
    assert f'data-amount="{payment.captured.amount:.2f}"'.encode() in response.content
    # a second click: one refund
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(url, follow=True)
    assert b"already cancelled" in again.content
    assert Refund.objects.count() == 1


def test_the_page_refuses_after_shipping_with_a_message(
    client, shop, buyer, two_seller_order, scripted, django_capture_on_commit_callbacks
):
    pay(two_seller_order, django_capture_on_commit_callbacks)
    ship(shipments(two_seller_order)[1], django_capture_on_commit_callbacks)
    client.force_login(buyer)
    page = client.get(reverse("orders:order-detail", args=[two_seller_order.number]))
    assert b'data-testid="cancel-order"' not in page.content
    response = client.post(reverse("orders:order-cancel", args=[two_seller_order.number]), follow=True)
    assert b'data-testid="form-error"' in response.content
    assert b"can no longer be cancelled" in response.content
    assert Order.objects.get(pk=two_seller_order.pk).status != Order.Status.CANCELLED


def test_a_delivered_order_is_not_cancellable(shop, two_seller_order):
    Order.objects.filter(pk=two_seller_order.pk).update(status=Order.Status.DELIVERED)
    two_seller_order.refresh_from_db()
    with pytest.raises(NotCancellable):
        cancel_order(two_seller_order)
    assert not can_cancel(two_seller_order)


def test_only_the_buyer_may_cancel(client, shop, two_seller_order):
    url = reverse("orders:order-cancel", args=[two_seller_order.number])
    assert client.post(url).status_code == 302  # anonymous: to the login page
    client.force_login(UserFactory())
    assert client.post(url).status_code == 404  # someone else's order
    client.force_login(two_seller_order.buyer)
    assert client.get(url).status_code == 405
    assert Order.objects.get(pk=two_seller_order.pk).status == Order.Status.PENDING_PAYMENT


def test_a_refund_provider_failure_keeps_the_order_cancelled_and_says_so(
    shop, two_seller_order, scripted, django_capture_on_commit_callbacks
):
    from payments.base import ProviderResult

    payment = pay(two_seller_order, django_capture_on_commit_callbacks)
    scripted.answers["refund"] = ProviderResult(state="failed", failure_message="card closed")
    with django_capture_on_commit_callbacks(execute=True):
        result = cancel_order(two_seller_order)
    assert result.order.status == Order.Status.CANCELLED and result.payment_error
    payment.refresh_from_db()
    assert payment.refunded == Money("0", "EUR")  # nothing counted as refunded
    assert available(shop, "wig") == (10, 0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_four_parallel_clicks_cancel_once_and_refund_once(shop, buyer, scripted):
    import threading

    from django.db import connection

    from payments.services import capture_payment, start_payment
    from tests.payments.money_world import context

    order = place(buyer, [(shop["wig"], 3), (shop["oil"], 2)])
    payment = start_payment(order, method_code="scripted", ctx=context(order, market=False), return_url="/r/")
    capture_payment(payment.pk)
    barrier = threading.Barrier(4)
    outcomes: list[tuple[bool, str]] = []

    def click() -> None:
        try:
            barrier.wait()
            result = cancel_order(Order.objects.get(pk=order.pk))
            outcomes.append((result.cancelled_now, result.payment_error))
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [(False, ""), (False, ""), (False, ""), (True, "")]
    assert Refund.objects.count() == 1 and Refund.objects.get().amount == order.total
    assert available(shop, "wig") == (10, 0) and available(shop, "oil") == (10, 0)
    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELLED
