"""The only code that changes a payment (STYLE.md, 6): every change locks the row, checks
``Payment.TRANSITIONS``, appends a ``PaymentEvent`` and announces itself after the commit.

Idempotency works at two levels. Each provider call carries a key derived from the payment's
``attempt`` (or given by the caller), and the event written for it stores that key under a
unique constraint: a retried capture or refund with the same key finds its event and moves no
money twice. Provider callbacks are recorded once per (provider, event id) in ``ProviderEvent``.
A report that arrives after the payment moved past it (a "processing" webhook after the
capture) is logged as ``ignored``, never applied backwards.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from djmoney.money import Money

from marketplace.money import round_money

from . import signals
from .base import PaymentContext, ProviderResult
from .exceptions import IllegalTransition, InvalidAmount, MethodUnavailable, PaymentError
from .models import Payment, PaymentEvent, ProviderEvent, Refund
from .registry import get_method

logger = logging.getLogger(__name__)

State = Payment.State

_SIGNALS_FOR_STATE = {
    State.PENDING: signals.payment_pending,
    State.REQUIRES_ACTION: signals.payment_pending,
    State.AUTHORIZED: signals.payment_secured,
    State.FAILED: signals.payment_failed,
    State.CANCELLED: signals.payment_cancelled,
}


def _announce(signal: Any, payment: Payment, **extra: Any) -> None:
    payment_id, order_id, state = payment.pk, payment.order_id, payment.state

    def send() -> None:
        signal.send(sender=Payment, payment_id=payment_id, order_id=order_id, state=state, **extra)

    transaction.on_commit(send)


def _lock(payment_id: int) -> Payment:
    return Payment.objects.select_for_update().get(pk=payment_id)


def _key_used(key: str) -> bool:
    return bool(key) and PaymentEvent.objects.filter(idempotency_key=key).exists()


def _event(
    payment: Payment, kind: str, *, from_state: str, result: ProviderResult | None = None, **fields: Any
) -> None:
    PaymentEvent.objects.create(
        payment=payment,
        kind=kind,
        from_state=from_state,
        to_state=payment.state,
        provider_reference=(result.reference if result else "") or payment.provider_reference,
        payload=(result.payload if result else {}) or {},
        **fields,
    )


# --- Applying what the provider says -------------------------------------------------------------


@transaction.atomic
def apply_result(payment_id: int, result: ProviderResult, *, kind: str, idempotency_key: str = "") -> Payment:
    """Move the payment to what ``result`` reports. Safe to call twice with the same report: the
    second call finds the payment already there (or past it) and only logs that it was ignored."""
    payment = _lock(payment_id)
    if _key_used(idempotency_key):
        return payment
    before = payment.state
    target = result.state
    if result.reference and not payment.provider_reference:
        payment.provider_reference = result.reference
    if target == before and target != State.PARTIALLY_REFUNDED:
        if result.next_action.kind != "none" and result.next_action.as_dict() != payment.next_action:
            payment.next_action = result.next_action.as_dict()
            payment.save(update_fields=["next_action", "provider_reference", "updated_at"])
        _event(
            payment,
            PaymentEvent.Kind.IGNORED if kind == PaymentEvent.Kind.PROVIDER else kind,
            from_state=before,
            result=result,
            idempotency_key=idempotency_key,
        )
        if target in (State.PENDING, State.REQUIRES_ACTION):
            _announce(signals.payment_pending, payment)
        return payment
    if not payment.can_become(target):
        if kind in (PaymentEvent.Kind.PROVIDER, PaymentEvent.Kind.CONFIRMED, PaymentEvent.Kind.RECONCILE):
            # Out of order or stale: the payment already moved past this report.
            _event(
                payment, PaymentEvent.Kind.IGNORED, from_state=before, result=result, idempotency_key=idempotency_key
            )
            return payment
        raise IllegalTransition(before, target)
    payment.state = target
    payment.next_action = result.next_action.as_dict()
    if target == State.FAILED:
        payment.failure_code = result.failure_code[:64]
        payment.failure_message = result.failure_message[:255]
    amount = None
    if target == State.CAPTURED:
        amount = round_money(result.amount) if result.amount is not None else payment.amount
        if amount.currency != payment.amount.currency or amount > payment.amount or amount.amount <= 0:
            raise InvalidAmount(_("The captured amount does not match the payment."))
        payment.captured = amount
    payment.save()
    _event(payment, kind, from_state=before, result=result, amount=amount, idempotency_key=idempotency_key)
    if target == State.CAPTURED:
        _announce(signals.payment_secured, payment)
        _announce(signals.payment_captured, payment)
    elif target in _SIGNALS_FOR_STATE:
        _announce(_SIGNALS_FOR_STATE[target], payment)
    return payment


# --- Starting and confirming ----------------------------------------------------------------------


def live_payment(order_id: int) -> Payment | None:
    return Payment.objects.filter(order_id=order_id, state__in=Payment.LIVE_STATES).first()


def start_payment(order: Any, *, method_code: str, ctx: PaymentContext, return_url: str) -> Payment:
    """Start paying ``order`` (an ``orders.Order``) with ``method_code`` for what is due at
    checkout. Idempotent: while a live payment exists for the order it is returned unchanged, so
    a double click never opens a second attempt; after a failure a new attempt starts."""
    method = get_method(method_code)
    reason = method.unavailable_reason(ctx)
    if reason is not None:
        raise MethodUnavailable(reason)
    amount = round_money(order.due_at_checkout)  # under DAP the carrier collects the rest at the door
    if existing := live_payment(order.pk):
        return existing
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                order=order,
                method=method.code,
                amount=amount,
                captured=Money(0, amount.currency),
                refunded=Money(0, amount.currency),
            )
            _event(payment, PaymentEvent.Kind.CREATED, from_state="", amount=amount)
    except IntegrityError:  # a concurrent start for the same order won
        if existing := live_payment(order.pk):
            return existing
        raise
    key = f"{payment.attempt}:start"
    try:
        result = method.start(payment, return_url=return_url, idempotency_key=key)
    except PaymentError as exc:
        return apply_result(
            payment.pk,
            ProviderResult(state=State.FAILED, failure_code="provider_error", failure_message=exc.message),
            kind=PaymentEvent.Kind.STARTED,
            idempotency_key=key,
        )
    return apply_result(payment.pk, result, kind=PaymentEvent.Kind.STARTED, idempotency_key=key)


def confirm_payment(payment: Payment, *, params: dict[str, Any]) -> Payment:
    """The buyer is back from the provider (redirect, 3-D Secure, demo form): apply what the
    provider says now. Whichever of this and the webhook comes first wins; the other is a no-op."""
    method = get_method(payment.method)
    result = method.confirm(payment, params=params)
    return apply_result(payment.pk, result, kind=PaymentEvent.Kind.CONFIRMED)


def record_provider_event(provider: str, event_id: str, type: str, payload: dict[str, Any]) -> ProviderEvent | None:
    """Store a provider callback once. Returns None for a replay (already received)."""
    try:
        with transaction.atomic():
            return ProviderEvent.objects.create(provider=provider, event_id=event_id, type=type, payload=payload)
    except IntegrityError:
        return None


# --- Capture, cancel, refund ------------------------------------------------------------------------


def capture_payment(payment_id: int, amount: Money | None = None, *, idempotency_key: str = "") -> Payment:
    """Capture an authorized payment, fully or partly. Retrying with the same key moves money once."""
    payment = Payment.objects.get(pk=payment_id)
    key = idempotency_key or f"{payment.attempt}:capture"
    if _key_used(key):
        return payment
    if not payment.can_become(State.CAPTURED):
        raise IllegalTransition(payment.state, State.CAPTURED)
    amount = round_money(amount) if amount is not None else payment.amount
    if amount.currency != payment.amount.currency:
        raise InvalidAmount(_("The amount must be in %(currency)s.") % {"currency": payment.amount.currency.code})
    if amount.amount <= 0 or amount > payment.amount:
        raise InvalidAmount(_("The capture must be more than zero and at most the authorized amount."))
    result = get_method(payment.method).capture(payment, amount, idempotency_key=key)
    if result.amount is None:
        result = ProviderResult(**{**result.__dict__, "amount": amount})
    return apply_result(payment.pk, result, kind=PaymentEvent.Kind.CAPTURE, idempotency_key=key)


def cancel_payment(payment_id: int, *, idempotency_key: str = "") -> Payment:
    """Void a payment that took no money yet (pending, waiting for the buyer, or authorized)."""
    payment = Payment.objects.get(pk=payment_id)
    key = idempotency_key or f"{payment.attempt}:cancel"
    if _key_used(key) or payment.state == State.CANCELLED:
        return payment
    if not payment.can_become(State.CANCELLED):
        raise IllegalTransition(payment.state, State.CANCELLED)
    result = get_method(payment.method).cancel(payment, idempotency_key=key)
    return apply_result(payment.pk, result, kind=PaymentEvent.Kind.CANCEL, idempotency_key=key)


def refund_payment(
    payment_id: int,
    amount: Money,
    *,
    reason: str,
    idempotency_key: str,
    lines: list[dict[str, int]] | None = None,
    restock: bool = False,
    created_by: Any = None,
) -> Refund:
    """Give back ``amount`` of a captured payment. Refused (nothing changes) for a zero, negative,
    wrong-currency amount or more than is left to refund. The same key returns the same refund."""
    if (existing := Refund.objects.filter(idempotency_key=idempotency_key).first()) is not None:
        return existing
    if not reason.strip():
        raise InvalidAmount(_("Give a reason for the refund."))
    with transaction.atomic():
        payment = _lock(payment_id)
        amount = round_money(amount)
        if amount.currency != payment.amount.currency:
            raise InvalidAmount(_("The refund must be in %(currency)s.") % {"currency": payment.amount.currency.code})
        if amount.amount <= 0:
            raise InvalidAmount(_("The refund must be more than zero."))
        if payment.state not in (State.CAPTURED, State.PARTIALLY_REFUNDED):
            raise IllegalTransition(payment.state, State.REFUNDED)
        if amount > payment.refundable:
            raise InvalidAmount(_("At most %(amount)s can still be refunded.") % {"amount": payment.refundable})
        refund = Refund.objects.create(
            payment=payment,
            amount=amount,
            reason=reason.strip()[:255],
            lines=lines or [],
            restock=restock,
            idempotency_key=idempotency_key,
            created_by=created_by,
        )
        # Count it as refunded now, so a concurrent refund cannot exceed what was captured.
        before = payment.state
        payment.refunded += amount
        payment.state = State.REFUNDED if payment.refunded == payment.captured else State.PARTIALLY_REFUNDED
        payment.save()
        _event(payment, PaymentEvent.Kind.REFUND, from_state=before, amount=amount, idempotency_key=idempotency_key)
    try:
        result = get_method(payment.method).refund(payment, amount, idempotency_key=idempotency_key)
    except PaymentError as exc:
        result = ProviderResult(state=Refund.State.FAILED, failure_message=exc.message)
    return _settle_refund(refund.pk, result)


@transaction.atomic
def _settle_refund(refund_id: int, result: ProviderResult) -> Refund:
    refund = Refund.objects.select_for_update().get(pk=refund_id)
    if refund.state != Refund.State.PENDING:
        return refund
    payment = _lock(refund.payment_id)
    refund.provider_reference = result.reference or refund.provider_reference
    if result.state == Refund.State.FAILED:
        # The provider refused: the amount counts as refundable again.
        before = payment.state
        payment.refunded -= refund.amount
        payment.state = State.CAPTURED if payment.refunded.amount == 0 else State.PARTIALLY_REFUNDED
        Payment.objects.filter(pk=payment.pk).update(state=payment.state, refunded=payment.refunded)
        _event(payment, PaymentEvent.Kind.REFUND, from_state=before, result=result, amount=-refund.amount)
        refund.state = Refund.State.FAILED
        refund.save(update_fields=["state", "provider_reference", "updated_at"])
        logger.warning("refund %s failed: %s", refund.pk, result.failure_message)
        return refund
    if result.state == Refund.State.SUCCEEDED:
        refund.state = Refund.State.SUCCEEDED
        refund.save(update_fields=["state", "provider_reference", "updated_at"])
        _announce(signals.payment_refunded, payment, refund_id=refund.pk)
    else:
        refund.save(update_fields=["provider_reference", "updated_at"])
    return refund


def settle_refund(refund_id: int, result: ProviderResult) -> Refund:
    """A provider reports the outcome of a pending refund (webhook or reconciliation)."""
    return _settle_refund(refund_id, result)
