from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from marketplace.models import TimeStampedModel


class Warehouse(TimeStampedModel):
    """Where units lie: a seller's origin warehouse, a shared overseas one, or a bonded one."""

    class Kind(models.TextChoices):
        ORIGIN = "origin", _("Seller's origin warehouse")
        OVERSEAS = "overseas", _("Overseas warehouse")
        BONDED = "bonded", _("Bonded warehouse")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    country = CountryField(_("country"))
    city = models.CharField(_("city"), max_length=120)
    address = models.TextField(_("address"), blank=True)
    operator = models.CharField(
        _("operated by"), max_length=120, blank=True, help_text=_("Marketplace, a 3PL or the seller.")
    )
    sellers = models.ManyToManyField(
        "catalog.Seller", related_name="warehouses", blank=True, verbose_name=_("sellers who may use it")
    )
    handling_days = models.PositiveSmallIntegerField(_("handling days"), default=1)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("warehouse")
        verbose_name_plural = _("warehouses")

    def __str__(self) -> str:
        return f"{self.name} ({self.country.code})"


class Stock(TimeStampedModel):
    """Units of one variant in one warehouse. The database refuses negative or over-allocated stock."""

    variant = models.ForeignKey(
        "catalog.Variant", on_delete=models.CASCADE, related_name="stock", verbose_name=_("variant")
    )
    warehouse = models.ForeignKey(
        Warehouse, on_delete=models.PROTECT, related_name="stock", verbose_name=_("warehouse")
    )
    on_hand = models.IntegerField(_("on hand"), default=0)
    allocated = models.IntegerField(_("allocated"), default=0)

    class Meta:
        ordering = ["warehouse", "variant"]
        verbose_name = _("stock")
        verbose_name_plural = _("stock")
        constraints = [
            models.UniqueConstraint(fields=["variant", "warehouse"], name="stock_once_per_variant_and_warehouse"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stock_on_hand_not_negative"),
            models.CheckConstraint(condition=Q(allocated__gte=0), name="stock_allocated_not_negative"),
            models.CheckConstraint(condition=Q(allocated__lte=F("on_hand")), name="stock_allocated_within_on_hand"),
        ]

    def __str__(self) -> str:
        return f"{self.variant_id}@{self.warehouse_id}: {self.on_hand} ({self.allocated} allocated)"

    @property
    def available(self) -> int:
        return self.on_hand - self.allocated


class StockAdjustment(models.Model):
    """Append-only log: who changed on-hand stock, by how much, and why."""

    class Reason(models.TextChoices):
        RECEIVED = "received", _("Received")
        CORRECTION = "correction", _("Stock count correction")
        DAMAGED = "damaged", _("Damaged or lost")
        RETURNED = "returned", _("Returned by a buyer")
        TRANSFER = "transfer", _("Transfer between warehouses")
        SHIPPED = "shipped", _("Shipped to a buyer")

    stock = models.ForeignKey(Stock, on_delete=models.CASCADE, related_name="adjustments", verbose_name=_("stock"))
    quantity = models.IntegerField(_("change in units"))
    on_hand_after = models.IntegerField(_("on hand after"))
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    note = models.CharField(_("note"), max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("by")
    )
    created_at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("stock adjustment")
        verbose_name_plural = _("stock adjustments")
        constraints = [models.CheckConstraint(condition=~Q(quantity=0), name="stock_adjustment_not_zero")]

    def __str__(self) -> str:
        return f"{self.quantity:+d} ({self.get_reason_display()})"
