# ruff: noqa: F811  (pytest fixtures imported from stripe_server and the orders conftest)
"""Reconciliation of payments left pending: ask the provider (``method.retrieve``), apply its answer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from orders.models import Cart, CartLine
from orders.services import Address, place_order, start_checkout
from payments.base import ProviderResult
from payments.models import Payment, PaymentEvent
from payments.services import start_payment
from payments.tasks import (
    due_for_reconciliation,
    reconcile_payment_batch,
    reconcile_pending_payments,
)
from tests.orders.conftest import ADDRESS_DE

from .conftest import ScriptedMethod, ctx_for
from .stripe_server import STRIPE_METHODS, api_error, stripe_server  # noqa: F401

pytestmark = pytest.mark.django_db


def another_order(shop: dict[str, Any], buyer: Any):
    cart = Cart.objects.create(user=buyer)
    CartLine.objects.create(cart=cart, variant=shop["oil"], quantity=1)
    checkout = start_checkout(cart, buyer=buyer, address=Address(**ADDRESS_DE), currency="EUR", language="en")
    return place_order(checkout.token, buyer=buyer)


def start(order, code="card"):
    return start_payment(order, method_code=code, ctx=ctx_for(order), return_url="https://shop.example/return/")


def age(payment: Payment, minutes: int) -> None:
    """The payment last changed ``minutes`` ago."""
    then = timezone.now() - timedelta(minutes=minutes)
    Payment.objects.filter(pk=payment.pk).update(updated_at=then, created_at=then)


def test_a_pending_stripe_payment_is_settled_by_asking_stripe(order, stripe_server):
    payment = start(order)
    stripe_server.set_intent(payment.provider_reference, status="succeeded")
    age(payment, 20)

    assert reconcile_pending_payments.delay().get() == 1

    payment.refresh_from_db()
    assert payment.state == "captured" and payment.captured == order.due_at_checkout
    event = payment.events.get(kind="reconcile")
    assert (event.from_state, event.to_state) == ("pending", "captured")
    assert [r.path for r in stripe_server.calls("GET", "/v1/payment_intents/")] == [
        f"/v1/payment_intents/{payment.provider_reference}"
    ]


def test_reconciliation_is_idempotent_and_quiet_about_unchanged_payments(order, stripe_server, shop, buyer):
    settled = start(order)
    stripe_server.set_intent(settled.provider_reference, status="requires_capture")
    waiting = start(another_order(shop, buyer))  # the buyer never entered a card
    age(settled, 30)
    age(waiting, 30)

    reconcile_pending_payments.delay()
    reconcile_pending_payments.delay()

    settled.refresh_from_db()
    waiting.refresh_from_db()
    assert settled.state == "authorized" and waiting.state == "pending"
    assert PaymentEvent.objects.filter(kind="reconcile").count() == 1  # the change, once
    assert waiting.events.filter(kind="reconcile").count() == 0  # "still pending" is not logged
    # The authorized one is no longer asked about; the waiting one is, each time.
    asked = [r.path.rsplit("/", 1)[1] for r in stripe_server.calls("GET", "/v1/payment_intents/")]
    assert asked.count(settled.provider_reference) == 1 and asked.count(waiting.provider_reference) == 2


def test_only_payments_quiet_long_enough_and_not_too_old_are_due(order, stripe_server, shop, buyer, settings):
    recent = start(order)
    stale = start(another_order(shop, buyer))
    ancient = start(another_order(shop, buyer))
    age(recent, settings.PAYMENT_RECONCILE_AFTER_MINUTES - 1)
    age(stale, settings.PAYMENT_RECONCILE_AFTER_MINUTES + 1)
    age(ancient, settings.PAYMENT_RECONCILE_MAX_AGE_HOURS * 60 + 1)
    captured = start(another_order(shop, buyer))
    stripe_server.set_intent(captured.provider_reference, status="succeeded")
    reconcile_payment_batch([captured.pk])  # settled, no longer open
    age(captured, 60)

    assert due_for_reconciliation() == [stale.pk]


def test_requires_action_payment_whose_buyer_gave_up_fails(order, stripe_server):
    payment = start(order, "alipay")
    assert payment.state == "requires_action"
    stripe_server.set_intent(
        payment.provider_reference,
        status="requires_payment_method",
        last_payment_error={"type": "invalid_request_error", "code": "payment_method_provider_decline"},
    )
    age(payment, 20)
    reconcile_pending_payments.delay()
    payment.refresh_from_db()
    assert payment.state == "failed" and payment.failure_code == "payment_method_provider_decline"


def test_a_payment_whose_start_answer_was_lost_is_found_by_its_attempt(order, stripe_server):
    payment = start(order)
    reference = payment.provider_reference
    stripe_server.set_intent(reference, status="succeeded")
    Payment.objects.filter(pk=payment.pk).update(provider_reference="")
    age(payment, 20)

    reconcile_pending_payments.delay()

    [search] = stripe_server.calls("GET", "/v1/payment_intents/search")
    assert search.query["query"] == f"metadata['payment_attempt']:'{payment.attempt}'"
    payment.refresh_from_db()
    assert payment.state == "captured" and payment.provider_reference == reference


def test_a_payment_that_never_reached_stripe_fails(order, stripe_server):
    payment = start(order)
    stripe_server.intents.clear()  # Stripe never saw it
    Payment.objects.filter(pk=payment.pk).update(provider_reference="")
    age(payment, 20)
    reconcile_pending_payments.delay()
    payment.refresh_from_db()
    assert payment.state == "failed" and payment.failure_code == "not_started"


def test_provider_errors_retry_the_batch_with_backoff(order, stripe_server, shop, buyer):
    flaky = start(order)
    fine = start(another_order(shop, buyer))
    for payment in (flaky, fine):
        stripe_server.set_intent(payment.provider_reference, status="succeeded")
        age(payment, 20)
    stripe_server.script("GET", rf"/v1/payment_intents/{flaky.provider_reference}", 500, api_error())

    # Eager in tests: the retry runs at once (a worker waits with backoff and jitter).
    changed = reconcile_payment_batch.delay([flaky.pk, fine.pk]).get()

    flaky.refresh_from_db()
    fine.refresh_from_db()
    assert flaky.state == fine.state == "captured"
    assert changed == 1  # the rerun: "fine" was already done by the first run
    asked = [r.path.rsplit("/", 1)[1] for r in stripe_server.calls("GET", "/v1/payment_intents/")]
    assert asked.count(flaky.provider_reference) == 2 and asked.count(fine.provider_reference) == 1
    assert PaymentEvent.objects.filter(kind="reconcile").count() == 2
    assert reconcile_payment_batch.retry_backoff is True and reconcile_payment_batch.max_retries == 8
    assert reconcile_payment_batch.queue == "payments"


def test_payments_are_reconciled_in_batches(order, stripe_server, shop, buyer, settings, monkeypatch):
    settings.PAYMENT_RECONCILE_BATCH_SIZE = 2
    payments = [start(order), start(another_order(shop, buyer)), start(another_order(shop, buyer))]
    for payment in payments:
        age(payment, 20)
    batches = []
    monkeypatch.setattr(reconcile_payment_batch, "delay", lambda ids: batches.append(ids))

    assert reconcile_pending_payments() == 3

    assert sorted(map(len, batches)) == [1, 2]
    assert sorted(pk for batch in batches for pk in batch) == sorted(p.pk for p in payments)


class ReconcilableMethod(ScriptedMethod):
    """Any method implementing ``retrieve`` takes part (the demo gateway's too)."""

    code = "reconcilable"

    def start(self, payment, *, return_url, idempotency_key):
        return ProviderResult(state="requires_action", reference="demo-1")

    def retrieve(self, payment):
        type(self).calls.append(("retrieve", ""))
        return type(self).answers.get("retrieve", ProviderResult(state="requires_action", reference="demo-1"))


def test_any_method_with_retrieve_is_reconciled_and_others_are_skipped(order, shop, buyer, settings):
    settings.PAYMENT_METHODS = {
        "reconcilable": "tests.payments.test_reconcile.ReconcilableMethod",
        "scripted": "tests.payments.conftest.ScriptedMethod",
    }
    ReconcilableMethod.calls, ReconcilableMethod.answers = [], {}
    ScriptedMethod.answers = {"start": ProviderResult(state="pending", reference="sc-1")}
    other = start_payment(another_order(shop, buyer), method_code="scripted", ctx=ctx_for(order), return_url="/")
    payment = start_payment(order, method_code="reconcilable", ctx=ctx_for(order), return_url="/")
    ReconcilableMethod.answers["retrieve"] = ProviderResult(state="authorized", reference="demo-1")
    age(payment, 20)
    age(other, 20)

    reconcile_pending_payments.delay()

    payment.refresh_from_db()
    other.refresh_from_db()
    assert payment.state == "authorized" and other.state == "pending"
    assert ReconcilableMethod.calls == [("retrieve", "")]


def test_reconciliation_runs_on_beat():
    entry = django_settings.CELERY_BEAT_SCHEDULE["reconcile-pending-payments"]
    assert entry["task"] == "payments.tasks.reconcile_pending_payments"
    assert reconcile_pending_payments.name == entry["task"]
    assert STRIPE_METHODS["card"] == "payments.methods.stripe.StripeCard"
