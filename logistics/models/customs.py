"""Customs: duty rates per destination and HS-code prefix, and each market's import rules.

The figures operators keep here, together with the market's de-minimis thresholds
(``marketplace.Market.duty_de_minimis`` / ``tax_de_minimis``) and its VAT/GST rate, are all that
``logistics.customs.landed_cost`` reads. Amounts are ``Money`` in the currency the law states
(EUR 150, GBP 135, USD 50, ...): conversions happen when a quote is computed, never when stored.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from marketplace.models import TimeStampedModel, money_field

hs_prefix_validator = RegexValidator(
    r"^\d{0,10}$", _("An HS prefix is up to 10 digits, without dots or spaces (empty: the destination's default).")
)
PERCENT = [MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(1000))]


class MarketCustomsRule(TimeStampedModel):
    """How a destination taxes imports, beyond the thresholds and VAT rate on its ``Market``.

    One row per market; a market without a row gets the defaults (VAT base includes shipping and
    duty, duty on goods and shipping, nothing collected at checkout under DAP, no fee).
    """

    class TaxName(models.TextChoices):
        VAT = "vat", _("VAT")
        GST = "gst", _("GST")
        CONSUMPTION_TAX = "consumption_tax", _("consumption tax")
        SALES_TAX = "sales_tax", _("sales tax")
        ICMS = "icms", _("ICMS")

    market = models.OneToOneField(
        "marketplace.Market", on_delete=models.CASCADE, related_name="customs_rule", verbose_name=_("market")
    )
    tax_name = models.CharField(_("tax name"), max_length=20, choices=TaxName.choices, default=TaxName.VAT)
    checkout_tax_up_to = money_field(
        verbose_name=_("tax collected at checkout up to"),
        null=True,
        blank=True,
        help_text=_(
            "Low-value import scheme: for goods worth up to this value the seller collects VAT/GST at "
            "checkout, whatever the Incoterm (EU IOSS EUR 150, UK GBP 135, Australia AUD 1,000). "
            "Empty: no such scheme."
        ),
    )
    duty_base_includes_shipping = models.BooleanField(
        _("duty on goods and shipping (CIF)"),
        default=True,
        help_text=_(
            "On: duty is charged on goods plus shipping (CIF, e.g. EU, UK). Off: on goods only (FOB, e.g. US)."
        ),
    )
    tax_base_includes_shipping = models.BooleanField(_("tax base includes shipping"), default=True)
    tax_base_includes_duty = models.BooleanField(_("tax base includes duty"), default=True)
    tax_inclusive_base = models.BooleanField(
        _("tax computed 'by inside'"),
        default=False,
        help_text=_("On: the tax is part of its own base, base ÷ (1 − rate), as Brazil's ICMS."),
    )
    parcel_fee = money_field(
        verbose_name=_("clearance fee per parcel"),
        null=True,
        blank=True,
        help_text=_(
            "Charged once per parcel when duty or import tax is assessed at the border (not for "
            "tax collected at checkout under a low-value scheme)."
        ),
    )
    source = models.CharField(_("source"), max_length=300, blank=True)
    verified_on = models.DateField(_("last verified on"))

    class Meta:
        ordering = ["market__country"]
        verbose_name = _("market customs rule")
        verbose_name_plural = _("market customs rules")
        constraints = [
            models.CheckConstraint(
                condition=Q(checkout_tax_up_to__isnull=True) | Q(checkout_tax_up_to__gt=0),
                name="customs_rule_checkout_threshold_positive",
            ),
            models.CheckConstraint(
                condition=Q(parcel_fee__isnull=True) | Q(parcel_fee__gte=0), name="customs_rule_parcel_fee_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return str(self.market)


class DutyRate(TimeStampedModel):
    """An ad-valorem duty rate for a destination and an HS-code prefix; the longest prefix wins.

    ``hs_prefix`` '' is the destination's default. Tiers (``DutyRateTier``) replace the rate for
    parcels above a value, as Brazil's 20 % up to USD 50 and 60 % less USD 20 above.
    """

    country = CountryField(_("destination country"))
    hs_prefix = models.CharField(_("HS code prefix"), max_length=10, blank=True, validators=[hs_prefix_validator])
    description = models.CharField(_("goods"), max_length=200, blank=True)
    rate = models.DecimalField(_("duty rate (%)"), max_digits=7, decimal_places=3, validators=PERCENT)
    per_item_fee = money_field(
        verbose_name=_("flat fee per item"),
        null=True,
        blank=True,
        help_text=_("Added per unit when duty applies (a specific duty or per-item charge)."),
    )
    source = models.CharField(_("source"), max_length=300, blank=True)
    verified_on = models.DateField(_("last verified on"))

    class Meta:
        ordering = ["country", "hs_prefix"]
        verbose_name = _("duty rate")
        verbose_name_plural = _("duty rates")
        constraints = [
            models.UniqueConstraint(fields=["country", "hs_prefix"], name="duty_rate_once_per_prefix"),
            models.CheckConstraint(condition=Q(rate__gte=0), name="duty_rate_not_negative"),
            models.CheckConstraint(condition=Q(hs_prefix__regex=r"^[0-9]{0,10}$"), name="duty_rate_prefix_digits"),
            models.CheckConstraint(
                condition=Q(per_item_fee__isnull=True) | Q(per_item_fee__gte=0), name="duty_rate_item_fee_not_negative"
            ),
        ]

    def __str__(self) -> str:
        prefix = self.hs_prefix or _("default")
        return f"{self.country.code} {prefix}: {self.rate}%"


class DutyRateTier(TimeStampedModel):
    """Above ``above`` (goods value of the parcel), ``rate`` replaces the duty rate, less ``deduction``.

    The deduction is taken once per parcel from the duty charged at this rate, never below zero.
    """

    duty_rate = models.ForeignKey(DutyRate, on_delete=models.CASCADE, related_name="tiers", verbose_name=_("duty rate"))
    above = money_field(verbose_name=_("goods value above"))
    rate = models.DecimalField(_("duty rate (%)"), max_digits=7, decimal_places=3, validators=PERCENT)
    deduction = money_field(verbose_name=_("deduction per parcel"), null=True, blank=True)

    class Meta:
        ordering = ["duty_rate", "above"]
        verbose_name = _("duty rate tier")
        verbose_name_plural = _("duty rate tiers")
        constraints = [
            models.UniqueConstraint(fields=["duty_rate", "above"], name="duty_tier_once_per_threshold"),
            models.CheckConstraint(condition=Q(above__gte=0), name="duty_tier_threshold_not_negative"),
            models.CheckConstraint(condition=Q(rate__gte=0), name="duty_tier_rate_not_negative"),
            models.CheckConstraint(
                condition=Q(deduction__isnull=True) | Q(deduction__gte=0), name="duty_tier_deduction_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"> {self.above}: {self.rate}%"

    def clean(self) -> None:
        if self.deduction is not None and self.above is not None and self.deduction.currency != self.above.currency:
            raise ValidationError(
                {
                    "deduction": _("State the deduction in the threshold's currency, %(code)s.")
                    % {"code": self.above.currency}
                }
            )
