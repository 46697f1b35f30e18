"""Writes of the seller portal: products, variants, explicit prices and images.

Each function takes already well-formed input (forms and the CSV reader check that), owns its
transaction and returns what it touched. Status changes are not here: they go through
``catalog.services`` (``submit_for_review``, ``archive``), which enforce ``Product.TRANSITIONS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Max, ProtectedError
from django.utils.text import slugify
from django.utils.translation import gettext as _
from djmoney.money import Money

from marketplace.errors import DomainError
from marketplace.money import currency_digits

from ..images import make_thumbnail, validate_image
from ..models import Product, ProductImage, Seller, Variant, VariantPrice
from ..services import LANGUAGE_CODES, TRANSLATED_PRODUCT_FIELDS, column, record_text_changes

#: Every translated column of a product, e.g. ``name_en``, ``description_zh_hans``.
TEXT_COLUMNS: tuple[str, ...] = tuple(column(f, lang) for lang in LANGUAGE_CODES for f in TRANSLATED_PRODUCT_FIELDS)
#: What a seller may edit on a product (the slug is set once, at creation).
PRODUCT_FIELDS: tuple[str, ...] = (*TEXT_COLUMNS, "category", "brand", "hs_code", "origin_country")
MAX_AMOUNT = Decimal(10) ** 11  # money_field: 14 digits, 3 of them decimals


class SlugTaken(DomainError):
    code = "slug_taken"


class SkuTaken(DomainError):
    code = "sku_taken"


class VariantInUse(DomainError):
    code = "variant_in_use"


def price_problem(amount: Decimal, currency: str) -> str | None:
    """Why ``amount`` cannot be a price in ``currency``, or None. Shared by the forms and the CSV import."""
    if not amount.is_finite():
        return _("Enter a number.")
    if amount <= 0:
        return _("The price must be more than zero.")
    if amount >= MAX_AMOUNT:
        return _("The price is too large.")
    digits = currency_digits(currency)
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > digits:
        if digits == 0:
            return _("%(code)s prices have no decimal places.") % {"code": currency}
        return _("%(code)s prices have at most %(n)s decimal places.") % {"code": currency, "n": digits}
    return None


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, Money) and isinstance(new, Money):
        return old.currency == new.currency and old.amount == new.amount
    if (old is None or isinstance(old, str)) and (new is None or isinstance(new, str)):
        return (old or "") == (new or "")  # an empty translation is "" or NULL: the same to a person
    return bool(old == new)


def changed_values(instance: Product | Variant, values: Mapping[str, Any]) -> dict[str, Any]:
    """The items of ``values`` that differ from what ``instance`` holds (``instance`` is not touched)."""
    changed = {}
    for name, new in values.items():
        if name == "category":  # compare ids: an unsaved product has no category to read yet
            if instance.category_id != new.pk:  # type: ignore[union-attr]
                changed[name] = new
            continue
        old = getattr(instance, name)
        if name == "origin_country":
            old = old.code if old else ""
        if not _same(old, new):
            changed[name] = new
    return changed


def assign(instance: Product | Variant, values: Mapping[str, Any]) -> list[str]:
    """Set ``values`` on ``instance``; return the names that really changed (to save and to stamp)."""
    changed = changed_values(instance, values)
    for name, new in changed.items():
        setattr(instance, name, new)
    return list(changed)


def save_fields(changed: list[str]) -> list[str]:
    """``update_fields`` for the changed attributes (a MoneyField saves with its currency column)."""
    fields = []
    for name in changed:
        fields.append(name)
        if name == "price":
            fields.append("price_currency")
    return [*fields, "updated_at"]


def unique_slug(text: str) -> str:
    """A free product slug made from ``text`` (``product`` when it has no Latin letters)."""
    base = slugify(text)[:100].strip("-") or "product"
    taken = set(Product.objects.filter(slug__startswith=base).values_list("slug", flat=True))
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def create_product(*, seller: Seller, values: Mapping[str, Any], slug: str = "") -> Product:
    """A new draft listing of ``seller``; every language written now is stamped as up to date."""
    product = Product(seller=seller, status=Product.Status.DRAFT)
    changed = assign(product, values)
    product.slug = slug or unique_slug(values.get("name_en") or "")
    record_text_changes(product, [c for c in changed if c in TEXT_COLUMNS])
    try:
        with transaction.atomic():
            product.save()
    except IntegrityError as exc:
        raise SlugTaken(_("The address %(slug)s is already used. Choose another.") % {"slug": product.slug}) from exc
    return product


def update_product(product: Product, *, values: Mapping[str, Any]) -> Product:
    """Change the product's texts and facts; translations older than a changed English text then
    "need update" (``catalog.services.translation_status``)."""
    changed = assign(product, values)
    if not changed:
        return product
    stamps = record_text_changes(product, [c for c in changed if c in TEXT_COLUMNS])
    product.save(update_fields=[*save_fields(changed), *stamps])
    return product


def save_variant(*, product: Product, values: Mapping[str, Any], variant: Variant | None = None) -> Variant:
    """Create (``variant`` None) or change a variant of ``product``. ``values["price"]`` is a
    ``Money`` in the seller's currency. Raises ``SkuTaken`` if another variant has the SKU."""
    creating = variant is None
    if variant is None:
        position = product.variants.aggregate(top=Max("position"))["top"]
        variant = Variant(product=product, position=0 if position is None else position + 1)
    changed = assign(variant, values)
    if not creating and not changed:
        return variant
    try:
        with transaction.atomic():
            if creating:
                variant.save()
            else:
                variant.save(update_fields=save_fields(changed))
    except IntegrityError as exc:  # the form checked, but another request may have won meanwhile
        raise SkuTaken(_("The SKU %(sku)s is already used.") % {"sku": variant.sku}) from exc
    return variant


def delete_variant(variant: Variant) -> None:
    try:
        with transaction.atomic():
            variant.delete()
    except ProtectedError as exc:  # e.g. ordered already: keep it for the orders' sake
        raise VariantInUse(
            _("The variant %(sku)s has been ordered and cannot be deleted; make it inactive instead.")
            % {"sku": variant.sku}
        ) from exc


@transaction.atomic
def set_explicit_price(variant: Variant, *, price: Money) -> VariantPrice:
    """Set (or replace) the variant's explicit price in ``price``'s currency."""
    explicit, _created = VariantPrice.objects.update_or_create(
        variant=variant, price_currency=price.currency.code, defaults={"price": price}
    )
    return explicit


def delete_explicit_price(explicit: VariantPrice) -> None:
    explicit.delete()


def add_image(product: Product, *, upload: UploadedFile, alt: str = "") -> ProductImage:
    """Store a validated upload and its thumbnail as the product's last image."""
    validate_image(upload)  # the form did too; a service never trusts its caller with files
    stem = slugify(PurePath(upload.name or "image").stem)[:60] or "image"
    with transaction.atomic():
        position = product.images.aggregate(top=Max("position"))["top"]
        image = ProductImage(product=product, alt=alt, position=0 if position is None else position + 1)
        image.image.save(f"{stem}{PurePath(upload.name or '').suffix.lower()}", upload, save=False)
        image.thumbnail.save(f"{stem}-thumb.webp", make_thumbnail(upload, f"{stem}-thumb"), save=False)
        image.save()
    return image


def delete_image(image: ProductImage) -> None:
    """Delete the row, then its files once the deletion is committed."""
    stored = [(f.storage, f.name) for f in (image.image, image.thumbnail) if f]

    def delete_files() -> None:
        for storage, name in stored:
            storage.delete(name)

    with transaction.atomic():
        image.delete()
        transaction.on_commit(delete_files)
