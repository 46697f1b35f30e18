"""Sellers (producers), categories, products, variants, prices and images.

Texts shown to buyers are translated with django-modeltranslation (``catalog/translation.py``):
``product.name`` reads the active language and falls back to English; code that writes a given
language names the column (``name_de``).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from marketplace.models import CURRENCY_CHOICES, TimeStampedModel, money_field

hs_code_validator = RegexValidator(
    r"^\d{6,10}$", _("An HS code has 6 to 10 digits, without dots or spaces (e.g. 670411).")
)
TRANSLATED_LANGUAGES = [code for code, _name in settings.LANGUAGES]


class Seller(TimeStampedModel):
    """A producer selling on the marketplace, with its home country and base currency."""

    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    name = models.CharField(_("name"), max_length=120)
    country = CountryField(_("home country"))
    base_currency = models.CharField(_("base currency"), max_length=3, choices=CURRENCY_CHOICES)
    tagline = models.CharField(_("tagline"), max_length=200, blank=True)
    description = models.TextField(_("profile"), blank=True)
    logo = models.ImageField(_("logo"), upload_to="sellers/", blank=True)
    verified = models.BooleanField(_("verified"), default=False)
    commission_rate = models.DecimalField(
        _("commission (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("10.00"),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(50))],
    )
    stripe_account_id = models.CharField(
        _("Stripe Connect account"),
        max_length=64,
        blank=True,
        help_text=_("acct_...: where payouts are transferred when Stripe Connect payouts are on."),
    )
    # Filled by the feedback threads (orders app) once buyers write to the producer.
    median_response_minutes = models.PositiveIntegerField(_("median first response (minutes)"), null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("seller")
        verbose_name_plural = _("sellers")
        constraints = [
            models.CheckConstraint(
                condition=Q(commission_rate__gte=0) & Q(commission_rate__lte=50), name="seller_commission_range"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalog:seller-detail", kwargs={"slug": self.slug})

    @property
    def response_hours(self) -> int | None:
        """The median first response, rounded up to whole hours, for showing to buyers."""
        if self.median_response_minutes is None:
            return None
        return max(1, -(-self.median_response_minutes // 60))


class SellerMember(TimeStampedModel):
    """A user acting for a seller. A user belongs to at most one seller."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="seller_membership", verbose_name=_("user")
    )
    seller = models.ForeignKey(Seller, on_delete=models.CASCADE, related_name="members", verbose_name=_("seller"))

    class Meta:
        ordering = ["seller", "user"]
        verbose_name = _("seller user")
        verbose_name_plural = _("seller users")

    def __str__(self) -> str:
        return f"{self.user} @ {self.seller}"


class Category(TimeStampedModel):
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children", verbose_name=_("parent")
    )
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "slug"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.name


class Product(TimeStampedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PENDING_REVIEW = "pending_review", _("Pending review")
        ACTIVE = "active", _("Active")
        REJECTED = "rejected", _("Rejected")
        ARCHIVED = "archived", _("Archived")

    # Allowed status changes; everything else is refused (see catalog.services).
    TRANSITIONS: dict[str, set[str]] = {
        Status.DRAFT: {Status.PENDING_REVIEW, Status.ARCHIVED},
        Status.PENDING_REVIEW: {Status.ACTIVE, Status.REJECTED, Status.DRAFT},
        Status.REJECTED: {Status.PENDING_REVIEW, Status.DRAFT, Status.ARCHIVED},
        Status.ACTIVE: {Status.ARCHIVED, Status.PENDING_REVIEW},
        Status.ARCHIVED: {Status.DRAFT},
    }

    seller = models.ForeignKey(Seller, on_delete=models.PROTECT, related_name="products", verbose_name=_("seller"))
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="products", verbose_name=_("category")
    )
    slug = models.SlugField(_("slug"), max_length=120, unique=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT)
    brand = models.CharField(_("brand"), max_length=80, blank=True)
    hs_code = models.CharField(_("HS code"), max_length=10, validators=[hs_code_validator])
    origin_country = CountryField(_("country of origin"))
    name = models.CharField(_("name"), max_length=200)
    short_description = models.CharField(_("short description"), max_length=300, blank=True)
    description = models.TextField(_("description"), blank=True)
    material_care = models.TextField(_("material and care"), blank=True)
    featured = models.BooleanField(_("featured"), default=False)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    review_note = models.TextField(_("review note"), blank=True)
    # When the English source text last changed, and when each translation was last written:
    # a translation older than its source "needs update" in the seller portal.
    source_changed_at = models.DateTimeField(_("English text changed at"), default=timezone.now)
    translations_updated = models.JSONField(_("translations updated"), default=dict, blank=True)

    class Meta:
        ordering = ["-published_at", "-pk"]
        verbose_name = _("product")
        verbose_name_plural = _("products")
        indexes = [models.Index(fields=["status", "-published_at"], name="product_status_published")]
        constraints = [
            models.CheckConstraint(condition=Q(hs_code__regex=r"^[0-9]{6,10}$"), name="product_hs_code_digits")
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalog:product-detail", kwargs={"slug": self.slug})

    def can_become(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, set())


class Variant(TimeStampedModel):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants", verbose_name=_("product"))
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    options = models.JSONField(
        _("options"), default=dict, blank=True, help_text=_('Option values, e.g. {"size": "M", "colour": "black"}.')
    )
    price = money_field(verbose_name=_("price"))
    weight_grams = models.PositiveIntegerField(_("weight (g)"), validators=[MinValueValidator(1)])
    length_mm = models.PositiveIntegerField(_("length (mm)"), default=0)
    width_mm = models.PositiveIntegerField(_("width (mm)"), default=0)
    height_mm = models.PositiveIntegerField(_("height (mm)"), default=0)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("variant")
        verbose_name_plural = _("variants")
        constraints = [models.CheckConstraint(condition=Q(price__gt=0), name="variant_price_positive")]

    def __str__(self) -> str:
        return f"{self.sku} {self.option_label}".strip()

    @property
    def option_label(self) -> str:
        return " / ".join(str(v) for v in (self.options or {}).values())

    def clean(self) -> None:
        if self.price is not None and self.price.amount <= 0:
            raise ValidationError({"price": _("The price must be more than zero.")})
        if self.product_id and self.price is not None:
            seller_currency = self.product.seller.base_currency
            if self.price.currency.code != seller_currency:
                raise ValidationError(
                    {"price": _("Prices are set in the seller's currency, %(code)s.") % {"code": seller_currency}}
                )


class VariantPrice(TimeStampedModel):
    """An explicit price in another currency; it wins over conversion for buyers in that currency."""

    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="prices", verbose_name=_("variant"))
    price = money_field(verbose_name=_("price"))

    class Meta:
        ordering = ["variant", "price_currency"]
        verbose_name = _("explicit price")
        verbose_name_plural = _("explicit prices")
        constraints = [
            models.UniqueConstraint(fields=["variant", "price_currency"], name="variant_price_once_per_currency"),
            models.CheckConstraint(condition=Q(price__gt=0), name="variant_explicit_price_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.variant.sku}: {self.price}"


class ProductImage(TimeStampedModel):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images", verbose_name=_("product"))
    image = models.ImageField(_("image"), upload_to="products/")
    thumbnail = models.ImageField(_("thumbnail"), upload_to="products/thumbs/", blank=True)
    alt = models.CharField(_("alternative text"), max_length=200, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("product image")
        verbose_name_plural = _("product images")

    def __str__(self) -> str:
        return f"{self.product} #{self.position}"


class SearchDocument(models.Model):
    """What search reads for one product in one language (rebuilt by ``catalog.search``).

    ``text`` is everything a buyer might type, in that language with English fallback: name, brand,
    short and long description, material and care, category and seller names; ``title`` is the
    name. On PostgreSQL, ``document`` is the weighted tsvector of the same texts in the language's
    text-search configuration. The indexes search relies on (a GIN index on ``document`` per
    language, trigram GIN indexes on ``text`` and ``title``) and the pg_trgm extension are created
    by the migration on PostgreSQL only, so they are not declared here. On SQLite ``document``
    stays empty and search reads ``text``.
    """

    # Indexed by the (product, language) unique constraint, which starts with it.
    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="search_documents", verbose_name=_("product"), db_index=False
    )
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    title = models.TextField(_("title"))
    text = models.TextField(_("text"))
    document = SearchVectorField(_("search vector"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("search document")
        verbose_name_plural = _("search documents")
        constraints = [
            models.UniqueConstraint(fields=["product", "language"], name="search_document_once_per_language")
        ]

    def __str__(self) -> str:
        return f"{self.title} [{self.language}]"
