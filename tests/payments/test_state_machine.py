from __future__ import annotations

import pytest
from djmoney.money import Money

from payments import signals
from payments.base import ProviderResult
from payments.exceptions import IllegalTransition, InvalidAmount, MethodUnavailable, UnknownMethod
from payments.models import AppendOnlyError, Payment, PaymentEvent, Refund
from payments.services import apply_result, cancel_payment, capture_payment, refund_payment, start_payment

from .conftest import ctx_for, eur

pytestmark = pytest.mark.django_db


def start(order, scripted):
    return start_payment(order, method_code="scripted", ctx=ctx_for(order), return_url="/back/")


def test_every_state_lists_its_transitions_and_nothing_else_is_allowed():
    states = set(Payment.State.values)
    assert set(Payment.TRANSITIONS) == states
    for targets in Payment.TRANSITIONS.values():
        assert targets <= states
    payment = Payment(state=Payment.State.FAILED)
    assert not any(payment.can_become(s) for s in states)


def test_start_authorizes_and_a_second_start_returns_the_same_payment(order, scripted):
    first = start(order, scripted)
    second = start(order, scripted)
    assert first == second and first.state == "authorized" and first.amount == order.total
    assert [name for name, _ in scripted.calls] == ["start"]
    assert list(first.events.values_list("kind", "to_state")) == [("created", "pending"), ("started", "authorized")]


def test_unknown_method_and_unsupported_currency_change_nothing(order, scripted):
    with pytest.raises(UnknownMethod):
        start_payment(order, method_code="bitcoin", ctx=ctx_for(order), return_url="/")
    scripted.currencies = frozenset({"JPY"})
    try:
        with pytest.raises(MethodUnavailable):
            start(order, scripted)
    finally:
        scripted.currencies = None
    assert Payment.objects.count() == 0


def test_illegal_transitions_are_refused(order, scripted):
    payment = start(order, scripted)
    with pytest.raises(IllegalTransition):
        refund_payment(payment.pk, eur("1"), reason="x", idempotency_key="r1")  # authorized, nothing captured
    with pytest.raises(IllegalTransition):
        apply_result(payment.pk, ProviderResult(state="pending"), kind=PaymentEvent.Kind.CAPTURE)
    cancel_payment(payment.pk)
    with pytest.raises(IllegalTransition):
        capture_payment(payment.pk)
    payment.refresh_from_db()
    assert payment.state == "cancelled" and payment.captured == eur("0")


def test_a_stale_provider_report_is_logged_not_applied(order, scripted):
    payment = capture_payment(start(order, scripted).pk)
    apply_result(payment.pk, ProviderResult(state="pending"), kind=PaymentEvent.Kind.PROVIDER)
    payment.refresh_from_db()
    assert payment.state == "captured"
    assert payment.events.last().kind == "ignored"


def test_partial_capture_then_retry_with_the_same_key_captures_once(
    order, scripted, django_capture_on_commit_callbacks
):
    payment = start(order, scripted)
    captured = []
    signals.payment_captured.connect(lambda **kw: captured.append(kw["payment_id"]), weak=False, dispatch_uid="t")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            capture_payment(payment.pk, eur("50.005"), idempotency_key="cap-1")
            capture_payment(payment.pk, eur("50.005"), idempotency_key="cap-1")
    finally:
        signals.payment_captured.disconnect(dispatch_uid="t")
    payment.refresh_from_db()
    assert payment.captured == eur("50.01")  # rounded once, half up
    assert [name for name, _ in scripted.calls].count("capture") == 1
    assert captured == [payment.pk]


def test_capture_more_than_authorized_is_refused(order, scripted):
    payment = start(order, scripted)
    with pytest.raises(InvalidAmount):
        capture_payment(payment.pk, order.total + eur("0.01"))
    with pytest.raises(InvalidAmount):
        capture_payment(payment.pk, Money(1, "USD"))
    payment.refresh_from_db()
    assert payment.state == "authorized"


def test_refunds_partial_then_full_and_never_above_captured(order, scripted):
    payment = capture_payment(start(order, scripted).pk)
    total = payment.captured
    refund_payment(payment.pk, eur("10"), reason="scratched", idempotency_key="r1")
    refund_payment(payment.pk, eur("10"), reason="scratched", idempotency_key="r1")  # retry: same refund
    payment.refresh_from_db()
    assert payment.state == "partially_refunded" and payment.refunded == eur("10")
    for bad in (eur("0"), eur("-1"), total, Money(5, "USD")):
        with pytest.raises(InvalidAmount):
            refund_payment(payment.pk, bad, reason="x", idempotency_key=f"bad-{bad}")
    refund_payment(payment.pk, total - eur("10"), reason="returned", idempotency_key="r2")
    payment.refresh_from_db()
    assert payment.state == "refunded" and payment.refunded == total
    assert Refund.objects.filter(state="succeeded").count() == 2
    assert [name for name, _ in scripted.calls].count("refund") == 2


def test_a_refused_refund_gives_the_amount_back_to_refundable(order, scripted):
    payment = capture_payment(start(order, scripted).pk)
    scripted.answers["refund"] = ProviderResult(state="failed", failure_message="insufficient balance")
    refund = refund_payment(payment.pk, eur("10"), reason="x", idempotency_key="r1")
    payment.refresh_from_db()
    assert refund.state == "failed"
    assert payment.state == "captured" and payment.refunded == eur("0")


def test_events_are_append_only(order, scripted):
    payment = start(order, scripted)
    event = payment.events.first()
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        PaymentEvent.objects.filter(payment=payment).update(kind="x")
    with pytest.raises(AppendOnlyError):
        PaymentEvent.objects.all().delete()


def test_after_a_failure_a_new_attempt_may_start(order, scripted):
    scripted.answers["start"] = ProviderResult(state="failed", failure_code="card_declined")
    failed = start(order, scripted)
    assert failed.state == "failed" and failed.failure_code == "card_declined"
    scripted.answers["start"] = ProviderResult(state="captured")
    retry = start(order, scripted)
    assert retry.pk != failed.pk and retry.state == "captured"
    assert Payment.objects.filter(order=order, state="captured").count() == 1
