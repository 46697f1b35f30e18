# ruff: noqa: F811  (pytest fixtures imported from stripe_server)
"""``/webhooks/stripe/``: signed with Stripe's scheme, recorded once, applied through the state machine."""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.db import connection
from django.test import Client

from payments import signals
from payments.models import Payment, PaymentEvent, ProviderEvent, Refund
from payments.services import confirm_payment, refund_payment, start_payment

from .conftest import ctx_for, eur
from .stripe_server import WEBHOOK_SECRET, api_error, post_webhook, sign, stripe_server  # noqa: F401

RETURN_URL = "https://shop.example/en/orders/pay/return/"


def start(order, code="card"):
    return start_payment(order, method_code=code, ctx=ctx_for(order), return_url=RETURN_URL)


@pytest.fixture
def captured_signals():
    received = []

    def on_captured(**kw):
        received.append(kw["payment_id"])

    signals.payment_captured.connect(on_captured, weak=False, dispatch_uid="stripe-webhook-captured")
    yield received
    signals.payment_captured.disconnect(dispatch_uid="stripe-webhook-captured")


def succeeded_event(stripe_server, payment, **kw):
    intent = stripe_server.set_intent(payment.provider_reference, status="succeeded")
    return stripe_server.event("payment_intent.succeeded", intent, **kw)


@pytest.mark.django_db
def test_a_valid_webhook_captures_the_payment(
    order, stripe_server, client, captured_signals, django_capture_on_commit_callbacks
):
    payment = start(order)
    event = succeeded_event(stripe_server, payment)

    with django_capture_on_commit_callbacks(execute=True):
        response = post_webhook(client, event)

    assert response.status_code == 200
    assert response.json()["outcome"] == f"payment {payment.pk}: pending -> captured"
    payment.refresh_from_db()
    assert payment.state == "captured" and payment.captured == order.due_at_checkout
    assert captured_signals == [payment.pk]
    inbox = ProviderEvent.objects.get(provider="stripe", event_id=event["id"])
    assert inbox.type == "payment_intent.succeeded" and inbox.processed_at is not None
    assert "client_secret" not in inbox.payload["data"]["object"]
    logged = payment.events.get(kind="provider")
    assert logged.idempotency_key == f"stripe:{event['id']}" and logged.payload["status"] == "succeeded"


@pytest.mark.django_db
def test_the_webhook_first_then_the_browsers_return_is_a_no_op(
    order, stripe_server, client, captured_signals, django_capture_on_commit_callbacks
):
    payment = start(order)
    with django_capture_on_commit_callbacks(execute=True):
        post_webhook(client, succeeded_event(stripe_server, payment))
        after_return = confirm_payment(payment, params={"payment_intent": payment.provider_reference})

    assert after_return.state == "captured" and after_return.captured == order.due_at_checkout
    assert captured_signals == [payment.pk]
    assert payment.events.filter(to_state="captured").exclude(from_state="captured").count() == 1


@pytest.mark.django_db
def test_the_browsers_return_first_then_the_webhook_is_a_no_op(order, stripe_server, client, captured_signals):
    payment = start(order)
    event = succeeded_event(stripe_server, payment)
    confirm_payment(payment, params={})

    response = post_webhook(client, event)

    assert response.status_code == 200 and response.json()["outcome"] == f"payment {payment.pk}: captured -> captured"
    payment.refresh_from_db()
    assert payment.captured == order.due_at_checkout
    assert payment.events.last().kind == "ignored"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [
        "",  # none
        "t=1,v1=deadbeef",  # garbage
        "v1=abc",  # no timestamp
        None,  # signed with another secret (below)
    ],
)
def test_a_bad_signature_is_refused_and_nothing_changes(order, stripe_server, client, header):
    payment = start(order)
    event = succeeded_event(stripe_server, payment)
    if header is None:
        response = post_webhook(client, event, secret="whsec_someone_else")
    else:
        response = post_webhook(client, event, header=header)
    assert response.status_code == 400
    payment.refresh_from_db()
    assert payment.state == "pending" and payment.captured == eur("0")
    assert ProviderEvent.objects.count() == 0


@pytest.mark.django_db
def test_a_tampered_body_is_refused(order, stripe_server, client):
    payment = start(order)
    event = succeeded_event(stripe_server, payment)
    payload = json.dumps(event)
    header = sign(payload)
    tampered = payload.replace(
        f'"amount_received": {event["data"]["object"]["amount_received"]}', '"amount_received": 1'
    )
    assert tampered != payload
    response = post_webhook(client, tampered, header=header)
    assert response.status_code == 400 and ProviderEvent.objects.count() == 0


@pytest.mark.django_db
def test_a_timestamp_too_old_is_refused(order, stripe_server, client, settings):
    payment = start(order)
    event = succeeded_event(stripe_server, payment)
    too_old = int(time.time()) - settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS - 60
    response = post_webhook(client, event, timestamp=too_old)
    assert response.status_code == 400
    payment.refresh_from_db()
    assert payment.state == "pending" and ProviderEvent.objects.count() == 0
    # Within the tolerance it is accepted.
    assert post_webhook(client, event, timestamp=int(time.time()) - 60).status_code == 200


@pytest.mark.django_db
def test_a_replayed_event_is_processed_once(
    order, stripe_server, client, captured_signals, django_capture_on_commit_callbacks
):
    payment = start(order)
    event = succeeded_event(stripe_server, payment)
    with django_capture_on_commit_callbacks(execute=True):
        first = post_webhook(client, event)
        replay = post_webhook(client, event)  # Stripe retries, same id, new signature

    assert first.status_code == replay.status_code == 200
    assert replay.json()["outcome"] == "duplicate"
    assert ProviderEvent.objects.filter(event_id=event["id"]).count() == 1
    assert PaymentEvent.objects.filter(payment=payment, kind="provider").count() == 1
    assert captured_signals == [payment.pk]


@pytest.mark.django_db
def test_events_out_of_order_never_wind_a_payment_back(order, stripe_server, client):
    payment = start(order)
    now = int(time.time())
    intent = dict(stripe_server.intents[payment.provider_reference])
    created = stripe_server.event("payment_intent.created", intent, created=now - 30)
    # Stripe's timestamps are whole seconds: "processing" and "succeeded" may carry the same one.
    processing = stripe_server.event("payment_intent.processing", {**intent, "status": "processing"}, created=now)
    succeeded = succeeded_event(stripe_server, payment, created=now)

    assert post_webhook(client, succeeded).status_code == 200
    late = post_webhook(client, processing)
    later = post_webhook(client, created)

    assert late.status_code == later.status_code == 200
    payment.refresh_from_db()
    assert payment.state == "captured" and payment.captured == order.due_at_checkout
    # The late "processing" reached the state machine, which logged it as ignored...
    assert late.json()["outcome"] == f"payment {payment.pk}: captured -> captured"
    ignored = payment.events.get(kind="ignored")
    assert ignored.payload["status"] == "processing" and ignored.to_state == "captured"
    # ...the older "created" was older than what was applied: skipped before it.
    assert later.json()["outcome"] == f"ignored: payment {payment.pk} already has a newer event"
    assert ProviderEvent.objects.filter(processed_at__isnull=False).count() == 3


@pytest.mark.django_db
def test_an_old_open_state_event_does_not_replace_a_newer_next_action(order, stripe_server, client):
    payment = start(order, "wechat_pay")
    qr = dict(payment.next_action)
    intent = stripe_server.intents[payment.provider_reference]
    now = int(time.time())
    action = stripe_server.event("payment_intent.requires_action", intent, created=now - 5)
    created = stripe_server.event(
        "payment_intent.created", {**intent, "status": "requires_payment_method", "next_action": None}, created=now - 9
    )
    post_webhook(client, action)
    response = post_webhook(client, created)
    payment.refresh_from_db()
    assert payment.state == "requires_action" and payment.next_action == qr
    assert response.json()["outcome"] == f"ignored: payment {payment.pk} already has a newer event"


@pytest.mark.django_db
def test_a_failed_payment_event_fails_the_payment(order, stripe_server, client):
    payment = start(order)
    intent = stripe_server.set_intent(
        payment.provider_reference,
        status="requires_payment_method",
        last_payment_error={"type": "card_error", "code": "card_declined", "decline_code": "expired_card"},
    )
    post_webhook(client, stripe_server.event("payment_intent.payment_failed", intent))
    payment.refresh_from_db()
    assert payment.state == "failed" and payment.failure_code == "expired_card"
    assert payment.failure_message == "The card has expired."


@pytest.mark.django_db
def test_an_event_overtaking_our_own_create_call_finds_the_payment_by_its_attempt(order, stripe_server, client):
    payment = start(order)
    reference = payment.provider_reference
    Payment.objects.filter(pk=payment.pk).update(provider_reference="")  # our answer not stored yet
    intent = stripe_server.set_intent(reference, status="succeeded")
    response = post_webhook(client, stripe_server.event("payment_intent.succeeded", intent))
    payment.refresh_from_db()
    assert response.status_code == 200
    assert payment.state == "captured" and payment.provider_reference == reference


@pytest.mark.django_db
def test_an_event_for_an_unknown_intent_is_stored_and_left_to_reconciliation(stripe_server, client):
    intent = {
        "id": "pi_3NotOurs",
        "object": "payment_intent",
        "amount": 500,
        "amount_received": 500,
        "currency": "usd",
        "status": "succeeded",
        "metadata": {},
    }
    event = stripe_server.event("payment_intent.succeeded", intent)
    response = post_webhook(client, event)
    assert response.status_code == 200 and response.json()["outcome"] == "unmatched"
    inbox = ProviderEvent.objects.get(event_id=event["id"])
    assert inbox.processed_at is None and inbox.outcome == "unmatched"
    assert post_webhook(client, event).json()["outcome"] == "duplicate"


@pytest.mark.django_db
def test_refund_events_settle_a_refund_left_pending(order, stripe_server, client):
    payment = start(order)
    stripe_server.set_intent(payment.provider_reference, status="succeeded")
    payment = confirm_payment(payment, params={})
    stripe_server.refund_status = "pending"
    refund = refund_payment(payment.pk, eur("10.00"), reason="late parcel", idempotency_key="refund-pending")
    assert refund.state == "pending" and refund.provider_reference.startswith("re_")

    stripe_refund = {**stripe_server.refunds[refund.provider_reference], "status": "succeeded"}
    response = post_webhook(client, stripe_server.event("refund.updated", stripe_refund))

    assert response.json()["outcome"] == f"refund {refund.pk}: succeeded"
    refund.refresh_from_db()
    assert refund.state == "succeeded"


@pytest.mark.django_db
def test_a_refund_whose_answer_was_lost_is_found_by_its_key(order, stripe_server, client):
    payment = start(order)
    stripe_server.set_intent(payment.provider_reference, status="succeeded")
    payment = confirm_payment(payment, params={})
    stripe_server.script("POST", "/v1/refunds", 500, api_error())
    refund = refund_payment(payment.pk, eur("10.00"), reason="x", idempotency_key="refund-lost")
    assert refund.state == "pending" and refund.provider_reference == ""

    failed = {
        "id": "re_3Lost",
        "object": "refund",
        "amount": 1000,
        "currency": "eur",
        "payment_intent": payment.provider_reference,
        "metadata": {"refund_key": "refund-lost"},
        "status": "failed",
        "failure_reason": "expired_or_canceled_card",
    }
    response = post_webhook(client, stripe_server.event("refund.failed", failed))

    assert response.status_code == 200
    refund.refresh_from_db()
    payment.refresh_from_db()
    assert refund.state == "failed" and refund.provider_reference == "re_3Lost"
    assert payment.state == "captured" and payment.refunded == eur("0")
    assert Refund.objects.count() == 1


@pytest.mark.django_db
def test_webhooks_need_csrf_no_token_but_post_and_a_configured_secret(order, stripe_server, settings):
    csrf_client = Client(enforce_csrf_checks=True)
    payment = start(order)
    assert post_webhook(csrf_client, succeeded_event(stripe_server, payment)).status_code == 200
    assert csrf_client.get("/webhooks/stripe/").status_code == 405
    settings.STRIPE_WEBHOOK_SECRET = ""
    assert post_webhook(csrf_client, stripe_server.event("payment_intent.created", {"id": "x"})).status_code == 404


@pytest.mark.django_db
def test_a_signed_body_that_is_not_an_event_is_refused(stripe_server, client):
    assert post_webhook(client, "not json").status_code == 400
    assert post_webhook(client, json.dumps({"hello": "world"})).status_code == 400
    assert ProviderEvent.objects.count() == 0


@pytest.mark.django_db
def test_an_unhandled_event_type_is_recorded_and_answered(stripe_server, client):
    event = stripe_server.event("customer.created", {"id": "cus_1", "object": "customer"})
    response = post_webhook(client, event)
    assert response.status_code == 200 and response.json()["outcome"] == "not handled"
    assert ProviderEvent.objects.get(event_id=event["id"]).processed_at is not None


# --- Races, on PostgreSQL with real threads ----------------------------------------------------------


def run_in_threads(*jobs):
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)
    errors: list = []

    def run(i, job):
        try:
            barrier.wait(timeout=10)
            results[i] = job()
        except Exception as exc:  # noqa: BLE001 (reported to the test below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_identical_webhooks_in_parallel_capture_once(order, stripe_server, captured_signals):
    payment = start(order)
    event = succeeded_event(stripe_server, payment)
    payload = json.dumps(event)
    header = sign(payload)

    def deliver():
        return Client().post(
            "/webhooks/stripe/", data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
        )

    responses = run_in_threads(deliver, deliver)

    assert [r.status_code for r in responses] == [200, 200]
    outcomes = sorted(r.json()["outcome"] for r in responses)
    assert outcomes == ["duplicate", f"payment {payment.pk}: pending -> captured"]
    payment.refresh_from_db()
    assert payment.state == "captured" and payment.captured == order.due_at_checkout
    assert PaymentEvent.objects.filter(payment=payment, to_state="captured").count() == 1
    assert ProviderEvent.objects.filter(event_id=event["id"]).count() == 1
    assert captured_signals == [payment.pk]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_webhook_and_the_browsers_return_racing_capture_once(order, stripe_server, captured_signals):
    payment = start(order)
    event = succeeded_event(stripe_server, payment)

    def webhook():
        return post_webhook(Client(), event).status_code

    def browser_return():
        return confirm_payment(Payment.objects.get(pk=payment.pk), params={}).state

    assert sorted(map(str, run_in_threads(webhook, browser_return))) == ["200", "captured"]
    payment.refresh_from_db()
    assert payment.state == "captured" and payment.captured == order.due_at_checkout
    assert PaymentEvent.objects.filter(payment=payment, to_state="captured").exclude(from_state="captured").count() == 1
    assert captured_signals == [payment.pk]
