"""Cash on delivery: who may use it (each rule both ways), its fee, capture when the carrier
delivers the last parcel, and the refused parcel that cancels the order and restocks it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from djmoney.money import Money

from logistics.models import Shipment, Stock, StockAdjustment, TrackingEvent
from logistics.shipments import create_shipment
from logistics.signals import shipment_refused
from logistics.tracking import poll_tracking
from marketplace.models import Market
from orders.models import Order
from payments.base import PaymentContext
from payments.methods.cod import CashOnDelivery, refused_recently
from payments.models import LedgerEntry, Payment, Refund
from payments.registry import get_method
from payments.services import refund_payment
from tests.catalog.factories import UserFactory

from .money_world import pay, place, refuse, ship, shipments

pytestmark = pytest.mark.django_db

COD = CashOnDelivery()


@pytest.fixture
def cod_market(shop: dict[str, Any]) -> Market:
    market = Market.objects.get(country="DE")
    market.payment_methods = ["cod"]
    market.cod_enabled = True
    market.cod_max = Money("200", "EUR")
    market.cod_fee = Money("3", "EUR")
    market.save()  # clears the cached markets
    return market


def ctx(market: Market | None, amount: str, currency: str = "EUR", **kwargs: Any) -> PaymentContext:
    kwargs.setdefault("all_shipments_domestic", True)
    country = kwargs.pop("country", "DE")
    return PaymentContext(market=market, country=country, currency=currency, amount=Money(amount, currency), **kwargs)


@pytest.fixture
def cod_order(shop: dict[str, Any], buyer: Any, cod_market: Market) -> Order:
    return place(buyer, [(shop["wig"], 2)])  # from the Frankfurt warehouse to Berlin: domestic


def stock(shop: dict[str, Any], name: str) -> Stock:
    return Stock.objects.get(pk=shop["stocks"][name].pk)


# --- Eligibility ----------------------------------------------------------------------------------


def test_the_registry_names_cash_on_delivery():
    method = get_method("cod")
    assert isinstance(method, CashOnDelivery) and method.kind == "cod" and method.code == "cod"


def test_offered_when_every_rule_holds(cod_market):
    assert COD.unavailable_reason(ctx(cod_market, "100", buyer_id=None)) is None


def test_not_offered_without_a_market_or_when_the_market_does_not_offer_it(cod_market):
    assert COD.unavailable_reason(ctx(None, "100")) is not None
    cod_market.payment_methods = ["card"]
    cod_market.save()
    assert "Not offered" in COD.unavailable_reason(ctx(cod_market, "100"))


def test_not_offered_when_the_market_disables_it(cod_market):
    cod_market.cod_enabled = False
    cod_market.save()
    assert "not offered" in COD.unavailable_reason(ctx(cod_market, "100"))


@pytest.mark.parametrize(
    ("amount", "currency", "allowed"),
    [
        ("197.00", "EUR", True),  # + EUR 3 fee = EUR 200: the maximum itself
        ("197.01", "EUR", False),
        ("216.70", "USD", True),  # limit EUR 200 = USD 220.00, fee EUR 3 = USD 3.30 (1 EUR = 1.10 USD)
        ("216.71", "USD", False),
        ("31520", "JPY", True),  # limit JPY 32,000, fee JPY 480
        ("31521", "JPY", False),
    ],
)
def test_the_maximum_includes_the_fee_and_is_converted_into_the_buyers_currency(cod_market, amount, currency, allowed):
    reason = COD.unavailable_reason(ctx(cod_market, amount, currency))
    assert (reason is None) is allowed, reason


def test_not_offered_when_a_parcel_crosses_a_border(cod_market):
    assert COD.unavailable_reason(ctx(cod_market, "100", all_shipments_domestic=True)) is None
    assert "within the destination country" in COD.unavailable_reason(
        ctx(cod_market, "100", all_shipments_domestic=False)
    )


def test_not_offered_to_a_buyer_with_a_recently_refused_parcel(
    shop, buyer, cod_market, settings, django_capture_on_commit_callbacks
):
    other = UserFactory()
    first = place(buyer, [(shop["wig"], 1)])
    parcel = ship(shipments(first)[0], django_capture_on_commit_callbacks)
    assert COD.unavailable_reason(ctx(cod_market, "50", buyer_id=buyer.pk)) is None
    # when the parcel comes back refused, ten days ago
    refuse(parcel, django_capture_on_commit_callbacks, at=timezone.now() - timedelta(days=10))
    # then that buyer is refused, another is not
    assert "refused delivery" in COD.unavailable_reason(ctx(cod_market, "50", buyer_id=buyer.pk))
    assert COD.unavailable_reason(ctx(cod_market, "50", buyer_id=other.pk)) is None
    # and with a shorter look-back the refusal is too old to count
    settings.COD_REFUSAL_LOOKBACK_DAYS = 5
    Shipment.objects.filter(pk=parcel.pk).update(updated_at=timezone.now() - timedelta(days=10))
    assert not refused_recently(buyer.pk)
    assert COD.unavailable_reason(ctx(cod_market, "50", buyer_id=buyer.pk)) is None


def test_a_parcel_returned_after_its_delivery_is_not_a_refusal(
    shop, buyer, cod_market, django_capture_on_commit_callbacks
):
    from .money_world import deliver, report

    order = place(buyer, [(shop["wig"], 1)])
    parcel = deliver(ship(shipments(order)[0], django_capture_on_commit_callbacks), django_capture_on_commit_callbacks)
    report(parcel, django_capture_on_commit_callbacks, ("back", Shipment.Status.RETURNED, timezone.now()))
    assert Shipment.objects.get(pk=parcel.pk).status == Shipment.Status.RETURNED
    assert not refused_recently(buyer.pk)


# --- Fee ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("currency", "fee"), [("EUR", "3.00"), ("USD", "3.30"), ("JPY", "480"), ("CNY", "24.00")])
def test_the_fee_is_the_markets_converted_into_the_buyers_currency(cod_market, currency, fee):
    assert COD.fee(ctx(cod_market, "10", currency)) == Money(fee, currency)


def test_the_fee_includes_the_markets_fx_margin_and_is_zero_without_one(cod_market):
    cod_market.fx_margin = Decimal("2")
    cod_market.save()
    assert COD.fee(ctx(cod_market, "10", "USD")) == Money("3.37", "USD")  # 3 x 1.10 x 1.02 = 3.366
    cod_market.cod_fee = None
    cod_market.save()
    assert COD.fee(ctx(cod_market, "10", "USD")) == Money("0", "USD")


# --- Start, capture on delivery ---------------------------------------------------------------------


def test_start_authorizes_without_a_next_action(cod_order, django_capture_on_commit_callbacks):
    payment = pay(cod_order, django_capture_on_commit_callbacks, method="cod", capture=False)
    assert payment.state == Payment.State.AUTHORIZED
    assert payment.next_action.get("kind", "none") == "none" and payment.captured == Money("0", "EUR")
    assert LedgerEntry.objects.count() == 0  # nothing was captured yet


def test_the_simulated_carrier_delivers_and_the_cash_is_captured_once(
    shop, cod_order, django_capture_on_commit_callbacks
):
    payment = pay(cod_order, django_capture_on_commit_callbacks, method="cod", capture=False)
    now = timezone.now()
    parcel = ship(shipments(cod_order)[0], django_capture_on_commit_callbacks, at=now - timedelta(hours=30))
    # a poll before the domestic journey ends (26 h) finds the parcel out for delivery: nothing captured
    with django_capture_on_commit_callbacks(execute=True):
        poll_tracking(now=now - timedelta(hours=5))
    payment.refresh_from_db()
    assert payment.state == Payment.State.AUTHORIZED
    # when the carrier reports the delivery
    with django_capture_on_commit_callbacks(execute=True):
        poll_tracking(now=now)
    parcel.refresh_from_db()
    payment.refresh_from_db()
    assert parcel.status == Shipment.Status.DELIVERED
    assert payment.state == Payment.State.CAPTURED and payment.captured == cod_order.total
    captures = payment.events.filter(kind="capture")
    assert captures.count() == 1 and captures.get().idempotency_key == f"{payment.attempt}:cod-delivered"
    # the seller's sale is recorded, payable after the return window
    sale = LedgerEntry.objects.get(kind="sale", seller=shop["world"].silk)
    assert sale.amount == Money("200", "CNY") and sale.payable_at == parcel.delivered_at + timedelta(days=14)
    # the delivery reported again (signal repeated) captures nothing more
    from logistics.signals import shipment_delivered

    with django_capture_on_commit_callbacks(execute=True):
        shipment_delivered.send(sender=Shipment, shipment_id=parcel.pk, order_number=cod_order.number, delivered_at=now)
    assert payment.events.filter(kind="capture").count() == 1


def test_an_order_with_two_parcels_is_captured_when_the_last_one_arrives(
    shop, cod_order, django_capture_on_commit_callbacks
):
    from .money_world import deliver

    payment = pay(cod_order, django_capture_on_commit_callbacks, method="cod", capture=False)
    first = shipments(cod_order)[0]
    second = create_shipment(
        warehouse=shop["world"].de_fra, destination_country="DE", order_number=cod_order.number, carrier="simulated"
    )
    deliver(ship(first, django_capture_on_commit_callbacks), django_capture_on_commit_callbacks)
    payment.refresh_from_db()
    assert payment.state == Payment.State.AUTHORIZED
    deliver(ship(second, django_capture_on_commit_callbacks), django_capture_on_commit_callbacks)
    payment.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED and payment.captured == payment.amount


def test_a_card_payment_is_not_captured_by_a_delivery(shop, buyer, django_capture_on_commit_callbacks, scripted):
    from .money_world import deliver

    order = place(buyer, [(shop["wig"], 1)])
    payment = pay(order, django_capture_on_commit_callbacks, capture=False)
    deliver(ship(shipments(order)[0], django_capture_on_commit_callbacks), django_capture_on_commit_callbacks)
    payment.refresh_from_db()
    assert payment.state == Payment.State.AUTHORIZED  # manual capture of cards is not tied to delivery


def test_a_refund_of_cash_collected_is_recorded_as_handled_offline(cod_order, django_capture_on_commit_callbacks):
    from .money_world import deliver

    payment = pay(cod_order, django_capture_on_commit_callbacks, method="cod", capture=False)
    deliver(ship(shipments(cod_order)[0], django_capture_on_commit_callbacks), django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        refund = refund_payment(payment.pk, Money("5", "EUR"), reason="damaged box", idempotency_key="cod-r1")
    assert refund.state == Refund.State.SUCCEEDED and refund.provider_reference == "cod-refund-cod-r1"
    payment.refresh_from_db()
    assert payment.state == Payment.State.PARTIALLY_REFUNDED and payment.refunded == Money("5", "EUR")


# --- Refused parcel -----------------------------------------------------------------------------------


def test_a_refused_parcel_cancels_the_payment_and_the_order_and_restocks_to_the_unit(
    shop, cod_order, django_capture_on_commit_callbacks
):
    # given a COD order of 2 units, shipped (the units left the Frankfurt warehouse)
    assert (stock(shop, "wig").on_hand, stock(shop, "wig").allocated) == (10, 2)
    payment = pay(cod_order, django_capture_on_commit_callbacks, method="cod", capture=False)
    parcel = ship(shipments(cod_order)[0], django_capture_on_commit_callbacks)
    assert stock(shop, "wig").on_hand - stock(shop, "wig").allocated == 8
    received = []
    shipment_refused.connect(lambda **kw: received.append(kw), weak=False, dispatch_uid="test-refused")
    try:
        # when the buyer refuses it and it goes back to the sender
        parcel = refuse(parcel, django_capture_on_commit_callbacks)
    finally:
        shipment_refused.disconnect(dispatch_uid="test-refused")
    # then: one refusal announced, no cash, the order cancelled, the two units back in stock
    assert [r["shipment_id"] for r in received] == [parcel.pk]
    payment.refresh_from_db()
    assert payment.state == Payment.State.CANCELLED and payment.captured == Money("0", "EUR")
    order = Order.objects.get(pk=cod_order.pk)
    assert order.status == Order.Status.CANCELLED
    assert set(order.sub_orders.values_list("status", flat=True)) == {Order.Status.CANCELLED}
    wig = stock(shop, "wig")
    assert (wig.on_hand, wig.allocated) == (10, 0)
    assert StockAdjustment.objects.filter(stock=wig, reason="returned", quantity=2).count() == 1
    assert TrackingEvent.objects.filter(shipment=parcel, key="restocked").count() == 1
    assert LedgerEntry.objects.count() == 0  # no money ever moved

    # a repeated refusal signal changes nothing
    with django_capture_on_commit_callbacks(execute=True):
        shipment_refused.send(sender=Shipment, shipment_id=parcel.pk, order_number=order.number, returned_at=None)
    wig = stock(shop, "wig")
    assert (wig.on_hand, wig.allocated) == (10, 0)
    # and the buyer no longer gets cash on delivery
    assert COD.unavailable_reason(ctx(Market.objects.get(country="DE"), "20", buyer_id=order.buyer_id)) is not None


def test_a_refused_prepaid_parcel_is_left_to_an_operator(shop, buyer, scripted, django_capture_on_commit_callbacks):
    order = place(buyer, [(shop["wig"], 2)])
    payment = pay(order, django_capture_on_commit_callbacks)
    refuse(ship(shipments(order)[0], django_capture_on_commit_callbacks), django_capture_on_commit_callbacks)
    payment.refresh_from_db()
    assert payment.state == Payment.State.CAPTURED
    assert Order.objects.get(pk=order.pk).status != Order.Status.CANCELLED
    assert stock(shop, "wig").on_hand == 8  # restocked only with the operator's refund
