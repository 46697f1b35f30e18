"""What happened to an order, and which e-mails it has had (imported at the end of ``orders.models``).

``OrderEvent`` is the order's timeline: append-only, one row per (order, kind, key). A status
change is recorded once (``key`` empty); a payment or refund once per payment or refund id. The
order's placing is its ``created_at`` and is not stored again.

``OrderNotification`` makes each buyer e-mail go out once per (order, kind): a worker claims the
row (``claimed_at``), sends outside any transaction, then stamps ``sent_at``.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from marketplace.models import money_field

__all__ = ["OrderEvent", "OrderNotification"]


class OrderEvent(models.Model):
    class Kind(models.TextChoices):
        CONFIRMED = "confirmed", _("Order confirmed")
        PAID = "paid", _("Payment received")
        FULFILLING = "fulfilling", _("Being prepared")
        SHIPPED = "shipped", _("Shipped")
        DELIVERED = "delivered", _("Delivered")
        CANCELLED = "cancelled", _("Cancelled")
        EXPIRED = "expired", _("Expired (not paid)")
        REFUND = "refund", _("Money refunded")
        REFUNDED = "refunded", _("Order refunded")

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="events", verbose_name=_("order"))
    kind = models.CharField(_("what happened"), max_length=20, choices=Kind.choices)
    key = models.CharField(
        _("key"), max_length=64, blank=True, help_text=_("Empty for a status change; the payment or refund otherwise.")
    )
    amount = money_field(verbose_name=_("amount"), null=True, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        ordering = ["occurred_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["order", "kind", "key"], name="order_event_once_per_key")]
        indexes = [models.Index(fields=["order", "occurred_at"], name="order_event_timeline")]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.get_kind_display()}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError("Order events are append-only.")
        super().save(*args, **kwargs)


class OrderNotification(models.Model):
    class Kind(models.TextChoices):
        CONFIRMATION = "confirmation", _("Order confirmation")
        SHIPPED = "shipped", _("Order shipped")
        DELIVERED = "delivered", _("Order delivered")
        CANCELLED = "cancelled", _("Order cancelled")

    order = models.ForeignKey(
        "orders.Order", on_delete=models.CASCADE, related_name="notifications", verbose_name=_("order")
    )
    kind = models.CharField(_("e-mail"), max_length=20, choices=Kind.choices)
    recipient = models.EmailField(_("sent to"), blank=True)
    language = models.CharField(_("language"), max_length=10, blank=True)
    claimed_at = models.DateTimeField(_("being sent since"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    resent = models.PositiveSmallIntegerField(_("sent again by an operator"), default=0)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("order e-mail")
        verbose_name_plural = _("order e-mails")
        ordering = ["order", "pk"]
        constraints = [models.UniqueConstraint(fields=["order", "kind"], name="order_notification_once_per_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({'sent' if self.sent_at else 'not sent'})"
