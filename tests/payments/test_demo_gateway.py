"""The demo gateway: card form with test numbers (success, decline, insufficient funds, 3-D Secure),
wallet QR page, and the provider calls (confirm, capture, cancel, refund, retrieve) answering
from the gateway's own record. Payments are driven through ``payments.services`` as checkout does."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from djmoney.money import Money

from marketplace.markets import clear_market_cache
from marketplace.models import Market
from orders.models import Order
from payments.base import PaymentContext
from payments.demo_gateway import DemoTransaction
from payments.exceptions import InvalidAmount, MethodUnavailable
from payments.methods.demo import DemoAlipay, DemoCard, DemoGrabPay, DemoWeChatPay
from payments.models import Payment, PaymentEvent, Refund
from payments.services import (
    cancel_payment,
    capture_payment,
    confirm_payment,
    refund_payment,
    start_payment,
)

from .conftest import ctx_for, eur

pytestmark = pytest.mark.django_db

DEMO = {
    "card": "payments.methods.demo.DemoCard",
    "alipay": "payments.methods.demo.DemoAlipay",
    "wechat_pay": "payments.methods.demo.DemoWeChatPay",
    "grabpay": "payments.methods.demo.DemoGrabPay",
}
RETURN = "http://testserver/en/return/"
VALID = {"expiry": "12/39", "cvc": "123"}


@pytest.fixture(autouse=True)
def demo_methods(settings: Any) -> None:
    settings.PAYMENT_METHODS = DEMO


def start(order: Order, code: str = "card") -> Payment:
    return start_payment(order, method_code=code, ctx=ctx_for(order), return_url=RETURN)


def gateway_url(payment: Payment) -> str:
    return payment.next_action["url"]


def pay_card(client: Client, payment: Payment, number: str, **fields: str) -> Any:
    return client.post(gateway_url(payment), {"number": number, **VALID, **fields})


def tx_of(payment: Payment) -> DemoTransaction:
    return DemoTransaction.objects.get(reference=payment.provider_reference)


def test_card_success_captures_the_order_total_and_keeps_only_the_last_four_digits(
    client, order, django_capture_on_commit_callbacks
):
    payment = start(order)
    assert payment.state == "requires_action" and payment.amount == order.total
    assert gateway_url(payment) == f"/en/pay/demo/{payment.provider_reference}/"
    page = client.get(gateway_url(payment)).content.decode()
    assert 'name="csrfmiddlewaretoken"' in page and 'data-testid="card-number"' in page
    assert f'data-testid="gateway-amount" data-amount="{order.total.amount:.2f}" data-currency="EUR"' in page

    response = pay_card(client, payment, "4242 4242 4242 4242")

    assert response.status_code == 302 and response.url == RETURN
    with django_capture_on_commit_callbacks(execute=True):  # the signals go out after the commit
        payment = confirm_payment(payment, params={"state": "captured", "amount": "0.01"})  # browser: not trusted
    assert payment.state == "captured" and payment.captured == order.total
    tx = tx_of(payment)
    assert (tx.status, tx.card_brand, tx.card_last4, tx.captured) == ("succeeded", "visa", "4242", order.total)
    stored = [str(v) for v in DemoTransaction.objects.values_list()] + [
        str(p) for p in PaymentEvent.objects.values_list("payload", flat=True)
    ]
    assert not any("4242424242424242" in text for text in stored)
    order.refresh_from_db()
    assert order.status == Order.Status.CONFIRMED  # orders heard payment_secured


@pytest.mark.parametrize(
    ("number", "code"), [("4000000000000002", "card_declined"), ("4000000000009995", "insufficient_funds")]
)
def test_declined_cards_fail_the_payment_with_the_providers_reason(client, order, number, code):
    payment = start(order)
    assert pay_card(client, payment, number).url == RETURN
    payment = confirm_payment(payment, params={})
    assert (payment.state, payment.failure_code, payment.captured) == ("failed", code, eur("0"))
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT


@pytest.mark.parametrize(("decision", "state", "captured"), [("approve", "captured", True), ("fail", "failed", False)])
def test_three_d_secure_challenge(client, order, decision, state, captured):
    payment = start(order)
    response = pay_card(client, payment, "4000002500003155")
    challenge = f"/en/pay/demo/{payment.provider_reference}/3ds/"
    assert response.url == challenge
    assert confirm_payment(payment, params={}).next_action["url"] == challenge  # still waiting for the buyer
    page = client.get(challenge).content.decode()
    assert 'data-testid="challenge-approve"' in page and "ending in 3155" in page

    assert client.post(challenge, {"decision": decision}).url == RETURN

    payment = confirm_payment(payment, params={})
    assert payment.state == state
    assert payment.captured == (order.total if captured else eur("0"))
    assert payment.failure_code == ("" if captured else "authentication_failed")
    assert client.post(challenge, {"decision": "approve"}).status_code == 302  # a second answer changes nothing
    assert confirm_payment(payment, params={}).state == state


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"number": "4242424242424241"}, "This card number is not valid."),
        ({"number": "4242"}, "This card number is not valid."),
        ({"number": "5555555555554444"}, "accepts only its test card numbers"),
        ({"number": "4242424242424242", "expiry": "01/20"}, "This card has expired."),
        ({"number": "4242424242424242", "expiry": "13/30"}, "Enter the expiry date as MM/YY."),
        ({"number": "4242424242424242", "cvc": "12"}, "The security code is 3 or 4 digits."),
        ({"number": "4242424242424242", "cvc": "1234"}, "The security code is 3 or 4 digits."),
    ],
)
def test_the_card_form_explains_what_is_wrong_and_changes_nothing(client, order, fields, message):
    payment = start(order)
    response = client.post(gateway_url(payment), {**VALID, **fields})
    page = response.content.decode()
    assert response.status_code == 400
    assert 'data-testid="form-error"' in page and message in page
    assert tx_of(payment).status == "requires_action" and tx_of(payment).card_last4 == ""


def test_every_gateway_form_needs_the_csrf_token(order):
    payment = start(order)
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(gateway_url(payment), {"number": "4242424242424242", **VALID}).status_code == 403
    wallet = start_payment(_fresh_order(order), method_code="alipay", ctx=ctx_for(order), return_url=RETURN)
    decision = f"/en/pay/demo/{wallet.provider_reference}/decision/"
    assert strict.post(decision, {"decision": "approve"}).status_code == 403
    assert tx_of(payment).status == "requires_action" and tx_of(wallet).status == "requires_action"


def _fresh_order(order: Order) -> Order:
    """Another placed order like ``order`` (payments are one live per order)."""
    from orders.models import Cart, CartLine
    from orders.services import Address, place_order, start_checkout
    from tests.orders.conftest import ADDRESS_DE

    cart = Cart.objects.create(user=order.buyer)
    CartLine.objects.create(cart=cart, variant=order.lines.get().variant, quantity=1)
    checkout = start_checkout(cart, buyer=order.buyer, address=Address(**ADDRESS_DE), currency="EUR", language="en")
    return place_order(checkout.token, buyer=order.buyer)


@pytest.mark.parametrize(("decision", "state"), [("approve", "captured"), ("decline", "failed")])
def test_wallet_page_shows_a_qr_code_and_the_app_decides(client, order, decision, state):
    payment = start(order, "alipay")
    page = client.get(gateway_url(payment)).content.decode()
    app = f"http://testserver/en/pay/demo/{payment.provider_reference}/app/"
    assert 'data-testid="wallet-qr"' in page and f'data-qr="{app}"' in page and "<svg" in page
    assert 'data-testid="wallet-approve"' in page and 'name="csrfmiddlewaretoken"' in page
    assert client.post(gateway_url(payment), {"number": "4242424242424242", **VALID}).status_code == 200  # no card here
    assert tx_of(payment).status == "requires_action"

    response = client.post(
        f"/en/pay/demo/{payment.provider_reference}/decision/", {"decision": decision, "source": "page"}
    )

    assert response.url == RETURN
    url = gateway_url(payment)
    payment = confirm_payment(payment, params={})
    assert payment.state == state
    assert client.get(url).url == RETURN  # a finished payment sends the buyer back


def test_the_phone_approves_on_the_app_page(client, order):
    payment = start(order, "wechat_pay")
    app = f"/en/pay/demo/{payment.provider_reference}/app/"
    assert 'data-testid="wallet-approve"' in client.get(app).content.decode()
    response = client.post(
        f"/en/pay/demo/{payment.provider_reference}/decision/", {"decision": "approve", "source": "app"}
    )
    assert response.url == app
    assert 'data-status="succeeded"' in client.get(app).content.decode()
    assert confirm_payment(payment, params={}).state == "captured"


def test_manual_capture_market_authorizes_cards_then_captures_and_refunds_once(client, order):
    Market.objects.filter(country="DE").update(manual_capture=True)
    clear_market_cache()
    payment = start(order)
    pay_card(client, payment, "4242424242424242")
    payment = confirm_payment(payment, params={})
    assert payment.state == "authorized" and payment.captured == eur("0")
    tx = tx_of(payment)
    assert (tx.status, tx.capture_method) == ("requires_capture", "manual")

    part = order.total - eur("10")
    payment = capture_payment(payment.pk, part, idempotency_key="ship-1")
    again = capture_payment(payment.pk, part, idempotency_key="ship-1")
    assert again.state == "captured" and again.captured == part
    assert tx_of(payment).captured == part and tx_of(payment).status == "succeeded"

    first = refund_payment(payment.pk, eur("5"), reason="broken", idempotency_key="r-1")
    assert refund_payment(payment.pk, eur("5"), reason="broken", idempotency_key="r-1") == first
    refund_payment(payment.pk, eur("3"), reason="late", idempotency_key="r-2")
    payment.refresh_from_db()
    assert payment.refunded == eur("8") and tx_of(payment).refunded == eur("8")
    assert sorted(Refund.objects.values_list("provider_reference", flat=True)) == [
        f"{tx.reference}_re_1",
        f"{tx.reference}_re_2",
    ]
    with pytest.raises(InvalidAmount):
        refund_payment(payment.pk, part, reason="too much", idempotency_key="r-3")
    assert tx_of(payment).refunded == eur("8")


def test_wallets_capture_at_once_even_where_cards_are_only_authorized(client, order):
    Market.objects.filter(country="DE").update(manual_capture=True)
    clear_market_cache()
    payment = start(order, "alipay")
    client.post(f"/en/pay/demo/{payment.provider_reference}/decision/", {"decision": "approve", "source": "page"})
    assert confirm_payment(payment, params={}).state == "captured"


def test_cancel_voids_an_open_payment_and_the_gateway_no_longer_takes_it(client, order):
    payment = start(order)
    url = gateway_url(payment)
    payment = cancel_payment(payment.pk)
    assert payment.state == "cancelled" and tx_of(payment).status == "canceled"
    assert client.post(url, {"number": "4242424242424242", **VALID}).url == RETURN
    assert tx_of(payment).status == "canceled" and tx_of(payment).card_last4 == ""


def test_retrieve_and_start_answer_like_a_provider(client, order):
    payment = start(order)
    method = DemoCard()
    assert method.retrieve(payment).state == "requires_action"
    again = method.start(payment, return_url=RETURN, idempotency_key=f"{payment.attempt}:start")
    assert again.reference == payment.provider_reference and DemoTransaction.objects.count() == 1
    pay_card(client, payment, "4242424242424242")
    result = method.retrieve(payment)
    assert (result.state, result.amount, result.payload["card"]) == (
        "captured",
        order.total,
        {"brand": "visa", "last4": "4242"},
    )


def ctx(country: str, currency: str, amount: str, methods: list[str] | None = None) -> PaymentContext:
    market = Market(country=country, currency=currency, payment_methods=methods or list(DEMO))
    return PaymentContext(market=market, country=country, currency=currency, amount=Money(amount, currency))


def test_wallets_follow_their_currencies_countries_and_limits():
    assert DemoGrabPay().unavailable_reason(ctx("SG", "SGD", "100")) is None
    assert DemoGrabPay().unavailable_reason(ctx("MY", "MYR", "1500")) is None
    assert DemoGrabPay().unavailable_reason(ctx("MY", "MYR", "1500.01")) is not None  # above the wallet maximum
    assert DemoGrabPay().unavailable_reason(ctx("SG", "SGD", "0.50")) is not None  # below the minimum
    assert DemoGrabPay().unavailable_reason(ctx("DE", "EUR", "100")) is not None
    assert DemoGrabPay().unavailable_reason(ctx("DE", "SGD", "100")) is not None  # SG and MY buyers only
    assert DemoAlipay().unavailable_reason(ctx("US", "USD", "100")) is None
    assert DemoAlipay().unavailable_reason(ctx("CN", "CNY", "100")) is None
    assert DemoAlipay().unavailable_reason(ctx("PL", "PLN", "100")) is not None
    assert DemoWeChatPay().unavailable_reason(ctx("CH", "CHF", "100")) is None
    assert DemoAlipay().unavailable_reason(ctx("CH", "CHF", "100")) is not None
    assert DemoCard().unavailable_reason(ctx("DE", "EUR", "100", ["alipay"])) is not None  # not offered there
    assert DemoAlipay().fee(ctx("US", "USD", "127.33")) == Money("1.27", "USD")
    assert DemoCard().fee(ctx("US", "USD", "127.33")) == Money("0", "USD")
    assert DemoCard.kind == "card" and {DemoAlipay.kind, DemoWeChatPay.kind, DemoGrabPay.kind} == {"wallet"}


def test_a_method_the_market_does_not_offer_cannot_start(order):
    with pytest.raises(MethodUnavailable):
        start_payment(order, method_code="grabpay", ctx=ctx("DE", "EUR", str(order.total.amount)), return_url=RETURN)
    assert not Payment.objects.exists() and not DemoTransaction.objects.exists()


def test_unknown_reference_is_404(client):
    assert client.get("/en/pay/demo/demo_nope/").status_code == 404
    assert client.post("/en/pay/demo/demo_nope/decision/", {"decision": "approve"}).status_code == 404


def test_amounts_in_zero_and_three_decimal_currencies_are_kept_exactly(order):
    """The gateway keeps what the shop asked for, to the currency's minor unit."""
    from payments.demo_gateway import create_transaction

    for amount in (Money("1235", "JPY"), Money("12.345", "KWD"), Money("0.001", "BHD")):
        tx = create_transaction(
            key=f"k-{amount.currency}",
            attempt=order.checkout.token,
            method="card",
            kind="card",
            amount=amount,
            manual_capture=False,
            return_url=RETURN,
            page_url=lambda ref: f"/pay/{ref}/",
        )
        assert tx.amount == amount and tx.amount.amount == Decimal(str(amount.amount))
