"""Cart -> Checkout (a quote with locked FX rates) -> Order (per-seller sub-orders, line snapshots,
stock reservations). Shipments live in logistics and point back by ``order_number``."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField
from djmoney.money import Money

from marketplace.models import TimeStampedModel, money_field

MAX_LINE_QUANTITY = 20  # units of one variant in one cart line (also a DB constraint)
ORDER_NUMBER_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read out over the phone


def new_order_number() -> str:
    """Like "BM-7K3Q-92XD": 32**8 (about 10**12) values; the unique constraint catches the rest."""
    chars = "".join(secrets.choice(ORDER_NUMBER_ALPHABET) for _ in range(8))
    return f"BM-{chars[:4]}-{chars[4:]}"


def quote_expiry() -> datetime:
    return timezone.now() + timedelta(minutes=settings.CHECKOUT_QUOTE_MINUTES)


class Cart(TimeStampedModel):
    class Status(models.TextChoices):
        OPEN = "open", _("open")
        ORDERED = "ordered", _("ordered")
        MERGED = "merged", _("merged")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="carts",
        verbose_name=_("buyer"),
    )
    token = models.UUIDField(_("session token"), default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)

    class Meta:
        verbose_name = _("cart")
        verbose_name_plural = _("carts")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user"], condition=Q(status="open"), name="cart_one_open_per_user"),
        ]

    def __str__(self) -> str:
        return f"cart {self.pk} ({self.status})"


class CartLine(TimeStampedModel):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines", verbose_name=_("cart"))
    variant = models.ForeignKey(
        "catalog.Variant", on_delete=models.CASCADE, related_name="cart_lines", verbose_name=_("variant")
    )
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        verbose_name = _("cart line")
        verbose_name_plural = _("cart lines")
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "variant"], name="cart_line_once_per_variant"),
            models.CheckConstraint(
                condition=Q(quantity__gte=1, quantity__lte=MAX_LINE_QUANTITY), name="cart_line_quantity_in_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.variant_id}"


class Checkout(TimeStampedModel):
    """One quote for one cart and address. ``token`` is the idempotency key of placing the order."""

    token = models.UUIDField(_("token"), default=uuid.uuid4, unique=True, editable=False)
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="checkouts", verbose_name=_("cart"))
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="checkouts", verbose_name=_("buyer")
    )
    email = models.EmailField(_("e-mail address"))
    name = models.CharField(_("full name"), max_length=200)
    line1 = models.CharField(_("address"), max_length=200)
    line2 = models.CharField(_("address (continued)"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=120)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    country = CountryField(_("country"))
    phone = models.CharField(_("phone"), max_length=32, help_text=_("International format, e.g. +49 30 1234567."))
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, default="en")
    currency = models.CharField(_("currency"), max_length=3)
    quote = models.JSONField(_("quote"), default=dict, blank=True)
    shipping_choices = models.JSONField(
        _("delivery choices"), default=dict, blank=True, help_text=_("Shipping method id per shipping warehouse id.")
    )
    payment_method = models.CharField(_("payment method"), max_length=32, blank=True)
    previous_total = money_field(verbose_name=_("total of the expired quote"), null=True, blank=True)
    fx_rates = models.JSONField(_("FX rates used"), default=dict, blank=True)
    quoted_at = models.DateTimeField(_("quoted at"), default=timezone.now)
    expires_at = models.DateTimeField(_("quote expires at"), default=quote_expiry)

    class Meta:
        verbose_name = _("checkout")
        verbose_name_plural = _("checkouts")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return str(self.token)

    @property
    def expired(self) -> bool:
        return self.expires_at <= timezone.now()

    def address_lines(self) -> list[str]:
        city = " ".join(part for part in (self.postal_code, self.city) if part)
        return [p for p in (self.name, self.line1, self.line2, city, self.country.name) if p]


class Order(TimeStampedModel):
    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", _("awaiting payment")
        CONFIRMED = "confirmed", _("confirmed")  # paid, authorized, or cash on delivery accepted
        FULFILLING = "fulfilling", _("being prepared")
        SHIPPED = "shipped", _("shipped")
        DELIVERED = "delivered", _("delivered")
        CANCELLED = "cancelled", _("cancelled")
        EXPIRED = "expired", _("expired (not paid)")
        REFUNDED = "refunded", _("refunded")

    # Allowed status changes (STYLE.md, 6): anything else is refused by ``can_become``.
    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.PENDING_PAYMENT: frozenset({Status.CONFIRMED, Status.CANCELLED, Status.EXPIRED}),
        Status.CONFIRMED: frozenset({Status.FULFILLING, Status.SHIPPED, Status.CANCELLED, Status.REFUNDED}),
        Status.FULFILLING: frozenset({Status.SHIPPED, Status.CANCELLED, Status.REFUNDED}),
        Status.SHIPPED: frozenset({Status.DELIVERED, Status.REFUNDED, Status.CANCELLED}),  # cancelled: COD refused
        Status.DELIVERED: frozenset({Status.REFUNDED}),
        Status.CANCELLED: frozenset(),
        Status.EXPIRED: frozenset(),
        Status.REFUNDED: frozenset(),
    }

    number = models.CharField(_("order number"), max_length=20, unique=True, default=new_order_number)
    checkout = models.OneToOneField(
        Checkout, on_delete=models.PROTECT, related_name="order", verbose_name=_("checkout")
    )
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders", verbose_name=_("buyer")
    )
    email = models.EmailField(_("e-mail address"))
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    currency = models.CharField(_("currency"), max_length=3)
    country = CountryField(_("destination country"))
    shipping_address = models.JSONField(_("shipping address"), default=dict)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING_PAYMENT)
    goods = money_field(verbose_name=_("goods"))
    shipping = money_field(verbose_name=_("shipping"))
    duties = money_field(verbose_name=_("duties"))
    taxes = money_field(verbose_name=_("taxes"))
    fees = money_field(verbose_name=_("fees"))
    total = money_field(verbose_name=_("total"))
    due_at_door = money_field(verbose_name=_("due at the door"))
    payment_method = models.CharField(_("payment method"), max_length=32, blank=True)
    payment_fee = money_field(
        verbose_name=_("payment method fee"), null=True, blank=True, help_text=_("Part of the fees and the total.")
    )
    fx_rates = models.JSONField(_("FX rates locked"), default=dict)
    reservation_expires_at = models.DateTimeField(_("stock reserved until"), null=True, blank=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative"),
        ]

    def __str__(self) -> str:
        return self.number

    def can_become(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, frozenset())

    @property
    def due_at_checkout(self) -> Money:
        return self.total - self.due_at_door


class SubOrder(TimeStampedModel):
    """What one seller must fulfil of an order."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="sub_orders", verbose_name=_("order"))
    seller = models.ForeignKey(
        "catalog.Seller", on_delete=models.PROTECT, related_name="sub_orders", verbose_name=_("seller")
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Order.Status.choices, default=Order.Status.PENDING_PAYMENT
    )
    goods = money_field(verbose_name=_("goods"))

    class Meta:
        verbose_name = _("sub-order")
        verbose_name_plural = _("sub-orders")
        ordering = ["order", "pk"]
        constraints = [models.UniqueConstraint(fields=["order", "seller"], name="sub_order_once_per_seller")]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.seller_id}"


class OrderLine(TimeStampedModel):
    """A snapshot of what was bought, from which warehouse, at which prices and rate."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", verbose_name=_("order"))
    sub_order = models.ForeignKey(SubOrder, on_delete=models.CASCADE, related_name="lines", verbose_name=_("sub-order"))
    variant = models.ForeignKey(
        "catalog.Variant",
        on_delete=models.SET_NULL,
        null=True,
        related_name="order_lines",
        verbose_name=_("variant"),
    )
    warehouse = models.ForeignKey(
        "logistics.Warehouse", on_delete=models.PROTECT, related_name="order_lines", verbose_name=_("ships from")
    )
    name = models.CharField(_("name"), max_length=300)
    sku = models.CharField(_("SKU"), max_length=64)
    hs_code = models.CharField(_("HS code"), max_length=10)
    origin_country = CountryField(_("country of origin"))
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price_seller = money_field(verbose_name=_("unit price (seller currency)"))
    unit_price = money_field(verbose_name=_("unit price (buyer currency)"))
    fx_rate = models.DecimalField(_("FX rate"), max_digits=24, decimal_places=12)
    line_total = money_field(verbose_name=_("line total"))

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["order", "pk"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gte=1), name="order_line_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class StockReservation(TimeStampedModel):
    """Units of one Stock row held for an order line until paid (then shipped) or released."""

    order_line = models.ForeignKey(
        OrderLine, on_delete=models.CASCADE, related_name="reservations", verbose_name=_("order line")
    )
    stock = models.ForeignKey(
        "logistics.Stock", on_delete=models.PROTECT, related_name="reservations", verbose_name=_("stock")
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    released_at = models.DateTimeField(_("released at"), null=True, blank=True)

    class Meta:
        verbose_name = _("stock reservation")
        verbose_name_plural = _("stock reservations")
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="stock_reservation_quantity_positive"),
            models.UniqueConstraint(fields=["order_line", "stock"], name="stock_reservation_once_per_line_stock"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of stock {self.stock_id}"


from .feedback_models import *  # noqa: E402, F403  (feedback threads and revisions, issue 7)
from .fulfilment_models import *  # noqa: E402, F403  (order timeline and buyer e-mails)
