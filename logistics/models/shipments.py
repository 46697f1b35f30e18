"""Shipments (one per order and warehouse), their customs declaration, and carrier tracking events.

The orders app comes later and links to a shipment from its side; here a shipment carries the
order's number as a plain string, so logistics never imports orders (ARCHITECTURE.md).
Status changes go through ``logistics.shipments`` and ``logistics.tracking``, never ``.save()``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_countries import countries
from django_countries.fields import CountryField

from marketplace.models import TimeStampedModel, money_field

from .shipping import ShippingMethod

TRACKING_NUMBER_MIN = 6
TRACKING_NUMBER_MAX = 40
TRACKING_NUMBER_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


def validate_tracking_number(value: str) -> None:
    """6 to 40 characters from A–Z, 0–9 and '-'. Says which rule failed, so a person can fix it."""
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        raise ValidationError(
            _("A tracking number cannot contain control or invisible characters."), code="tracking_control_characters"
        )
    if any(ch.isspace() for ch in value):
        raise ValidationError(_("A tracking number cannot contain spaces."), code="tracking_spaces")
    if not TRACKING_NUMBER_MIN <= len(value) <= TRACKING_NUMBER_MAX:
        raise ValidationError(
            _("A tracking number has %(min)s to %(max)s characters; this one has %(n)s.")
            % {"min": TRACKING_NUMBER_MIN, "max": TRACKING_NUMBER_MAX, "n": len(value)},
            code="tracking_length",
        )
    if not set(value) <= TRACKING_NUMBER_ALPHABET:
        raise ValidationError(
            _("A tracking number uses only capital letters A–Z, digits and hyphens."), code="tracking_characters"
        )


@dataclass(frozen=True)
class DeclaredItem:
    """One line of a customs declaration (and of the commercial invoice)."""

    description: str
    hs_code: str
    origin: str
    quantity: int
    value: Decimal  # per unit
    currency: str

    def as_json(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "hs_code": self.hs_code,
            "origin": self.origin,
            "quantity": self.quantity,
            "value": str(self.value),
            "currency": self.currency,
        }


def parse_customs_items(raw: Any) -> list[DeclaredItem]:
    """Validate a declaration given as JSON: a list of ``{description, hs_code, origin, quantity,
    value, currency}``, all in one currency. Raises ``ValidationError`` naming the item and field."""
    if not isinstance(raw, list):
        raise ValidationError(_("The customs declaration is a list of items."), code="declaration_not_list")
    items: list[DeclaredItem] = []
    for number, entry in enumerate(raw, start=1):
        if not isinstance(entry, dict):
            raise ValidationError(_("Item %(n)s is not an object.") % {"n": number}, code="declaration_item")

        def fail(field: str, message: str, number: int = number) -> ValidationError:
            return ValidationError(
                _("Item %(n)s, %(field)s: %(message)s") % {"n": number, "field": field, "message": message},
                code="declaration_item",
            )

        description = str(entry.get("description", "")).strip()
        if not description or len(description) > 200:
            raise fail("description", _("describe the goods in 1 to 200 characters."))
        hs_code = str(entry.get("hs_code", ""))
        if not (hs_code.isascii() and hs_code.isdigit() and 6 <= len(hs_code) <= 10):
            raise fail("hs_code", _("an HS code has 6 to 10 digits."))
        origin = str(entry.get("origin", "")).upper()
        if origin not in countries:
            raise fail("origin", _("%(code)s is not a country code.") % {"code": origin or "''"})
        quantity = entry.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise fail("quantity", _("a whole number of at least 1."))
        try:
            value = Decimal(str(entry.get("value", "")))
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite() or value <= 0:
            raise fail("value", _("a unit value above zero."))
        currency = str(entry.get("currency", ""))
        if currency not in settings.CURRENCIES:
            raise fail("currency", _("%(code)s is not a supported currency.") % {"code": currency or "''"})
        items.append(DeclaredItem(description, hs_code, origin, quantity, value, currency))
    if len({item.currency for item in items}) > 1:
        raise ValidationError(_("Declare every item in the same currency."), code="declaration_currencies")
    return items


SHIPMENT_STATUSES = [
    "pending",
    "packed",
    "shipped",
    "in_transit",
    "at_customs",
    "out_for_delivery",
    "delivered",
    "exception",
    "returned",
    "cancelled",
]


class Shipment(TimeStampedModel):
    """What one warehouse sends for one order: status, carrier, tracking number, customs declaration."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PACKED = "packed", _("Packed")
        SHIPPED = "shipped", _("Shipped")
        IN_TRANSIT = "in_transit", _("In transit")
        AT_CUSTOMS = "at_customs", _("At customs")
        OUT_FOR_DELIVERY = "out_for_delivery", _("Out for delivery")
        DELIVERED = "delivered", _("Delivered")
        EXCEPTION = "exception", _("Delivery problem")
        RETURNED = "returned", _("Returned to sender")
        CANCELLED = "cancelled", _("Cancelled")  # the order was cancelled before the parcel left

    # Forward only. A carrier may skip steps; an exception can happen before delivery, and then
    # only delivery or the return settles it; a delivered parcel may still come back. An event whose
    # status is not allowed from the current one is stored in the timeline but moves nothing.
    # Returned without a delivery = refused at the door or undeliverable (``shipment_refused``).
    # Cancelled: only before the parcel leaves (orders.cancellation), and final.
    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.PENDING: frozenset({Status.PACKED, Status.SHIPPED, Status.EXCEPTION, Status.CANCELLED}),
        Status.PACKED: frozenset({Status.SHIPPED, Status.EXCEPTION, Status.CANCELLED}),
        Status.SHIPPED: frozenset(
            {Status.IN_TRANSIT, Status.AT_CUSTOMS, Status.OUT_FOR_DELIVERY, Status.DELIVERED, Status.EXCEPTION}
        ),
        Status.IN_TRANSIT: frozenset({Status.AT_CUSTOMS, Status.OUT_FOR_DELIVERY, Status.DELIVERED, Status.EXCEPTION}),
        Status.AT_CUSTOMS: frozenset({Status.OUT_FOR_DELIVERY, Status.DELIVERED, Status.EXCEPTION}),
        Status.OUT_FOR_DELIVERY: frozenset({Status.DELIVERED, Status.EXCEPTION}),
        Status.EXCEPTION: frozenset({Status.DELIVERED, Status.RETURNED}),
        Status.DELIVERED: frozenset({Status.RETURNED}),
        Status.RETURNED: frozenset(),
        Status.CANCELLED: frozenset(),
    }
    # Statuses the carrier is asked about (poll_tracking); the others wait for a person or are final.
    TRACKED: frozenset[str] = frozenset(
        {Status.SHIPPED, Status.IN_TRANSIT, Status.AT_CUSTOMS, Status.OUT_FOR_DELIVERY, Status.EXCEPTION}
    )

    order_number = models.CharField(
        _("order number"), max_length=40, blank=True, db_index=True, help_text=_("The order this parcel belongs to.")
    )
    warehouse = models.ForeignKey(
        "logistics.Warehouse", on_delete=models.PROTECT, related_name="shipments", verbose_name=_("ships from")
    )
    destination_country = CountryField(_("destination country"))
    recipient_name = models.CharField(_("recipient"), max_length=200, blank=True)
    recipient_address = models.TextField(_("delivery address"), blank=True)
    method = models.ForeignKey(
        ShippingMethod,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="shipments",
        verbose_name=_("shipping method"),
    )
    incoterm = models.CharField(
        _("Incoterm"), max_length=3, choices=ShippingMethod.Incoterm.choices, default=ShippingMethod.Incoterm.DDP
    )
    shipping_cost = money_field(verbose_name=_("shipping cost"), null=True, blank=True)
    carrier = models.CharField(
        _("carrier"), max_length=40, default="simulated", help_text=_("A key of settings.CARRIERS.")
    )
    tracking_number = models.CharField(
        _("tracking number"),
        max_length=TRACKING_NUMBER_MAX,
        blank=True,
        validators=[validate_tracking_number],
        help_text=_("6 to 40 characters: capital letters, digits and hyphens."),
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    customs_items = models.JSONField(
        _("customs declaration"),
        default=list,
        blank=True,
        help_text=_('Items: [{"description", "hs_code", "origin", "quantity", "value" (per unit), "currency"}].'),
    )
    packed_at = models.DateTimeField(_("packed at"), null=True, blank=True)
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    # Polling bookkeeping: a failing carrier pushes the next poll out (backoff), success resets it.
    last_polled_at = models.DateTimeField(_("last polled at"), null=True, blank=True)
    next_poll_at = models.DateTimeField(_("next poll not before"), null=True, blank=True)
    poll_failures = models.PositiveSmallIntegerField(_("failed polls in a row"), default=0)
    last_poll_error = models.CharField(_("last poll error"), max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        indexes = [models.Index(fields=["status", "next_poll_at"], name="shipment_poll_due")]
        constraints = [
            models.UniqueConstraint(
                fields=["carrier", "tracking_number"],
                condition=~Q(tracking_number=""),
                name="shipment_tracking_number_once_per_carrier",
            ),
            models.CheckConstraint(
                condition=Q(tracking_number="") | Q(tracking_number__regex=r"^[A-Z0-9-]{6,40}$"),
                name="shipment_tracking_number_format",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "packed", "cancelled"]) | ~Q(tracking_number=""),
                name="shipment_shipped_has_tracking_number",
            ),
            models.CheckConstraint(condition=Q(status__in=SHIPMENT_STATUSES), name="shipment_status_known"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_status_display()}" + (f" {self.tracking_number}" if self.tracking_number else "")

    def can_become(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, frozenset())

    @property
    def declared_items(self) -> list[DeclaredItem]:
        return parse_customs_items(self.customs_items)

    def clean(self) -> None:
        if self.carrier and self.carrier not in settings.CARRIERS:
            raise ValidationError({"carrier": _("%(code)s is not a configured carrier.") % {"code": self.carrier}})
        try:
            parse_customs_items(self.customs_items or [])
        except ValidationError as exc:
            raise ValidationError({"customs_items": exc.messages}) from exc


assert [status.value for status in Shipment.Status] == SHIPMENT_STATUSES  # the constraint lists them all


class TrackingEvent(models.Model):
    """One checkpoint of a parcel, as the carrier reported it. Append-only; ``key`` makes it idempotent."""

    class Source(models.TextChoices):
        POLL = "poll", _("Carrier poll")
        WEBHOOK = "webhook", _("Carrier webhook")
        OPERATOR = "operator", _("Seller or operator")

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="events", verbose_name=_("shipment"))
    key = models.CharField(
        _("event key"), max_length=64, help_text=_("The carrier's event id, or a hash of its time, code and place.")
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Shipment.Status.choices, blank=True, help_text=_("Empty: information only.")
    )
    carrier_code = models.CharField(_("carrier's code"), max_length=60, blank=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    location = models.CharField(_("location"), max_length=200, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "pk"]
        verbose_name = _("tracking event")
        verbose_name_plural = _("tracking events")
        indexes = [models.Index(fields=["shipment", "occurred_at"], name="tracking_event_timeline")]
        constraints = [models.UniqueConstraint(fields=["shipment", "key"], name="tracking_event_once_per_key")]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.get_status_display() or self.description}"
