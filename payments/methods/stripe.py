"""Cards and e-wallets through Stripe PaymentIntents (the real SDK, ``payments.stripe_client``).

One PaymentIntent per payment attempt: ``start`` creates it (idempotency key from the attempt,
the attempt's UUID in ``metadata[payment_attempt]`` so a webhook can find the payment even before
the intent id is stored) and returns what the browser must do next; ``confirm`` (the browser is
back), ``retrieve`` (reconciliation) and the webhook all read the intent and map its status
through ``intent_result``, the one mapping of Stripe statuses to ``Payment`` states:

    requires_payment_method   pending (client secret: Stripe.js collects the card), or failed
                              when it carries a ``last_payment_error`` (declined, 3-D Secure failed)
    requires_confirmation     pending (client secret)
    requires_action           requires_action: redirect (``redirect_to_url``,
                              ``alipay_handle_redirect``), QR (``wechat_pay_display_qr_code``) or
                              client secret (``use_stripe_sdk``: Stripe.js runs 3-D Secure)
    processing                pending
    requires_capture          authorized
    succeeded                 captured (``amount_received``)
    canceled                  cancelled

Cards authorize only (``capture_method=manual``) where the order's market has ``manual_capture``;
the wallets here do not support manual capture on Stripe, so they always capture at once.
Currencies are the presentment currencies Stripe documents for each wallet
(docs.stripe.com/payments/alipay, /wechat-pay, /grabpay). Amounts go through
``payments.amounts.to_minor_units(money, "stripe")`` and come back through ``from_minor_units``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import stripe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from djmoney.money import Money

from ..amounts import from_minor_units, to_minor_units
from ..base import NextAction, PaymentMethod, ProviderResult
from ..models import Payment, Refund
from ..stripe_client import (
    PROVIDER,
    StripeProviderError,
    as_dict,
    failure_from_error,
    get_client,
    options,
    provider_error,
    stripe_errors,
)

State = Payment.State

# Never kept in what we log or store as a provider payload: it lets anyone holding the
# publishable key confirm the intent. Only ``Payment.next_action`` carries it, for the buyer.
SECRET_FIELDS = frozenset({"client_secret"})


def redacted(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in SECRET_FIELDS}


def _next_action(intent: Mapping[str, Any]) -> NextAction:
    action = intent.get("next_action") or {}
    kind = action.get("type", "")
    if kind == "redirect_to_url":
        return NextAction(kind=NextAction.REDIRECT, url=action["redirect_to_url"]["url"])
    if kind == "alipay_handle_redirect":
        return NextAction(kind=NextAction.REDIRECT, url=action["alipay_handle_redirect"]["url"])
    if kind == "wechat_pay_display_qr_code":
        qr = action["wechat_pay_display_qr_code"]
        # qr_data: what the QR encodes (the page draws it); url: Stripe's hosted page showing it.
        return NextAction(kind=NextAction.QR, qr_data=qr.get("data") or "", url=qr.get("hosted_instructions_url") or "")
    # use_stripe_sdk (3-D Secure in Stripe.js) and anything newer: Stripe.js knows what to do.
    return NextAction(kind=NextAction.CLIENT_SECRET, client_secret=intent.get("client_secret") or "")


def intent_result(intent: Mapping[str, Any]) -> ProviderResult:
    """What a PaymentIntent (SDK object or webhook ``data.object``) says the payment now is."""
    intent = as_dict(intent)
    status = intent.get("status")
    reference = str(intent["id"])
    currency = str(intent["currency"]).upper()
    payload = redacted(intent)
    if status == "succeeded":
        received = intent.get("amount_received") or intent["amount"]
        amount = from_minor_units(received, currency, PROVIDER)
        return ProviderResult(state=State.CAPTURED, reference=reference, amount=amount, payload=payload)
    if status == "requires_capture":
        return ProviderResult(state=State.AUTHORIZED, reference=reference, payload=payload)
    if status == "requires_action":
        return ProviderResult(
            state=State.REQUIRES_ACTION, reference=reference, next_action=_next_action(intent), payload=payload
        )
    if status == "processing":
        return ProviderResult(state=State.PENDING, reference=reference, payload=payload)
    if status == "canceled":
        reason = str(intent.get("cancellation_reason") or "")
        return ProviderResult(state=State.CANCELLED, reference=reference, failure_code=reason[:64], payload=payload)
    if status == "requires_payment_method" and intent.get("last_payment_error"):
        code, message = failure_from_error(intent["last_payment_error"])
        return ProviderResult(
            state=State.FAILED, reference=reference, failure_code=code, failure_message=message, payload=payload
        )
    if status in ("requires_payment_method", "requires_confirmation"):
        secret = NextAction(kind=NextAction.CLIENT_SECRET, client_secret=intent.get("client_secret") or "")
        return ProviderResult(state=State.PENDING, reference=reference, next_action=secret, payload=payload)
    raise StripeProviderError(
        _("Stripe reported a payment status this shop does not know: %(status)s.") % {"status": status},
        code="unknown_status",
    )


_REFUND_STATES = {
    "succeeded": Refund.State.SUCCEEDED,
    "pending": Refund.State.PENDING,
    "requires_action": Refund.State.PENDING,  # Stripe waits for the customer's bank details
    "failed": Refund.State.FAILED,
    "canceled": Refund.State.FAILED,
}


def refund_result(refund: Mapping[str, Any]) -> ProviderResult:
    """What a Stripe Refund object says about our ``Refund`` (its ``state`` is a Refund.State)."""
    refund = as_dict(refund)
    status = str(refund.get("status") or "pending")
    state = _REFUND_STATES.get(status, Refund.State.PENDING)
    reason = str(refund.get("failure_reason") or "")
    message = _("Stripe could not refund: %(reason)s.") % {"reason": reason or status} if state == "failed" else ""
    amount = from_minor_units(refund["amount"], str(refund["currency"]).upper(), PROVIDER)
    return ProviderResult(
        state=state,
        reference=str(refund["id"]),
        amount=amount,
        failure_code=reason[:64],
        failure_message=message,
        payload=redacted(refund),
    )


class StripePaymentIntentMethod(PaymentMethod):
    """Shared PaymentIntent flow; subclasses name the Stripe ``payment_method_type``."""

    provider = PROVIDER
    payment_method_type: ClassVar[str]
    supports_manual_capture: ClassVar[bool] = False  # on Stripe, for this payment method type

    # --- What we send ------------------------------------------------------------------------

    def capture_method(self, payment: Payment) -> str:
        """``manual`` where the order's market captures on shipping (and Stripe allows it), else ``automatic``."""
        if not self.supports_manual_capture:
            return "automatic"
        from marketplace.models import Market

        market = Market.objects.filter(country=payment.order.country).only("manual_capture").first()
        return "manual" if market is not None and market.manual_capture else "automatic"

    def metadata(self, payment: Payment) -> dict[str, str]:
        data = {
            "payment_attempt": str(payment.attempt),
            "order_id": str(payment.order_id),
            "order_number": str(payment.order.number),
        }
        if payment.pk:
            data["payment_id"] = str(payment.pk)
        return data

    def start_params(self, payment: Payment, *, return_url: str) -> dict[str, Any]:
        """The type-specific part of ``POST /v1/payment_intents``."""
        return {}

    def create_params(self, payment: Payment, *, return_url: str) -> dict[str, Any]:
        self._check_currency(payment.amount)
        return {
            "amount": to_minor_units(payment.amount, PROVIDER),
            "currency": payment.amount.currency.code.lower(),
            "payment_method_types": [self.payment_method_type],
            "capture_method": self.capture_method(payment),
            "description": _("Order %(number)s") % {"number": payment.order.number},
            "metadata": self.metadata(payment),
            **self.start_params(payment, return_url=return_url),
        }

    def _check_currency(self, amount: Money) -> None:
        if not self.supports_currency(amount.currency.code):
            raise StripeProviderError(
                _("%(method)s does not support %(currency)s.") % {"method": self.label, "currency": amount.currency},
                code="currency_not_supported",
            )

    def _reference(self, payment: Payment) -> str:
        if not payment.provider_reference:
            raise StripeProviderError(_("This payment never reached Stripe."), code="no_reference")
        return payment.provider_reference

    # --- The interface -------------------------------------------------------------------------

    def start(self, payment: Payment, *, return_url: str, idempotency_key: str) -> ProviderResult:
        params = self.create_params(payment, return_url=return_url)
        try:
            intent = get_client().v1.payment_intents.create(params=params, options=options(idempotency_key))  # type: ignore[arg-type]
        except stripe.CardError as exc:
            # Confirmed at creation and declined: Stripe answers 402, the intent inside the error.
            provider_error(exc, _("start the payment"))  # logs it
            error = exc.error.to_dict(for_json=True) if exc.error is not None else {}
            code, message = failure_from_error(error)
            intent = error.get("payment_intent") or {}
            return ProviderResult(
                state=State.FAILED,
                reference=str(intent.get("id") or ""),
                failure_code=code,
                failure_message=message,
                payload={k: v for k, v in error.items() if k != "payment_intent"}
                | {"payment_intent": redacted(intent)},
            )
        except stripe.StripeError as exc:
            raise provider_error(exc, _("start the payment")) from exc
        return intent_result(intent)

    def confirm(self, payment: Payment, *, params: dict[str, Any]) -> ProviderResult:
        """The buyer is back (``?payment_intent=pi_...&redirect_status=...``): the query string
        is not trusted, the intent is read from Stripe."""
        reference = self._reference(payment)
        claimed = params.get("payment_intent")
        if claimed and claimed != reference:
            raise StripeProviderError(_("This return does not belong to this payment."), code="reference_mismatch")
        return self.retrieve(payment)

    def retrieve(self, payment: Payment) -> ProviderResult:
        if not payment.provider_reference:
            return self._find_by_attempt(payment)
        with stripe_errors(_("read the payment")):
            intent = get_client().v1.payment_intents.retrieve(payment.provider_reference)
        return intent_result(intent)

    def _find_by_attempt(self, payment: Payment) -> ProviderResult:
        """A payment whose start never stored an intent id (the process died, or Stripe's answer
        was lost): search Stripe by the attempt in the metadata. None there: it never started."""
        query = f"metadata['payment_attempt']:'{payment.attempt}'"
        with stripe_errors(_("search the payment")):
            found = get_client().v1.payment_intents.search(params={"query": query, "limit": 1})
        if found.data:
            return intent_result(found.data[0])
        return ProviderResult(
            state=State.FAILED,
            failure_code="not_started",
            failure_message=_("The payment never reached Stripe."),
        )

    def capture(self, payment: Payment, amount: Money, *, idempotency_key: str) -> ProviderResult:
        reference = self._reference(payment)
        params = {"amount_to_capture": to_minor_units(amount, PROVIDER)}
        with stripe_errors(_("capture the payment")):
            intent = get_client().v1.payment_intents.capture(
                reference,
                params=params,  # type: ignore[arg-type]
                options=options(idempotency_key),  # type: ignore[arg-type]
            )
        result = intent_result(intent)
        if result.state != State.CAPTURED:
            raise StripeProviderError(
                _("Stripe did not capture the payment (it is %(status)s).") % {"status": intent.status},
                code="not_captured",
            )
        return result

    def cancel(self, payment: Payment, *, idempotency_key: str) -> ProviderResult:
        if not payment.provider_reference:  # nothing was created at Stripe: nothing to void there
            return ProviderResult(state=State.CANCELLED)
        try:
            intent = get_client().v1.payment_intents.cancel(
                payment.provider_reference,
                options=options(idempotency_key),  # type: ignore[arg-type]
            )
        except stripe.InvalidRequestError as exc:
            if exc.code != "payment_intent_unexpected_state":
                raise provider_error(exc, _("cancel the payment")) from exc
            # Already canceled at Stripe (by a webhook-driven flow, the dashboard, expiry): fine.
            current = self.retrieve(payment)
            if current.state != State.CANCELLED:
                raise provider_error(exc, _("cancel the payment")) from exc
            return current
        except stripe.StripeError as exc:
            raise provider_error(exc, _("cancel the payment")) from exc
        return intent_result(intent)

    def refund(self, payment: Payment, amount: Money, *, idempotency_key: str) -> ProviderResult:
        """``POST /v1/refunds`` for ``amount`` of the payment's intent. An ambiguous failure (the
        connection dropped, Stripe 5xx after its retries) leaves the refund pending: the
        ``refund.*`` webhook (matched by ``metadata[refund_key]``) or an operator settles it."""
        params = {
            "payment_intent": self._reference(payment),
            "amount": to_minor_units(amount, PROVIDER),
            "metadata": {"refund_key": idempotency_key, "payment_attempt": str(payment.attempt)},
        }
        try:
            refund = get_client().v1.refunds.create(params=params, options=options(idempotency_key))  # type: ignore[arg-type]
        except stripe.StripeError as exc:
            error = provider_error(exc, _("refund"))
            if error.ambiguous:
                return ProviderResult(state=Refund.State.PENDING, failure_message=error.message)
            raise error from exc
        return refund_result(refund)


class StripeCard(StripePaymentIntentMethod):
    """Cards: the browser confirms with Stripe.js (client secret), which also runs 3-D Secure."""

    code = "card"
    label = gettext_lazy("Card")
    kind = "card"
    payment_method_type = "card"
    supports_manual_capture = True


class _StripeWallet(StripePaymentIntentMethod):
    """Wallets are confirmed at creation (``confirm=true``), so Stripe answers with the redirect
    or QR code at once; the wallet sends the buyer back to ``return_url``."""

    kind = "wallet"

    def start_params(self, payment: Payment, *, return_url: str) -> dict[str, Any]:
        return {
            "confirm": True,
            "payment_method_data": {"type": self.payment_method_type},
            "return_url": return_url,
        }


class StripeAlipay(_StripeWallet):
    code = "alipay"
    label = gettext_lazy("Alipay")
    payment_method_type = "alipay"
    currencies = frozenset({"AUD", "CAD", "CNY", "EUR", "GBP", "HKD", "JPY", "MYR", "NZD", "SGD", "USD"})


class StripeWeChatPay(_StripeWallet):
    code = "wechat_pay"
    label = gettext_lazy("WeChat Pay")
    payment_method_type = "wechat_pay"
    currencies = frozenset({"AUD", "CAD", "CHF", "CNY", "DKK", "EUR", "GBP", "HKD", "JPY", "NOK", "SEK", "SGD", "USD"})

    def start_params(self, payment: Payment, *, return_url: str) -> dict[str, Any]:
        # client=web: Stripe answers with a QR code for the buyer to scan with the WeChat app.
        return {
            **super().start_params(payment, return_url=return_url),
            "payment_method_options": {"wechat_pay": {"client": "web"}},
        }


class StripeGrabPay(_StripeWallet):
    code = "grabpay"
    label = gettext_lazy("GrabPay")
    payment_method_type = "grabpay"
    currencies = frozenset({"MYR", "SGD"})
    countries = frozenset({"MY", "SG"})
