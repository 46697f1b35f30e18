# ruff: noqa: F811  (pytest fixtures imported from stripe_server)
"""Stripe cards and wallets: the real SDK against the local fake Stripe (tests/payments/stripe_server.py)."""

from __future__ import annotations

import socket
from decimal import Decimal

import pytest
from djmoney.money import Money

from marketplace.models import Market
from payments import signals
from payments.exceptions import IllegalTransition, InvalidAmount, ProviderError
from payments.methods.stripe import StripeAlipay, StripeCard, StripeGrabPay, StripeWeChatPay
from payments.models import Payment, PaymentEvent, Refund
from payments.registry import get_method
from payments.services import (
    cancel_payment,
    capture_payment,
    confirm_payment,
    refund_payment,
    start_payment,
)
from payments.stripe_client import StripeProviderError, create_transfer

from .conftest import ctx_for, eur
from .stripe_server import SECRET_KEY, api_error, card_error, invalid_request, stripe_server  # noqa: F401

pytestmark = pytest.mark.django_db

RETURN_URL = "https://shop.example/en/orders/pay/return/"


def start(order, code="card"):
    return start_payment(order, method_code=code, ctx=ctx_for(order), return_url=RETURN_URL)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once closed


def minor(money: Money) -> str:
    return str(int(money.amount * 100))  # EUR in these tests


@pytest.fixture
def captured_signals():
    received = []

    def on_captured(**kw):
        received.append(kw["payment_id"])

    signals.payment_captured.connect(on_captured, weak=False, dispatch_uid="stripe-test-captured")
    yield received
    signals.payment_captured.disconnect(dispatch_uid="stripe-test-captured")


# --- Cards --------------------------------------------------------------------------------------


def test_card_start_creates_an_intent_with_minor_units_and_the_attempts_key(order, stripe_server):
    payment = start(order)

    [create] = stripe_server.calls("POST", "/v1/payment_intents")
    assert create.params["amount"] == minor(order.due_at_checkout)
    assert create.params["currency"] == "eur"
    assert create.params["payment_method_types[0]"] == "card"
    assert create.params["capture_method"] == "automatic"
    assert create.params["metadata[payment_attempt]"] == str(payment.attempt)
    assert create.params["metadata[order_number]"] == order.number
    assert "confirm" not in create.params  # Stripe.js confirms the card in the browser
    assert create.idempotency_key == f"{payment.attempt}:start"
    assert create.headers["authorization"] == f"Bearer {SECRET_KEY}"

    intent = stripe_server.only_intent()
    assert payment.state == "pending" and payment.provider_reference == intent["id"]
    assert payment.next_action == {"kind": "client_secret", "client_secret": intent["client_secret"]}
    started = payment.events.get(kind="started")
    assert started.payload["id"] == intent["id"] and started.payload["status"] == "requires_payment_method"
    assert "client_secret" not in started.payload  # never stored in the log


def test_card_success_on_the_browsers_return(
    order, stripe_server, captured_signals, django_capture_on_commit_callbacks
):
    payment = start(order)
    stripe_server.set_intent(payment.provider_reference, status="succeeded")

    with django_capture_on_commit_callbacks(execute=True):
        payment = confirm_payment(payment, params={"payment_intent": payment.provider_reference})

    assert payment.state == "captured" and payment.captured == order.due_at_checkout
    assert [r.path for r in stripe_server.requests][-1] == f"/v1/payment_intents/{payment.provider_reference}"
    assert captured_signals == [payment.pk]


def test_three_d_secure_requires_action_then_succeeds_on_return(order, stripe_server):
    payment = start(order)
    challenge = (
        "https://hooks.stripe.com/3d_secure_2/hosted?merchant=acct_Fake&payment_intent=" + payment.provider_reference
    )
    stripe_server.set_intent(
        payment.provider_reference,
        status="requires_action",
        next_action={"type": "redirect_to_url", "redirect_to_url": {"url": challenge, "return_url": RETURN_URL}},
    )

    payment = confirm_payment(payment, params={})
    assert payment.state == "requires_action"
    assert payment.next_action == {"kind": "redirect", "url": challenge}

    stripe_server.set_intent(payment.provider_reference, status="succeeded")
    payment = confirm_payment(payment, params={"payment_intent": payment.provider_reference})
    assert payment.state == "captured" and payment.captured == order.due_at_checkout
    assert list(payment.events.values_list("to_state", flat=True)) == [
        "pending",
        "pending",
        "requires_action",
        "captured",
    ]


def test_three_d_secure_through_stripe_js_gives_the_client_secret(order, stripe_server):
    payment = start(order)
    intent = stripe_server.set_intent(
        payment.provider_reference,
        status="requires_action",
        next_action={"type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect"}},
    )
    payment = confirm_payment(payment, params={})
    assert payment.state == "requires_action"
    assert payment.next_action == {"kind": "client_secret", "client_secret": intent["client_secret"]}


def test_a_return_for_another_intent_is_refused_and_changes_nothing(order, stripe_server):
    payment = start(order)
    stripe_server.set_intent(payment.provider_reference, status="succeeded")
    with pytest.raises(ProviderError):
        confirm_payment(payment, params={"payment_intent": "pi_someone_else"})
    payment.refresh_from_db()
    assert payment.state == "pending" and payment.captured == eur("0")


def test_a_declined_card_fails_with_the_decline_reason(order, stripe_server):
    payment = start(order)
    stripe_server.set_intent(
        payment.provider_reference,
        status="requires_payment_method",
        last_payment_error={
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.",
        },
    )
    payment = confirm_payment(payment, params={})
    assert payment.state == "failed"
    assert payment.failure_code == "insufficient_funds"
    assert payment.failure_message == "The card has insufficient funds."
    assert payment.captured == eur("0")
    # The buyer may try again: a new attempt, a new intent, a new key.
    retry = start(order)
    assert retry.pk != payment.pk and retry.provider_reference != payment.provider_reference
    keys = [r.idempotency_key for r in stripe_server.calls("POST", "/v1/payment_intents")]
    assert keys == [f"{payment.attempt}:start", f"{retry.attempt}:start"]


def test_a_decline_answered_with_http_402_fails_the_payment(order, stripe_server):
    intent = {"id": "pi_3Declined", "object": "payment_intent", "status": "requires_payment_method"}
    stripe_server.script(
        "POST",
        "/v1/payment_intents",
        402,
        card_error("card_declined", "stolen_card", "Your card was declined.", intent=intent),
    )
    payment = start(order)
    assert payment.state == "failed"
    assert payment.failure_code == "stolen_card"
    assert payment.failure_message == "The card was declined. Try another card or payment method."  # no hint of why
    assert payment.provider_reference == "pi_3Declined"


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided."}}, "credentials"),
        (400, invalid_request("parameter_invalid_integer", "Invalid integer: abc", "amount"), "Invalid integer"),
        (500, api_error(), "Stripe had a problem"),
    ],
)
def test_api_errors_fail_the_start_with_a_clear_message(order, stripe_server, status, body, message):
    stripe_server.script("POST", "/v1/payment_intents", status, body)
    payment = start(order)
    assert payment.state == "failed" and payment.failure_code == "provider_error"
    assert message in payment.failure_message


def test_stripe_unreachable_is_a_clear_provider_error(order, stripe_server, settings):
    payment = start(order)
    stripe_server.set_intent(payment.provider_reference, status="succeeded")
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(StripeProviderError) as caught:
        confirm_payment(payment, params={})
    assert caught.value.ambiguous and caught.value.code == "connection_error"
    assert "could not be reached" in caught.value.message
    payment.refresh_from_db()
    assert payment.state == "pending"


def test_the_sdk_retries_a_5xx_with_the_same_idempotency_key(order, stripe_server, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 1
    stripe_server.script("POST", "/v1/payment_intents", 500, api_error(), **{"Stripe-Should-Retry": "true"})
    payment = start(order)
    first, second = stripe_server.calls("POST", "/v1/payment_intents")
    assert first.idempotency_key == second.idempotency_key == f"{payment.attempt}:start"
    assert len(stripe_server.intents) == 1 and payment.state == "pending"


# --- Manual capture -------------------------------------------------------------------------------


@pytest.fixture
def manual_capture_market(order):
    Market.objects.filter(country=order.country).update(manual_capture=True)


def authorized(order, stripe_server):
    payment = start(order)
    stripe_server.set_intent(payment.provider_reference, status="requires_capture")
    return confirm_payment(payment, params={})


def test_manual_capture_market_authorizes_then_captures_in_full(order, stripe_server, manual_capture_market):
    payment = authorized(order, stripe_server)
    [create] = stripe_server.calls("POST", "/v1/payment_intents")
    assert create.params["capture_method"] == "manual"
    assert payment.state == "authorized" and payment.captured == eur("0")

    payment = capture_payment(payment.pk)

    [capture] = stripe_server.calls("POST", f"/v1/payment_intents/{payment.provider_reference}/capture")
    assert capture.params == {"amount_to_capture": minor(order.due_at_checkout)}
    assert capture.idempotency_key == f"{payment.attempt}:capture"
    assert payment.state == "captured" and payment.captured == order.due_at_checkout


def test_partial_capture_takes_the_part_once(order, stripe_server, manual_capture_market, captured_signals):
    payment = authorized(order, stripe_server)
    part = eur("40.50")

    payment = capture_payment(payment.pk, part, idempotency_key="ship-1")
    again = capture_payment(payment.pk, part, idempotency_key="ship-1")

    captures = stripe_server.calls("POST", f"/v1/payment_intents/{payment.provider_reference}/capture")
    assert [c.params["amount_to_capture"] for c in captures] == ["4050"]
    assert captures[0].idempotency_key == "ship-1"
    assert payment.captured == again.captured == part and again.state == "captured"
    assert stripe_server.intents[payment.provider_reference]["amount_received"] == 4050
    assert payment.events.filter(kind="capture").count() == 1


def test_a_capture_stripe_refuses_changes_nothing(order, stripe_server, manual_capture_market):
    payment = authorized(order, stripe_server)
    stripe_server.script(
        "POST",
        r"/v1/payment_intents/\w+/capture",
        400,
        invalid_request("charge_expired_for_capture", "The charge has expired for capture."),
    )
    with pytest.raises(ProviderError) as caught:
        capture_payment(payment.pk)
    assert "expired for capture" in caught.value.message
    payment.refresh_from_db()
    assert payment.state == "authorized" and payment.captured == eur("0")


def test_cancel_voids_the_authorization(order, stripe_server, manual_capture_market):
    payment = authorized(order, stripe_server)
    payment = cancel_payment(payment.pk)
    [cancel] = stripe_server.calls("POST", f"/v1/payment_intents/{payment.provider_reference}/cancel")
    assert cancel.idempotency_key == f"{payment.attempt}:cancel"
    assert payment.state == "cancelled"
    assert stripe_server.intents[payment.provider_reference]["status"] == "canceled"


def test_cancel_of_an_intent_already_canceled_at_stripe_is_fine(order, stripe_server):
    payment = start(order)
    stripe_server.set_intent(payment.provider_reference, status="canceled", cancellation_reason="abandoned")
    assert cancel_payment(payment.pk).state == "cancelled"


# --- Refunds ----------------------------------------------------------------------------------------


def captured_payment(order, stripe_server):
    payment = start(order)
    stripe_server.set_intent(payment.provider_reference, status="succeeded")
    return confirm_payment(payment, params={})


def test_partial_then_full_refund_each_moves_money_once(order, stripe_server):
    payment = captured_payment(order, stripe_server)

    first = refund_payment(payment.pk, eur("10.00"), reason="damaged", idempotency_key="refund-a")
    replay = refund_payment(payment.pk, eur("10.00"), reason="damaged", idempotency_key="refund-a")
    rest = order.due_at_checkout - eur("10.00")
    second = refund_payment(payment.pk, rest, reason="returned", idempotency_key="refund-b")

    posts = stripe_server.calls("POST", "/v1/refunds")
    assert [(p.params["amount"], p.idempotency_key) for p in posts] == [("1000", "refund-a"), (minor(rest), "refund-b")]
    assert posts[0].params["payment_intent"] == payment.provider_reference
    assert posts[0].params["metadata[refund_key]"] == "refund-a"
    assert replay.pk == first.pk
    assert first.state == second.state == "succeeded"
    assert first.provider_reference.startswith("re_") and first.provider_reference != second.provider_reference
    payment.refresh_from_db()
    assert payment.state == "refunded" and payment.refunded == order.due_at_checkout


def test_the_same_refund_key_at_stripe_replays_the_first_refund(order, stripe_server):
    payment = captured_payment(order, stripe_server)
    method = get_method("card")
    one = method.refund(payment, eur("5.00"), idempotency_key="refund-x")
    two = method.refund(payment, eur("5.00"), idempotency_key="refund-x")
    assert one.reference == two.reference and len(stripe_server.refunds) == 1
    assert stripe_server.calls("POST", "/v1/refunds")[1].replayed


def test_a_refund_stripe_refuses_gives_the_amount_back(order, stripe_server):
    payment = captured_payment(order, stripe_server)
    stripe_server.script(
        "POST", "/v1/refunds", 400, invalid_request("charge_already_refunded", "Charge has already been refunded.")
    )
    refund = refund_payment(payment.pk, eur("10.00"), reason="x", idempotency_key="refund-refused")
    assert refund.state == "failed"
    payment.refresh_from_db()
    assert payment.state == "captured" and payment.refunded == eur("0")


def test_a_refund_lost_in_transit_stays_pending(order, stripe_server):
    payment = captured_payment(order, stripe_server)
    stripe_server.script("POST", "/v1/refunds", 500, api_error())
    refund = refund_payment(payment.pk, eur("10.00"), reason="x", idempotency_key="refund-lost")
    assert refund.state == "pending"  # Stripe may have refunded: the webhook settles it
    payment.refresh_from_db()
    assert payment.refunded == eur("10.00")


def test_refund_more_than_captured_or_zero_is_refused_before_stripe(order, stripe_server):
    payment = captured_payment(order, stripe_server)
    with pytest.raises(InvalidAmount):
        refund_payment(payment.pk, order.due_at_checkout + eur("0.01"), reason="x", idempotency_key="too-much")
    with pytest.raises(InvalidAmount):
        refund_payment(payment.pk, eur("0"), reason="x", idempotency_key="zero")
    assert stripe_server.calls("POST", "/v1/refunds") == [] and Refund.objects.count() == 0


# --- Wallets -------------------------------------------------------------------------------------------


def test_alipay_is_confirmed_at_creation_and_redirects(order, stripe_server):
    payment = start(order, "alipay")
    [create] = stripe_server.calls("POST", "/v1/payment_intents")
    assert create.params["payment_method_types[0]"] == "alipay"
    assert create.params["payment_method_data[type]"] == "alipay"
    assert create.params["confirm"] == "true" and create.params["return_url"] == RETURN_URL
    assert create.params["capture_method"] == "automatic"
    intent = stripe_server.only_intent()
    assert payment.state == "requires_action"
    assert payment.next_action == {"kind": "redirect", "url": intent["next_action"]["alipay_handle_redirect"]["url"]}


def test_wechat_pay_shows_a_qr_code(order, stripe_server):
    payment = start(order, "wechat_pay")
    [create] = stripe_server.calls("POST", "/v1/payment_intents")
    assert create.params["payment_method_options[wechat_pay][client]"] == "web"
    qr = stripe_server.only_intent()["next_action"]["wechat_pay_display_qr_code"]
    assert payment.state == "requires_action"
    assert payment.next_action == {"kind": "qr", "qr_data": qr["data"], "url": qr["hosted_instructions_url"]}
    stripe_server.set_intent(payment.provider_reference, status="succeeded")
    assert confirm_payment(payment, params={}).state == "captured"


def test_grabpay_redirects_in_singapore_dollars(order, stripe_server):
    payment = Payment(order=order, method="grabpay", amount=Money("25.90", "SGD"))
    result = StripeGrabPay().start(payment, return_url=RETURN_URL, idempotency_key="grab-1")
    [create] = stripe_server.calls("POST", "/v1/payment_intents")
    assert (create.params["amount"], create.params["currency"]) == ("2590", "sgd")
    assert result.state == "requires_action" and result.next_action.kind == "redirect"
    assert result.next_action.url == stripe_server.only_intent()["next_action"]["redirect_to_url"]["url"]


def test_wallets_offer_only_the_currencies_stripe_documents(order):
    ctx = ctx_for(order)  # EUR, to Germany
    assert StripeAlipay().unavailable_reason(ctx) is None
    assert StripeWeChatPay().unavailable_reason(ctx) is None
    assert StripeGrabPay().unavailable_reason(ctx) == "Does not support EUR."
    assert StripeCard().unavailable_reason(ctx) is None
    assert StripeGrabPay.currencies == {"SGD", "MYR"} and "CNY" in StripeAlipay.currencies
    assert "KWD" not in StripeWeChatPay.currencies


# --- Minor units --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "sent"),
    [(Money("1235", "JPY"), "1235"), (Money("1.230", "KWD"), "1230"), (Money("12.34", "EUR"), "1234")],
)
def test_amounts_reach_stripe_in_its_minor_units(order, stripe_server, amount, sent):
    payment = Payment(order=order, method="card", amount=amount)
    result = StripeCard().start(payment, return_url=RETURN_URL, idempotency_key=f"units-{sent}")
    [create] = stripe_server.calls("POST", "/v1/payment_intents")
    assert create.params["amount"] == sent
    assert create.params["currency"] == amount.currency.code.lower()
    stripe_server.set_intent(result.reference, status="succeeded")
    payment.provider_reference = result.reference
    back = StripeCard().retrieve(payment)
    assert back.amount == amount and back.amount.currency.code == amount.currency.code


def test_an_amount_stripe_cannot_charge_exactly_is_refused_before_sending(order, stripe_server):
    payment = Payment(order=order, method="card", amount=Money("1.235", "KWD"))  # Stripe: multiples of 10 fils
    with pytest.raises(InvalidAmount):
        StripeCard().start(payment, return_url=RETURN_URL, idempotency_key="kwd")
    assert stripe_server.requests == []


# --- Connect transfers ---------------------------------------------------------------------------------


def test_create_transfer_pays_a_connected_account_once_per_key(stripe_server):
    first = create_transfer(
        Money("123.45", "EUR"), "acct_1Seller", idempotency_key="payout-7", metadata={"payout_id": 7, "seller": "olive"}
    )
    again = create_transfer(
        Money("123.45", "EUR"), "acct_1Seller", idempotency_key="payout-7", metadata={"payout_id": 7, "seller": "olive"}
    )
    [post, replay] = stripe_server.calls("POST", "/v1/transfers")
    assert post.params == {
        "amount": "12345",
        "currency": "eur",
        "destination": "acct_1Seller",
        "metadata[payout_id]": "7",
        "metadata[seller]": "olive",
    }
    assert post.idempotency_key == "payout-7" and replay.replayed
    assert first == again and first.startswith("tr_") and list(stripe_server.transfers) == [first]


def test_create_transfer_in_yen_and_its_errors(stripe_server):
    create_transfer(Money("5000", "JPY"), "acct_1Seller", idempotency_key="payout-jp", metadata={})
    assert stripe_server.calls("POST", "/v1/transfers")[0].params["amount"] == "5000"
    stripe_server.script(
        "POST", "/v1/transfers", 400, invalid_request("insufficient_funds", "Insufficient funds in Stripe account.")
    )
    with pytest.raises(ProviderError) as caught:
        create_transfer(Money("10", "EUR"), "acct_1Seller", idempotency_key="payout-8", metadata={})
    assert "Insufficient funds" in caught.value.message
    with pytest.raises(ProviderError):
        create_transfer(Money("10", "EUR"), "", idempotency_key="payout-9", metadata={})
    assert len(stripe_server.transfers) == 1


def test_without_a_secret_key_stripe_is_not_called(order, stripe_server, settings):
    settings.STRIPE_SECRET_KEY = ""
    payment = start(order)
    assert payment.state == "failed" and "not configured" in payment.failure_message
    assert stripe_server.requests == []


def test_illegal_moves_stay_illegal(order, stripe_server):
    payment = captured_payment(order, stripe_server)
    with pytest.raises(IllegalTransition):
        cancel_payment(payment.pk)
    assert stripe_server.calls("POST", f"/v1/payment_intents/{payment.provider_reference}/cancel") == []
    assert PaymentEvent.objects.filter(payment=payment, kind="cancel").count() == 0
    assert Decimal(payment.captured.amount) == order.due_at_checkout.amount
