"""State changes of the catalog. Views, admin actions, imports and the demo call these."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from marketplace.errors import DomainError

from .models import Product

TRANSLATED_PRODUCT_FIELDS = ("name", "short_description", "description", "material_care")
LANGUAGE_CODES = [code for code, _name in settings.LANGUAGES]


class InvalidTransition(DomainError):
    code = "invalid_transition"


def column(field: str, language: str) -> str:
    return f"{field}_{language.replace('-', '_')}"


def _change_status(product: Product, status: str, *, note: str = "") -> Product:
    with transaction.atomic():
        locked = Product.objects.select_for_update().get(pk=product.pk)
        if locked.status == status:
            return locked  # a repeated click changes nothing
        if not locked.can_become(status):
            raise InvalidTransition(
                _("A listing that is %(current)s cannot become %(new)s.")
                % {"current": locked.get_status_display(), "new": Product.Status(status).label}
            )
        locked.status = status
        fields = ["status", "updated_at"]
        if status == Product.Status.ACTIVE and locked.published_at is None:
            locked.published_at = timezone.now()
            fields.append("published_at")
        if note or status in (Product.Status.ACTIVE, Product.Status.REJECTED):
            locked.review_note = note
            fields.append("review_note")
        locked.save(update_fields=fields)
    product.refresh_from_db()
    return product


def submit_for_review(product: Product) -> Product:
    if not product.variants.filter(active=True).exists():
        raise InvalidTransition(_("Add at least one variant with a price before submitting."))
    if not product.name_en:
        raise InvalidTransition(_("Write the English name before submitting."))
    return _change_status(product, Product.Status.PENDING_REVIEW)


def approve(product: Product) -> Product:
    return _change_status(product, Product.Status.ACTIVE)


def reject(product: Product, *, reason: str) -> Product:
    return _change_status(product, Product.Status.REJECTED, note=reason)


def archive(product: Product) -> Product:
    return _change_status(product, Product.Status.ARCHIVED)


def record_text_changes(product: Product, changed_columns: Iterable[str]) -> list[str]:
    """Note which languages' texts were (re)written now, and whether the English source changed.

    Returns the ``update_fields`` to save. A translation written before the latest English change
    "needs update" (``translation_status``).
    """
    changed = set(changed_columns)
    now = timezone.now()
    fields: list[str] = []
    stamps: dict[str, Any] = dict(product.translations_updated or {})
    for language in LANGUAGE_CODES:
        if any(column(f, language) in changed for f in TRANSLATED_PRODUCT_FIELDS):
            stamps[language] = now.isoformat()
    if stamps != (product.translations_updated or {}):
        product.translations_updated = stamps
        fields.append("translations_updated")
    if any(column(f, "en") in changed for f in TRANSLATED_PRODUCT_FIELDS):
        product.source_changed_at = now
        fields.append("source_changed_at")
    return fields


def translation_status(product: Product) -> dict[str, str]:
    """Per language: ``complete``, ``missing`` (some text absent) or ``needs_update``."""
    from datetime import datetime

    result = {}
    for language in LANGUAGE_CODES:
        filled = [bool(getattr(product, column(f, language)) or "") for f in TRANSLATED_PRODUCT_FIELDS]
        english = [bool(getattr(product, column(f, "en")) or "") for f in TRANSLATED_PRODUCT_FIELDS]
        if any(e and not f for e, f in zip(english, filled, strict=True)):
            result[language] = "missing"
            continue
        stamp = (product.translations_updated or {}).get(language)
        if language != "en" and stamp and datetime.fromisoformat(stamp) < product.source_changed_at:
            result[language] = "needs_update"
        else:
            result[language] = "complete"
    return result


def set_response_time(seller_id: int, *, median_minutes: int | None) -> None:
    """The producer's median first answer to buyers (``Seller.median_response_minutes``), reported
    by the feedback threads of a higher app; None: not enough conversations yet."""
    from .models import Seller

    Seller.objects.filter(pk=seller_id).exclude(median_response_minutes=median_minutes).update(
        median_response_minutes=median_minutes
    )
