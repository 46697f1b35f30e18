"""Payments: one per order attempt, moved only by ``payments.services`` through ``TRANSITIONS``;
every movement is an append-only ``PaymentEvent``. Provider callbacks are deduplicated by
``ProviderEvent``. Orders are referenced by string (ARCHITECTURE.md: payments sits below orders).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from djmoney.money import Money

from marketplace.models import money_field


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete a row of an append-only log."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("payment events are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("payment events are append-only")


class Payment(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        REQUIRES_ACTION = "requires_action", _("requires action")
        AUTHORIZED = "authorized", _("authorized")
        CAPTURED = "captured", _("captured")
        PARTIALLY_REFUNDED = "partially_refunded", _("partially refunded")
        REFUNDED = "refunded", _("refunded")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")

    # The only state changes there are (STYLE.md, 6). A partial refund may follow another one.
    TRANSITIONS: dict[str, frozenset[str]] = {
        State.PENDING: frozenset(
            {State.REQUIRES_ACTION, State.AUTHORIZED, State.CAPTURED, State.FAILED, State.CANCELLED}
        ),
        State.REQUIRES_ACTION: frozenset(
            {State.PENDING, State.AUTHORIZED, State.CAPTURED, State.FAILED, State.CANCELLED}
        ),
        State.AUTHORIZED: frozenset({State.CAPTURED, State.CANCELLED, State.FAILED}),
        State.CAPTURED: frozenset({State.PARTIALLY_REFUNDED, State.REFUNDED}),
        State.PARTIALLY_REFUNDED: frozenset({State.PARTIALLY_REFUNDED, State.REFUNDED}),
        State.REFUNDED: frozenset(),
        State.FAILED: frozenset(),
        State.CANCELLED: frozenset(),
    }
    # States in which a payment still counts for its order: at most one per order (constraint).
    LIVE_STATES = (
        State.PENDING,
        State.REQUIRES_ACTION,
        State.AUTHORIZED,
        State.CAPTURED,
        State.PARTIALLY_REFUNDED,
        State.REFUNDED,
    )
    OPEN_STATES = (State.PENDING, State.REQUIRES_ACTION)  # the buyer may still act; stock stays reserved
    SECURED_STATES = (State.AUTHORIZED, State.CAPTURED, State.PARTIALLY_REFUNDED, State.REFUNDED)

    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="payments", verbose_name=_("order")
    )
    method = models.CharField(_("payment method"), max_length=32)
    attempt = models.UUIDField(_("attempt key"), default=uuid.uuid4, unique=True, editable=False)
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.PENDING)
    amount = money_field(verbose_name=_("amount"))
    captured = money_field(verbose_name=_("captured"))
    refunded = money_field(verbose_name=_("refunded"))
    provider_reference = models.CharField(_("provider reference"), max_length=255, blank=True, db_index=True)
    next_action = models.JSONField(_("next action"), default=dict, blank=True)
    failure_code = models.CharField(_("failure code"), max_length=64, blank=True)
    failure_message = models.CharField(_("failure message"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(
                    state__in=[
                        "pending",
                        "requires_action",
                        "authorized",
                        "captured",
                        "partially_refunded",
                        "refunded",
                    ]
                ),
                name="payment_one_live_per_order",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(captured__gte=0) & Q(captured__lte=F("amount")), name="payment_captured_within_amount"
            ),
            models.CheckConstraint(
                condition=Q(refunded__gte=0) & Q(refunded__lte=F("captured")), name="payment_refunded_within_captured"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.amount} ({self.state})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        currency = self.amount.currency.code if isinstance(self.amount, Money) else None
        if currency and self.captured is None:
            self.captured = Money(0, currency)
        if currency and self.refunded is None:
            self.refunded = Money(0, currency)
        super().save(*args, **kwargs)

    def can_become(self, state: str) -> bool:
        return state in self.TRANSITIONS.get(self.state, frozenset())

    @property
    def refundable(self) -> Money:
        return self.captured - self.refunded

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES

    @property
    def is_secured(self) -> bool:
        return self.state in self.SECURED_STATES


class PaymentEvent(models.Model):
    """One immutable line of a payment's history: what was asked or reported, and what it changed."""

    class Kind(models.TextChoices):
        CREATED = "created", _("created")
        STARTED = "started", _("started")
        CONFIRMED = "confirmed", _("confirmed by the buyer")
        PROVIDER = "provider", _("provider event")
        CAPTURE = "capture", _("capture")
        CANCEL = "cancel", _("cancel")
        REFUND = "refund", _("refund")
        RECONCILE = "reconcile", _("reconciliation")
        IGNORED = "ignored", _("ignored (out of order or duplicate)")

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="events", verbose_name=_("payment"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    from_state = models.CharField(_("from state"), max_length=20, blank=True)
    to_state = models.CharField(_("to state"), max_length=20, blank=True)
    amount = money_field(verbose_name=_("amount"), null=True, blank=True)
    provider_reference = models.CharField(_("provider reference"), max_length=255, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=255, blank=True)
    payload = models.JSONField(_("provider payload"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("payment event")
        verbose_name_plural = _("payment events")
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"], condition=~Q(idempotency_key=""), name="payment_event_key_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_state}->{self.to_state}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("payment events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("payment events are append-only")


class ProviderEvent(models.Model):
    """A provider callback (webhook) received once: the unique (provider, event_id) makes a replay a no-op."""

    provider = models.CharField(_("provider"), max_length=32)
    event_id = models.CharField(_("event id"), max_length=255)
    type = models.CharField(_("type"), max_length=100)
    payload = models.JSONField(_("payload"), default=dict)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("provider event")
        verbose_name_plural = _("provider events")
        ordering = ["-received_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="provider_event_once")]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_id} {self.type}"


class Refund(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("payment"))
    amount = money_field(verbose_name=_("amount"))
    reason = models.CharField(_("reason"), max_length=255)
    lines = models.JSONField(
        _("order lines"), default=list, blank=True, help_text=_("Refunded order lines: [{id, quantity}].")
    )
    restock = models.BooleanField(_("return the units to stock"), default=False)
    restocked_at = models.DateTimeField(_("units returned to stock at"), null=True, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    provider_reference = models.CharField(_("provider reference"), max_length=255, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=255, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created_at", "-pk"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive")]

    def __str__(self) -> str:
        return f"{self.amount} ({self.state})"


# --- Seller ledger and payouts (payments.ledger, payments.payouts) --------------------------------


class LedgerQuerySet(models.QuerySet):
    """Entries are immutable, except the moment they become payable (set once the order is delivered)."""

    def update(self, **kwargs: Any) -> int:
        if set(kwargs) - {"payable_at"}:
            raise AppendOnlyError("ledger entries are append-only (only payable_at may be set)")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("ledger entries are append-only")


class LedgerEntry(models.Model):
    """One movement on a seller's account (``seller`` set, amounts in the seller's currency) or on
    the marketplace's own account (``seller`` empty, amounts in the buyer's currency).

    ``buyer_amount`` is the same movement in the order's currency: per order, the sum of every
    entry's ``buyer_amount`` equals what was captured minus what was refunded, to the minor unit.
    ``amount`` is what the seller is owed, converted with the rate locked on the order (``fx_rate``:
    buyer-currency units per seller-currency unit), never today's rate. Payout entries belong to no
    order. ``key`` makes every write idempotent.
    """

    class Kind(models.TextChoices):
        SALE = "sale", _("sale")
        COMMISSION = "commission", _("commission")
        REFUND = "refund", _("refund")
        COMMISSION_REFUND = "commission_refund", _("commission given back")
        CHARGES = "charges", _("shipping, duties, taxes and fees")
        PAYOUT = "payout", _("payout")
        PAYOUT_REVERSAL = "payout_reversal", _("failed payout reversed")

    seller = models.ForeignKey(
        "catalog.Seller",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
        verbose_name=_("seller"),
        help_text=_("Empty: the marketplace's own account."),
    )
    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
        verbose_name=_("order"),
    )
    payment = models.ForeignKey(
        Payment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
        verbose_name=_("payment"),
    )
    refund = models.ForeignKey(
        Refund, on_delete=models.PROTECT, null=True, blank=True, related_name="ledger_entries", verbose_name=_("refund")
    )
    payout = models.ForeignKey(
        "Payout", on_delete=models.PROTECT, null=True, blank=True, related_name="entries", verbose_name=_("payout")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    amount = money_field(verbose_name=_("amount"))
    buyer_amount = money_field(verbose_name=_("amount in the buyer's currency"), null=True, blank=True)
    fx_rate = models.DecimalField(
        _("FX rate used"),
        max_digits=24,
        decimal_places=12,
        null=True,
        blank=True,
        help_text=_("Buyer-currency units per seller-currency unit, as locked on the order."),
    )
    payable_at = models.DateTimeField(
        _("payable from"), null=True, blank=True, db_index=True, help_text=_("Empty: the order is not delivered yet.")
    )
    key = models.CharField(_("idempotency key"), max_length=120, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = LedgerQuerySet.as_manager()

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["seller", "payable_at"], name="ledger_seller_payable")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("ledger entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("ledger entries are append-only")


class Payout(models.Model):
    """Money paid to a seller: a Stripe Connect transfer, or a bank transfer an operator makes."""

    class State(models.TextChoices):
        PENDING = "pending", _("transfer in progress")
        PAID = "paid", _("paid")
        MANUAL = "manual", _("to be paid manually")
        FAILED = "failed", _("failed (amount back on the balance)")

    class Method(models.TextChoices):
        STRIPE_CONNECT = "stripe_connect", _("Stripe Connect transfer")
        MANUAL = "manual", _("manual bank transfer")

    seller = models.ForeignKey(
        "catalog.Seller", on_delete=models.PROTECT, related_name="payouts", verbose_name=_("seller")
    )
    amount = money_field(verbose_name=_("amount"))
    method = models.CharField(_("method"), max_length=20, choices=Method.choices)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    transfer_reference = models.CharField(_("transfer reference"), max_length=255, blank=True)
    failure_message = models.CharField(_("failure message"), max_length=255, blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("started by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("payout")
        verbose_name_plural = _("payouts")
        ordering = ["-created_at", "-pk"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_positive")]

    def __str__(self) -> str:
        return f"{self.amount} ({self.get_state_display()})"


from .demo_gateway import DemoTransaction  # noqa: E402, F401  (the demo gateway's own record of its transactions)
