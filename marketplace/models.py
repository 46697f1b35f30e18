from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField
from djmoney.models.fields import MoneyField

CURRENCY_CHOICES = [(code, code) for code in settings.CURRENCIES]


def money_field(**kwargs: Any) -> MoneyField:
    """Every stored amount: 3 decimal places covers KWD and BHD (STYLE.md, 9)."""
    kwargs.setdefault("currency_choices", CURRENCY_CHOICES)
    return MoneyField(max_digits=14, decimal_places=3, default_currency=None, **kwargs)


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person: buyer, seller user or operator. Signs in with the e-mail address."""

    username = None  # type: ignore[assignment]
    email = models.EmailField(_("e-mail address"), unique=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=10, choices=settings.LANGUAGES, blank=True
    )
    preferred_currency = models.CharField(_("preferred currency"), max_length=3, choices=CURRENCY_CHOICES, blank=True)
    country = CountryField(_("country"), blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()  # type: ignore[misc]

    class Meta:
        ordering = ["email"]
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.email


class Market(TimeStampedModel):
    """A destination country and the rules that apply to what is shipped there."""

    class Region(models.TextChoices):
        AMERICAS = "americas", _("Americas")
        EUROPE = "europe", _("Europe")
        MIDDLE_EAST = "middle_east", _("Middle East")
        ASIA_PACIFIC = "asia_pacific", _("Asia-Pacific")

    country = CountryField(_("country"), unique=True)
    region = models.CharField(_("region"), max_length=20, choices=Region.choices)
    currency = models.CharField(_("default currency"), max_length=3, choices=CURRENCY_CHOICES)
    language = models.CharField(_("default language"), max_length=10, choices=settings.LANGUAGES)
    vat_rate = models.DecimalField(
        _("standard VAT/GST rate (%)"),
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
    )
    duty_de_minimis = money_field(
        verbose_name=_("duty de minimis"),
        help_text=_("Goods value up to which no import duty is charged (0: duty from the first cent)."),
    )
    duty_de_minimis_verified_on = models.DateField(_("duty threshold last verified on"))
    tax_de_minimis = money_field(
        verbose_name=_("tax de minimis"),
        help_text=_("Goods value up to which no import VAT/GST is charged (0: taxed from the first cent)."),
    )
    tax_de_minimis_verified_on = models.DateField(_("tax threshold last verified on"))
    payment_methods = models.JSONField(
        _("payment methods offered"),
        default=list,
        blank=True,
        help_text=_("Codes of the payment methods offered in this market."),
    )
    cod_enabled = models.BooleanField(_("cash on delivery offered"), default=False)
    cod_max = money_field(verbose_name=_("cash on delivery maximum"), null=True, blank=True)
    cod_fee = money_field(
        verbose_name=_("cash on delivery fee"),
        null=True,
        blank=True,
        help_text=_("Added to the order when the buyer pays at the door (in the market's currency)."),
    )
    manual_capture = models.BooleanField(
        _("capture card payments on shipping"),
        default=False,
        help_text=_("Authorize at checkout and take the money when the order ships, where the market expects it."),
    )
    return_window_days = models.PositiveSmallIntegerField(
        _("return window (days)"),
        default=14,
        help_text=_("Days after delivery during which the buyer may return goods; sellers are paid after it."),
    )
    fx_margin = models.DecimalField(
        _("FX margin (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(20))],
        help_text=_("Added to converted display prices for buyers in this market; recorded with each conversion."),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["country"]
        verbose_name = _("market")
        verbose_name_plural = _("markets")
        constraints = [
            models.CheckConstraint(condition=Q(vat_rate__gte=0) & Q(vat_rate__lte=100), name="market_vat_rate_range"),
            models.CheckConstraint(condition=Q(fx_margin__gte=0), name="market_fx_margin_not_negative"),
            models.CheckConstraint(
                condition=Q(cod_enabled=False) | Q(cod_max__isnull=False), name="market_cod_needs_maximum"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.country.name} ({self.currency})"

    def clean(self) -> None:
        unknown = sorted(set(self.payment_methods or []) - set(settings.PAYMENT_METHOD_CODES))
        if unknown:
            raise ValidationError(
                {"payment_methods": _("Unknown payment method: %(codes)s.") % {"codes": ", ".join(unknown)}}
            )
        if self.cod_enabled and self.cod_max is None:
            raise ValidationError({"cod_max": _("Set the cash on delivery maximum, or turn cash on delivery off.")})
        if self.cod_enabled and "cod" not in (self.payment_methods or []):
            raise ValidationError({"payment_methods": _("Add 'cod' to the methods when cash on delivery is offered.")})


class ManualRate(TimeStampedModel):
    """An operator-entered rate for a currency no feed publishes (VND, AED, ...)."""

    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES, unique=True)
    units_per_eur = models.DecimalField(
        _("units per 1 EUR"),
        max_digits=20,
        decimal_places=6,
        validators=[MinValueValidator(Decimal("0.000001"))],
        help_text=_("How many units of this currency one euro buys, e.g. 27500 for VND."),
    )
    source = models.CharField(_("source"), max_length=200, blank=True, help_text=_("Where the figure comes from."))
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("entered by"), null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["currency"]
        verbose_name = _("manual rate")
        verbose_name_plural = _("manual rates")
        constraints = [models.CheckConstraint(condition=Q(units_per_eur__gt=0), name="manual_rate_positive")]

    def __str__(self) -> str:
        return f"1 EUR = {self.units_per_eur} {self.currency}"


class FxRefresh(models.Model):
    """One complete set of rates, written atomically by ``refresh_fx_rates`` (or a failed try)."""

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    checked_at = models.DateTimeField(_("last confirmed at"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    providers = models.JSONField(_("providers used"), default=list)
    rate_count = models.PositiveIntegerField(_("number of rates"), default=0)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        get_latest_by = "started_at"
        verbose_name = _("FX refresh")
        verbose_name_plural = _("FX refreshes")

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M} {self.get_status_display()}"


class FxRate(models.Model):
    """History: one rate of one refresh, with where and when it came from. Never edited."""

    refresh = models.ForeignKey(FxRefresh, on_delete=models.PROTECT, related_name="rates")
    currency = models.CharField(_("currency"), max_length=3)
    units_per_eur = models.DecimalField(_("units per 1 EUR"), max_digits=20, decimal_places=6)
    provider = models.CharField(_("provider"), max_length=40)
    as_of = models.DateTimeField(_("as of"), help_text=_("When the provider published this figure."))
    offline = models.BooleanField(
        _("offline source"),
        default=False,
        help_text=_("Bundled or manual figures: their age counts from the refresh that confirmed them."),
    )

    class Meta:
        ordering = ["refresh", "currency"]
        verbose_name = _("FX rate")
        verbose_name_plural = _("FX rates")
        constraints = [
            models.UniqueConstraint(fields=["refresh", "currency"], name="fx_rate_once_per_refresh"),
            models.CheckConstraint(condition=Q(units_per_eur__gt=0), name="fx_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"1 EUR = {self.units_per_eur} {self.currency} ({self.provider})"
