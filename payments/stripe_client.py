"""Stripe through its official SDK, configured from settings: the one place that builds a client.

A ``stripe.StripeClient`` (no module-level ``stripe.api_key``: nothing global, safe across threads)
is built from ``STRIPE_SECRET_KEY``, ``STRIPE_API_BASE`` (tests point it at a local server),
``STRIPE_TIMEOUT_SECONDS`` and ``STRIPE_MAX_NETWORK_RETRIES`` and cached per configuration, so a
test that changes the settings gets a client for them. Every mutating call passes an idempotency
key (derived from the payment attempt by ``payments.services``); the SDK's own network retries
reuse it, so a request Stripe already processed is answered from its idempotency cache instead of
moving money twice.

SDK errors become ``StripeProviderError`` (a ``payments.exceptions.ProviderError``) with a message a
person can read, Stripe's code and decline code, and whether the outcome is *ambiguous* (the
network or Stripe failed mid-request: the call may have been applied; retry with the same key).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import stripe
from django.conf import settings
from django.utils.translation import gettext as _
from djmoney.money import Money

from .amounts import to_minor_units
from .exceptions import ProviderError

logger = logging.getLogger(__name__)

PROVIDER = "stripe"


class StripeProviderError(ProviderError):
    """Stripe refused a call or could not be reached. ``ambiguous``: the request may have been
    applied by Stripe (connection lost, 5xx); retrying with the same idempotency key is safe."""

    def __init__(self, message: str, *, code: str = "", decline_code: str = "", ambiguous: bool = False) -> None:
        self.code = code
        self.decline_code = decline_code
        self.ambiguous = ambiguous
        super().__init__(message)


# Decline and error codes (https://docs.stripe.com/declines/codes, https://docs.stripe.com/error-codes)
# -> what the buyer is told. Lost/stolen/fraud reasons are shown as a plain decline, as Stripe advises.
def _decline_messages() -> dict[str, str]:
    declined = _("The card was declined. Try another card or payment method.")
    return {
        "insufficient_funds": _("The card has insufficient funds."),
        "expired_card": _("The card has expired."),
        "incorrect_cvc": _("The card's security code is incorrect."),
        "invalid_cvc": _("The card's security code is incorrect."),
        "incorrect_number": _("The card number is incorrect."),
        "invalid_number": _("The card number is incorrect."),
        "invalid_expiry_month": _("The card's expiry date is incorrect."),
        "invalid_expiry_year": _("The card's expiry date is incorrect."),
        "processing_error": _("The card could not be processed. Try again in a moment."),
        "card_velocity_exceeded": _("The card's limit has been reached."),
        "withdrawal_count_limit_exceeded": _("The card's limit has been reached."),
        "authentication_required": _("The bank asked for authentication (3-D Secure) that did not succeed."),
        "payment_intent_authentication_failure": _(
            "The bank asked for authentication (3-D Secure) that did not succeed."
        ),
        "generic_decline": declined,
        "do_not_honor": declined,
        "card_declined": declined,
        "lost_card": declined,
        "stolen_card": declined,
        "fraudulent": declined,
        "pickup_card": declined,
        "restricted_card": declined,
    }


def decline_message(code: str, decline_code: str = "") -> str:
    """What to tell the buyer about a failed card payment (Stripe's ``code`` / ``decline_code``)."""
    messages = _decline_messages()
    return messages.get(decline_code) or messages.get(code) or _("The payment was declined.")


def failure_from_error(error: Mapping[str, Any] | None) -> tuple[str, str]:
    """(failure_code, failure_message) from a Stripe error object (``last_payment_error`` or an
    API error body's ``error``)."""
    error = error or {}
    code = str(error.get("code") or error.get("type") or "payment_failed")
    decline_code = str(error.get("decline_code") or "")
    if error.get("type") == "card_error" or decline_code or code in _decline_messages():
        message = decline_message(code, decline_code)
    else:
        message = str(error.get("message") or _("The payment was declined."))
    return (decline_code or code)[:64], message[:255]


def provider_error(exc: stripe.StripeError, action: str) -> StripeProviderError:
    """A readable ``StripeProviderError`` for ``exc`` raised while doing ``action`` (for logs and people)."""
    code = str(getattr(exc, "code", "") or "")
    error = exc.error.to_dict() if getattr(exc, "error", None) is not None else {}
    decline_code = str(error.get("decline_code") or "")
    logger.warning(
        "Stripe %s failed: %s (%s, code=%s, request=%s)",
        action,
        exc.user_message,
        type(exc).__name__,
        code,
        exc.request_id,
    )
    if isinstance(exc, stripe.CardError):
        return StripeProviderError(decline_message(code, decline_code), code=code, decline_code=decline_code)
    if isinstance(exc, stripe.APIConnectionError):
        message = _("Stripe could not be reached. Nothing was changed here; try again in a moment.")
        return StripeProviderError(message, code="connection_error", ambiguous=True)
    if isinstance(exc, stripe.RateLimitError):
        return StripeProviderError(_("Stripe is busy. Try again in a moment."), code="rate_limit", ambiguous=False)
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        message = _("Stripe refused the marketplace's credentials. Check STRIPE_SECRET_KEY.")
        return StripeProviderError(message, code=code or "authentication_error")
    if isinstance(exc, stripe.IdempotencyError):
        message = _("Stripe refused a retry whose details differ from the first request with the same key.")
        return StripeProviderError(message, code="idempotency_error")
    if isinstance(exc, stripe.InvalidRequestError):
        message = _("Stripe refused to %(action)s: %(reason)s") % {
            "action": action,
            "reason": exc.user_message or code,
        }
        return StripeProviderError(message[:255], code=code or "invalid_request")
    # APIError (5xx) and anything else: Stripe may or may not have applied the request.
    message = _("Stripe had a problem (%(action)s). Nothing was changed here; try again in a moment.") % {
        "action": action
    }
    return StripeProviderError(message, code=code or "api_error", ambiguous=True)


@contextmanager
def stripe_errors(action: str) -> Iterator[None]:
    """Turns any SDK error raised inside into a ``StripeProviderError``."""
    try:
        yield
    except stripe.StripeError as exc:
        raise provider_error(exc, action) from exc


def get_client() -> stripe.StripeClient:
    """The client for the current settings (cached per configuration)."""
    key = settings.STRIPE_SECRET_KEY
    if not key:
        raise StripeProviderError(_("Stripe is not configured (STRIPE_SECRET_KEY is empty)."), code="not_configured")
    return _client(
        key,
        settings.STRIPE_API_BASE or "",
        float(settings.STRIPE_TIMEOUT_SECONDS),
        int(settings.STRIPE_MAX_NETWORK_RETRIES),
    )


@functools.lru_cache(maxsize=8)
def _client(key: str, api_base: str, timeout: float, max_network_retries: int) -> stripe.StripeClient:
    base_addresses: dict[str, str] = {}
    if api_base:
        base_addresses = {"api": api_base.rstrip("/"), "connect": api_base.rstrip("/"), "files": api_base.rstrip("/")}
    return stripe.StripeClient(
        key,
        base_addresses=base_addresses or None,  # type: ignore[arg-type]
        max_network_retries=max_network_retries,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


def as_dict(obj: Any) -> dict[str, Any]:
    """A JSON-ready plain dict of a Stripe object (what we store as a provider payload)."""
    if isinstance(obj, stripe.StripeObject):
        return obj.to_dict(for_json=True)
    return dict(obj)


def options(idempotency_key: str) -> dict[str, Any]:
    """Request options of a mutating call: never without an idempotency key."""
    if not idempotency_key:
        raise ValueError("every mutating Stripe call needs an idempotency key")
    return {"idempotency_key": idempotency_key}


def create_transfer(amount: Money, destination: str, *, idempotency_key: str, metadata: dict[str, Any]) -> str:
    """Move ``amount`` from the platform balance to a connected account (Stripe Connect
    ``POST /v1/transfers``); returns the transfer id (``tr_...``). The same key moves money once."""
    if not destination:
        raise StripeProviderError(_("The seller has no Stripe account to pay out to."), code="no_destination")
    if amount.amount <= 0:
        raise StripeProviderError(_("A transfer must be more than zero."), code="invalid_amount")
    params = {
        "amount": to_minor_units(amount, PROVIDER),
        "currency": amount.currency.code.lower(),
        "destination": destination,
        "metadata": {str(k): str(v) for k, v in metadata.items()},
    }
    with stripe_errors(_("transfer to the seller")):
        transfer = get_client().v1.transfers.create(params=params, options=options(idempotency_key))  # type: ignore[arg-type]
    return str(transfer.id)
