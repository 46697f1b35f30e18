"""Refunds in the admin: per line or by amount, with a reason, optionally restocking; bad input is
a clear error and changes nothing; the buyer sees the refund; the payments admin is read-only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from logistics.models import Stock, StockAdjustment
from orders.models import Order, OrderLine, StockReservation
from payments.admin import PaymentEventInline
from payments.base import ProviderResult
from payments.models import LedgerEntry, Payment, PaymentEvent, Refund
from tests.catalog.factories import UserFactory

from .money_world import pay, place, ship, shipments

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(db: None) -> Any:
    return UserFactory(email="operator@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def paid(shop, buyer, scripted, django_capture_on_commit_callbacks) -> Payment:
    order = place(buyer, [(shop["wig"], 3), (shop["oil"], 2)])  # EUR 12.50 x 3 + EUR 100 x 2
    return pay(order, django_capture_on_commit_callbacks)


def line(payment: Payment, sku: str) -> OrderLine:
    return payment.order.lines.get(sku=sku)


def stock(shop: dict[str, Any], name: str) -> tuple[int, int]:
    row = Stock.objects.get(pk=shop["stocks"][name].pk)
    return row.on_hand, row.allocated


def refund_url(payment: Payment) -> str:
    return reverse("admin:payments_payment_refund", args=[payment.pk])


def post(client: Any, payment: Payment, oncommit: Any, **fields: Any) -> Any:
    data = {"reason": "damaged", "currency": "EUR", "amount": "", "key": "k-1"}
    data.update({k: v for k, v in fields.items() if not k.startswith("line_")})
    for name, value in fields.items():
        if name.startswith("line_"):
            data[f"line_{line(payment, name[5:].replace('_', '-')).pk}"] = value  # line_wig_0: SKU wig-0
    data = {k: v for k, v in data.items() if v is not None}
    with oncommit(execute=True):
        return client.post(refund_url(payment), data)


def test_the_refund_page_shows_what_can_be_refunded(client, operator, paid):
    client.force_login(operator)
    page = client.get(refund_url(paid))
    assert page.status_code == 200
    assert f'data-testid="refundable" data-amount="{paid.captured.amount:.2f}"'.encode() in page.content
    assert f'name="line_{line(paid, "wig-0").pk}"'.encode() in page.content


def test_refund_one_unit_of_a_line_with_restock_before_shipping(
    client, operator, paid, shop, django_capture_on_commit_callbacks
):
    client.force_login(operator)
    wig = line(paid, "wig-0")
    assert stock(shop, "wig") == (10, 3)
    response = post(client, paid, django_capture_on_commit_callbacks, line_wig_0="1", restock="on")
    assert response.status_code == 302
    refund = Refund.objects.get()
    assert refund.amount == Money("12.50", "EUR") and refund.reason == "damaged"
    assert refund.lines == [{"id": wig.pk, "quantity": 1}] and refund.restock and refund.restocked_at
    assert refund.created_by == operator and refund.state == Refund.State.SUCCEEDED
    paid.refresh_from_db()
    assert paid.state == Payment.State.PARTIALLY_REFUNDED and paid.refunded == Money("12.50", "EUR")
    # the unit never left: its reservation lets go of it
    assert stock(shop, "wig") == (10, 2)
    assert StockReservation.objects.get(order_line=wig).quantity == 2
    # the seller gives the sale back (converted at the locked rate) and gets the commission back
    entries = {e.kind: e for e in LedgerEntry.objects.filter(refund=refund, seller=shop["world"].silk)}
    assert entries["refund"].amount == Money("-100", "CNY") and entries["refund"].buyer_amount == Money("-12.50", "EUR")
    assert entries["commission_refund"].amount == Money("10", "CNY")


def test_refund_with_restock_after_shipping_returns_the_units_to_on_hand(
    client, operator, paid, shop, django_capture_on_commit_callbacks
):
    ship(shipments(paid.order)[0], django_capture_on_commit_callbacks)  # the 3 wigs left Frankfurt
    assert stock(shop, "wig") == (7, 0)
    client.force_login(operator)
    post(client, paid, django_capture_on_commit_callbacks, line_wig_0="2", restock="on", reason="returned")
    assert stock(shop, "wig") == (9, 0)
    adjustment = StockAdjustment.objects.get(reason="returned")
    assert adjustment.quantity == 2 and adjustment.stock_id == shop["stocks"]["wig"].pk
    # a second refund of the last unit, no restock: stock unchanged
    post(client, paid, django_capture_on_commit_callbacks, line_wig_0="1", key="k-2")
    assert stock(shop, "wig") == (9, 0)
    assert Refund.objects.count() == 2


def test_refund_by_amount(client, operator, paid, django_capture_on_commit_callbacks):
    client.force_login(operator)
    response = post(client, paid, django_capture_on_commit_callbacks, amount="10.005", reason="late delivery")
    assert response.status_code == 302
    refund = Refund.objects.get()
    assert refund.amount == Money("10.01", "EUR") and refund.lines == [] and not refund.restock


def test_refund_everything_that_is_left(client, operator, paid, django_capture_on_commit_callbacks):
    client.force_login(operator)
    post(client, paid, django_capture_on_commit_callbacks, amount=f"{paid.captured.amount}")
    paid.refresh_from_db()
    assert paid.state == Payment.State.REFUNDED and paid.refundable == Money("0", "EUR")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"amount": "100000"}, b"can still be refunded"),
        ({"amount": "0"}, b"more than zero"),
        ({"amount": "-5"}, b"more than zero"),
        ({"amount": "5", "currency": "USD"}, b"must be in EUR"),
        ({"line_wig_0": "4"}, b"can still be refunded"),
        ({"amount": "5", "restock": "on"}, b"units to put back in stock"),
        ({"amount": "5", "reason": ""}, b"required"),
        ({}, b"Give an amount"),
    ],
)
def test_bad_input_is_a_clear_error_and_changes_nothing(
    client, operator, paid, shop, django_capture_on_commit_callbacks, fields, message
):
    client.force_login(operator)
    events = paid.events.count()
    response = post(client, paid, django_capture_on_commit_callbacks, **fields)
    assert response.status_code == 400
    assert b'data-testid="form-error"' in response.content and message in response.content
    assert not Refund.objects.exists()
    paid.refresh_from_db()
    assert paid.refunded == Money("0", "EUR") and paid.state == Payment.State.CAPTURED
    assert paid.events.count() == events
    assert stock(shop, "wig") == (10, 3)


def test_more_units_than_are_left_after_an_earlier_refund(client, operator, paid, django_capture_on_commit_callbacks):
    client.force_login(operator)
    post(client, paid, django_capture_on_commit_callbacks, line_wig_0="2")
    response = post(client, paid, django_capture_on_commit_callbacks, line_wig_0="2", key="k-2")
    assert response.status_code == 400 and b"Only 1 units" in response.content
    assert Refund.objects.count() == 1


def test_a_double_submit_refunds_once(client, operator, paid, scripted, django_capture_on_commit_callbacks):
    client.force_login(operator)
    post(client, paid, django_capture_on_commit_callbacks, amount="20")
    post(client, paid, django_capture_on_commit_callbacks, amount="20")  # same form key
    assert Refund.objects.count() == 1
    assert [name for name, _ in scripted.calls].count("refund") == 1
    paid.refresh_from_db()
    assert paid.refunded == Money("20", "EUR")


def test_a_provider_refusal_is_shown_and_nothing_is_refunded(
    client, operator, paid, scripted, django_capture_on_commit_callbacks
):
    scripted.answers["refund"] = ProviderResult(state="failed", failure_message="closed")
    client.force_login(operator)
    response = client.get(refund_url(paid))
    assert response.status_code == 200
    post(client, paid, django_capture_on_commit_callbacks, amount="20")
    paid.refresh_from_db()
    assert paid.refunded == Money("0", "EUR") and Refund.objects.get().state == Refund.State.FAILED
    assert not LedgerEntry.objects.filter(refund__isnull=False).exists()


def test_only_operators_with_the_permission_refund(client, paid, django_capture_on_commit_callbacks):
    assert client.get(refund_url(paid)).status_code == 302  # anonymous: the admin login
    client.force_login(UserFactory())  # a buyer
    assert client.post(refund_url(paid), {"amount": "5"}).status_code == 302
    client.force_login(UserFactory(is_staff=True))  # staff without the refund permission
    assert (
        client.post(refund_url(paid), {"amount": "5", "reason": "x", "currency": "EUR", "key": "z"}).status_code == 403
    )
    assert not Refund.objects.exists()


def test_the_buyer_sees_the_refund_on_the_order_page(client, operator, buyer, paid, django_capture_on_commit_callbacks):
    client.force_login(operator)
    post(client, paid, django_capture_on_commit_callbacks, line_oil_0="1", reason="broken bottle")
    client.force_login(buyer)
    page = client.get(reverse("orders:order-detail", args=[paid.order.number]))
    assert b'data-testid="order-refunds"' in page.content and b"broken bottle" in page.content
    assert b'data-testid="refund-amount" data-amount="100.00" data-currency="EUR"' in page.content


# --- The payments admin --------------------------------------------------------------------------------


def test_payments_list_filters_by_state_method_and_reconciliation(
    client, operator, shop, buyer, scripted, django_capture_on_commit_callbacks
):
    settled = pay(place(buyer, [(shop["oil"], 1)]), django_capture_on_commit_callbacks)
    scripted.answers["start"] = ProviderResult(state="pending")
    waiting = pay(place(buyer, [(shop["wig"], 1)]), django_capture_on_commit_callbacks, capture=False)
    Payment.objects.filter(pk=waiting.pk).update(updated_at=timezone.now() - timedelta(hours=2))
    client.force_login(operator)
    changelist = reverse("admin:payments_payment_changelist")

    def numbers(query: str) -> set[str]:
        content = client.get(changelist + query).content.decode()
        return {n for n in (settled.order.number, waiting.order.number) if n in content}

    assert numbers("") == {settled.order.number, waiting.order.number}
    assert numbers("?reconciliation=stale") == {waiting.order.number}
    assert numbers("?reconciliation=settled") == {settled.order.number}
    assert numbers("?state__exact=captured") == {settled.order.number}
    assert numbers("?method__exact=scripted") == {settled.order.number, waiting.order.number}
    Payment.objects.filter(pk=waiting.pk).update(updated_at=timezone.now())
    assert numbers("?reconciliation=stale") == set()


def test_a_payment_and_its_event_log_are_read_only(client, operator, paid):
    client.force_login(operator)
    change = reverse("admin:payments_payment_change", args=[paid.pk])
    page = client.get(change)
    assert page.status_code == 200
    assert b"Event log (append-only)" in page.content and b'data-testid="refund-link"' in page.content
    events = PaymentEvent.objects.filter(payment=paid).count()
    assert client.post(change, {"state": "refunded"}).status_code == 403
    assert client.get(reverse("admin:payments_payment_delete", args=[paid.pk])).status_code == 403
    paid.refresh_from_db()
    assert paid.state == Payment.State.CAPTURED and PaymentEvent.objects.filter(payment=paid).count() == events
    from django.contrib import admin

    inline = PaymentEventInline(Payment, admin.site)
    assert not inline.has_add_permission(None) and not inline.has_change_permission(None)
    assert not inline.has_delete_permission(None)
    for name in ("refund", "providerevent", "ledgerentry"):
        assert client.get(reverse(f"admin:payments_{name}_changelist")).status_code == 200
        assert client.get(reverse(f"admin:payments_{name}_add")).status_code == 403


def test_an_order_cancelled_payment_is_not_offered_a_refund(client, operator, paid, django_capture_on_commit_callbacks):
    from orders.cancellation import cancel_order

    with django_capture_on_commit_callbacks(execute=True):
        cancel_order(paid.order)
    assert Order.objects.get(pk=paid.order_id).status == Order.Status.CANCELLED
    client.force_login(operator)
    page = client.get(reverse("admin:payments_payment_change", args=[paid.pk]))
    assert b'data-testid="refund-link"' not in page.content
    response = post(client, paid, django_capture_on_commit_callbacks, amount="1", key="after")
    assert response.status_code == 400 and Refund.objects.count() == 1
