from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from marketplace.models import TimeStampedModel, money_field


class ShippingZone(TimeStampedModel):
    """A set of destination countries priced alike (e.g. "EU", "North America")."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    countries = CountryField(_("countries"), multiple=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("shipping zone")
        verbose_name_plural = _("shipping zones")

    def __str__(self) -> str:
        return self.name


class ShippingMethod(TimeStampedModel):
    class ServiceLevel(models.TextChoices):
        ECONOMY = "economy", _("Economy")
        STANDARD = "standard", _("Standard")
        EXPRESS = "express", _("Express")

    class Incoterm(models.TextChoices):
        DDP = "DDP", _("DDP: duties and taxes paid at checkout")
        DAP = "DAP", _("DAP: duties and taxes collected at the door")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=120)
    carrier = models.CharField(_("carrier"), max_length=40, help_text=_("A key of settings.CARRIERS."))
    service_level = models.CharField(_("service level"), max_length=10, choices=ServiceLevel.choices)
    incoterm = models.CharField(_("Incoterm"), max_length=3, choices=Incoterm.choices)
    transit_days_min = models.PositiveSmallIntegerField(_("transit days (min)"))
    transit_days_max = models.PositiveSmallIntegerField(_("transit days (max)"))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("shipping method")
        verbose_name_plural = _("shipping methods")
        constraints = [
            models.CheckConstraint(
                condition=Q(transit_days_min__lte=F("transit_days_max")), name="shipping_method_transit_range"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        low, high = self.transit_days_min, self.transit_days_max
        if low is not None and high is not None and low > high:
            raise ValidationError(
                {"transit_days_max": _("The longest transit time must not be shorter than the shortest.")}
            )


class ShippingRate(TimeStampedModel):
    """The price of sending a parcel from a warehouse to a zone, by weight bracket [min, max)."""

    method = models.ForeignKey(ShippingMethod, on_delete=models.CASCADE, related_name="rates", verbose_name=_("method"))
    warehouse = models.ForeignKey(
        "logistics.Warehouse", on_delete=models.CASCADE, related_name="shipping_rates", verbose_name=_("from")
    )
    zone = models.ForeignKey(ShippingZone, on_delete=models.CASCADE, related_name="rates", verbose_name=_("to zone"))
    min_weight_grams = models.PositiveIntegerField(_("from weight (g)"), default=0)
    max_weight_grams = models.PositiveIntegerField(_("up to weight (g), exclusive"))
    price = money_field(verbose_name=_("price"))

    class Meta:
        ordering = ["warehouse", "zone", "method", "min_weight_grams"]
        verbose_name = _("shipping rate")
        verbose_name_plural = _("shipping rates")
        constraints = [
            models.CheckConstraint(
                condition=Q(min_weight_grams__lt=F("max_weight_grams")), name="shipping_rate_bracket_not_empty"
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="shipping_rate_price_not_negative"),
        ]

    def clean(self) -> None:
        # Clear messages for what the database constraints also refuse (they would say only
        # "constraint violated"); a field with an error here skips its constraint check.
        errors = {}
        low, high = self.min_weight_grams, self.max_weight_grams
        if low is not None and high is not None and low >= high:
            errors["max_weight_grams"] = _(
                "The weight bracket is empty: “up to” (%(high)s g) must be more than “from” (%(low)s g)."
            ) % {"high": high, "low": low}
        if self.price is not None and self.price.amount < 0:
            errors["price"] = _("The price must not be negative.")
        if errors:
            raise ValidationError(errors)

    def __str__(self) -> str:
        return f"{self.method} {self.warehouse.code}→{self.zone.code} {self.min_weight_grams}-{self.max_weight_grams} g"
