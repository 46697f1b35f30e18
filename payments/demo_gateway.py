"""The demo gateway: a payment provider that lives inside the app, so the whole buying journey
works offline (``make run``, the browser tests). It plays the provider's side only: it keeps its
own record of each transaction (``DemoTransaction``, imported at the end of ``payments.models``)
and its pages (``payments.views``) stand in for the provider's hosted card form, 3-D Secure
challenge and wallet app. The shop talks to it through ``payments.methods.demo`` exactly as it
talks to Stripe: start, confirm, capture, cancel, refund, retrieve, each with an idempotency key.

Card numbers are never stored: a transaction keeps the brand and the last four digits. The card
form accepts only the test numbers below (like a provider's test mode), so a real number typed
into the demo is refused, not charged or remembered.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from djmoney.money import Money

from marketplace.models import money_field
from marketplace.money import round_money

from .exceptions import InvalidAmount, ProviderError


def new_reference() -> str:
    """Unguessable, like a provider's hosted-page id: whoever holds it may pay this transaction."""
    return f"demo_{secrets.token_urlsafe(18)}"


class DemoTransaction(models.Model):
    class Status(models.TextChoices):
        REQUIRES_ACTION = "requires_action", _("waiting for the buyer")
        CHALLENGE = "challenge", _("3-D Secure challenge")
        REQUIRES_CAPTURE = "requires_capture", _("authorized, to capture")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")
        CANCELED = "canceled", _("canceled")

    OPEN = (Status.REQUIRES_ACTION, Status.CHALLENGE)  # the buyer may still act on the gateway pages

    class Capture(models.TextChoices):
        AUTOMATIC = "automatic", _("automatic")
        MANUAL = "manual", _("manual (authorize only)")

    reference = models.CharField(_("reference"), max_length=64, unique=True, default=new_reference)
    start_key = models.CharField(_("idempotency key of the start"), max_length=255, unique=True)
    attempt = models.UUIDField(_("shop's payment attempt"), db_index=True)
    method = models.CharField(_("payment method"), max_length=32)
    kind = models.CharField(_("kind"), max_length=10)  # "card" or "wallet": which page the buyer sees
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.REQUIRES_ACTION)
    capture_method = models.CharField(_("capture"), max_length=10, choices=Capture.choices, default=Capture.AUTOMATIC)
    amount = money_field(verbose_name=_("amount"))
    captured = money_field(verbose_name=_("captured"))
    refunded = money_field(verbose_name=_("refunded"))
    card_brand = models.CharField(_("card brand"), max_length=20, blank=True)
    card_last4 = models.CharField(_("card last four digits"), max_length=4, blank=True)
    failure_code = models.CharField(_("failure code"), max_length=64, blank=True)
    failure_message = models.CharField(_("failure message"), max_length=255, blank=True)
    page_url = models.CharField(_("gateway page"), max_length=500)
    return_url = models.CharField(_("return URL"), max_length=1000)
    operations = models.JSONField(_("answered calls"), default=dict, blank=True)  # idempotency key -> answer
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("demo gateway transaction")
        verbose_name_plural = _("demo gateway transactions")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="demo_tx_amount_positive"),
            models.CheckConstraint(
                condition=Q(captured__gte=0) & Q(captured__lte=F("amount")), name="demo_tx_captured_within_amount"
            ),
            models.CheckConstraint(
                condition=Q(refunded__gte=0) & Q(refunded__lte=F("captured")), name="demo_tx_refunded_within_captured"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.amount} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN

    def as_payload(self) -> dict[str, Any]:
        """What the provider reports about itself (the shop stores it in the payment's event log)."""
        return {
            "id": self.reference,
            "object": "demo_transaction",
            "status": self.status,
            "method": self.method,
            "capture_method": self.capture_method,
            "amount": str(self.amount.amount),
            "captured": str(self.captured.amount),
            "refunded": str(self.refunded.amount),
            "currency": self.amount.currency.code,
            "card": {"brand": self.card_brand, "last4": self.card_last4} if self.card_last4 else None,
            "failure_code": self.failure_code,
        }


# --- Test cards ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoTestCard:
    outcome: str  # "success", "declined" or "challenge"
    failure_code: str = ""


# The test numbers a provider's test mode documents (Stripe's, for familiarity).
TEST_CARDS = {
    "4242424242424242": DemoTestCard("success"),
    "4000000000000002": DemoTestCard("declined", "card_declined"),
    "4000000000009995": DemoTestCard("declined", "insufficient_funds"),
    "4000002500003155": DemoTestCard("challenge"),
}
# Stored in English, as a provider answers; the shop shows its own translated text per code.
FAILURE_MESSAGES = {
    "card_declined": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "authentication_failed": "The 3-D Secure authentication failed.",
    "wallet_declined": "The payment was declined in the wallet app.",
}


def card_brand(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"34", "37"}:
        return "amex"
    if 51 <= int(number[:2]) <= 55 or 2221 <= int(number[:4]) <= 2720:
        return "mastercard"
    return "card"


# --- The provider's API ------------------------------------------------------------------------------


def _lock(reference: str) -> DemoTransaction:
    try:
        return DemoTransaction.objects.select_for_update().get(reference=reference)
    except DemoTransaction.DoesNotExist:
        raise ProviderError(_("The demo gateway has no such transaction.")) from None


def create_transaction(
    *,
    key: str,
    attempt: Any,
    method: str,
    kind: str,
    amount: Money,
    manual_capture: bool,
    return_url: str,
    page_url: Any,
) -> DemoTransaction:
    """A new transaction waiting for the buyer; the same ``key`` returns the first one.
    ``page_url(reference)`` builds the address of its gateway page."""
    if (existing := DemoTransaction.objects.filter(start_key=key).first()) is not None:
        return existing
    amount = round_money(amount)
    if amount.amount <= 0:
        raise InvalidAmount(_("The amount must be more than zero."))
    reference = new_reference()
    try:
        with transaction.atomic():
            return DemoTransaction.objects.create(
                reference=reference,
                start_key=key,
                attempt=attempt,
                method=method,
                kind=kind,
                capture_method=DemoTransaction.Capture.MANUAL if manual_capture else DemoTransaction.Capture.AUTOMATIC,
                amount=amount,
                captured=Money(0, amount.currency),
                refunded=Money(0, amount.currency),
                page_url=page_url(reference),
                return_url=return_url,
            )
    except IntegrityError:  # a concurrent call with the same key won
        return DemoTransaction.objects.get(start_key=key)


def _succeed(tx: DemoTransaction) -> None:
    if tx.capture_method == DemoTransaction.Capture.MANUAL:
        tx.status = DemoTransaction.Status.REQUIRES_CAPTURE
    else:
        tx.status = DemoTransaction.Status.SUCCEEDED
        tx.captured = tx.amount


def _fail(tx: DemoTransaction, code: str) -> None:
    tx.status = DemoTransaction.Status.FAILED
    tx.failure_code = code
    tx.failure_message = FAILURE_MESSAGES.get(code, code)


@transaction.atomic
def pay_with_card(reference: str, *, number: str) -> DemoTransaction:
    """The buyer submitted the card form with a valid test ``number`` (digits only). Keeps the
    brand and the last four digits, nothing more. A transaction no longer open is left as it is."""
    tx = _lock(reference)
    if tx.status != DemoTransaction.Status.REQUIRES_ACTION or tx.kind != "card":
        return tx
    card = TEST_CARDS[number]
    tx.card_brand = card_brand(number)
    tx.card_last4 = number[-4:]
    if card.outcome == "success":
        _succeed(tx)
    elif card.outcome == "challenge":
        tx.status = DemoTransaction.Status.CHALLENGE
    else:
        _fail(tx, card.failure_code)
    tx.save()
    return tx


@transaction.atomic
def complete_challenge(reference: str, *, approve: bool) -> DemoTransaction:
    tx = _lock(reference)
    if tx.status != DemoTransaction.Status.CHALLENGE:
        return tx
    if approve:
        _succeed(tx)
    else:
        _fail(tx, "authentication_failed")
    tx.save()
    return tx


@transaction.atomic
def wallet_decision(reference: str, *, approve: bool) -> DemoTransaction:
    """The buyer approved (or declined) the payment in the wallet app."""
    tx = _lock(reference)
    if tx.status != DemoTransaction.Status.REQUIRES_ACTION or tx.kind != "wallet":
        return tx
    if approve:
        _succeed(tx)
    else:
        _fail(tx, "wallet_declined")
    tx.save()
    return tx


def _replay(tx: DemoTransaction, key: str) -> dict[str, Any] | None:
    return tx.operations.get(key) if key else None


def _remember(tx: DemoTransaction, key: str, answer: dict[str, Any]) -> dict[str, Any]:
    if key:
        tx.operations = {**tx.operations, key: answer}
    tx.save()
    return answer


@transaction.atomic
def capture(reference: str, amount: Money, *, key: str) -> dict[str, Any]:
    """Capture an authorized transaction, fully or partly (the rest is released). Same key, same answer."""
    tx = _lock(reference)
    if (answer := _replay(tx, key)) is not None:
        return answer
    if tx.status == DemoTransaction.Status.SUCCEEDED and tx.capture_method == DemoTransaction.Capture.AUTOMATIC:
        return _remember(tx, key, {"status": tx.status, "amount": str(tx.captured.amount)})
    if tx.status != DemoTransaction.Status.REQUIRES_CAPTURE:
        raise ProviderError(_("Only an authorized payment can be captured."))
    amount = round_money(amount)
    if amount.currency != tx.amount.currency or amount.amount <= 0 or amount > tx.amount:
        raise InvalidAmount(_("The capture must be more than zero and at most the authorized amount."))
    tx.status = DemoTransaction.Status.SUCCEEDED
    tx.captured = amount
    return _remember(tx, key, {"status": tx.status, "amount": str(amount.amount)})


@transaction.atomic
def cancel(reference: str, *, key: str) -> dict[str, Any]:
    """Void a transaction that took no money; a captured one must be refunded instead."""
    tx = _lock(reference)
    if (answer := _replay(tx, key)) is not None:
        return answer
    if tx.status == DemoTransaction.Status.SUCCEEDED:
        raise ProviderError(_("A captured payment cannot be cancelled; refund it."))
    if tx.status in (*DemoTransaction.OPEN, DemoTransaction.Status.REQUIRES_CAPTURE):
        tx.status = DemoTransaction.Status.CANCELED
    return _remember(tx, key, {"status": tx.status})


@transaction.atomic
def refund(reference: str, amount: Money, *, key: str) -> dict[str, Any]:
    """Give back part or all of what was captured. Same key, same answer (and money moved once)."""
    tx = _lock(reference)
    if (answer := _replay(tx, key)) is not None:
        return answer
    amount = round_money(amount)
    if tx.status != DemoTransaction.Status.SUCCEEDED:
        raise ProviderError(_("Only a captured payment can be refunded."))
    if amount.currency != tx.amount.currency or amount.amount <= 0 or amount > tx.captured - tx.refunded:
        raise InvalidAmount(_("The refund must be more than zero and at most what is left to refund."))
    tx.refunded += amount
    count = sum(1 for answer in tx.operations.values() if answer.get("refund"))
    return _remember(
        tx, key, {"refund": f"{tx.reference}_re_{count + 1}", "status": "succeeded", "amount": str(amount.amount)}
    )
