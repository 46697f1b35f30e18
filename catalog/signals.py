"""Receivers of the catalog app (registered in ``CatalogConfig.ready``).

Any save or delete of a product, variant, explicit price, image, seller or category bumps the
catalog cache's version (``catalog.cache``), so the storefront's next request reads it anew; a
category also empties the cached category tree.

Search documents hold a product's texts with its category's and seller's names, so a change to
any of the three rebuilds them, synchronously: the next search sees the new text. After
``migrate``, products that have no documents yet (a database from before search, rows written with
``bulk_create``) get them.
"""

from __future__ import annotations

from typing import Any

from django.apps.registry import Apps
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import Q
from django.db.models.signals import post_delete, post_migrate, post_save
from django.dispatch import receiver

from .cache import catalog_changed
from .models import Category, Product, ProductImage, Seller, Variant, VariantPrice
from .search import LANGUAGES, refresh_search_documents
from .selectors import CATEGORY_CACHE_KEY


def _with_translations(*fields: str) -> frozenset[str]:
    return frozenset(fields) | {f"{field}_{code.replace('-', '_')}" for field in fields for code in LANGUAGES}


# Saves limited to other fields (``save(update_fields=["status"])``) leave the documents alone.
PRODUCT_SEARCHED_FIELDS = _with_translations("name", "short_description", "description", "material_care") | {
    "brand",
    "category",
    "category_id",
    "seller",
    "seller_id",
}
CATEGORY_SEARCHED_FIELDS = _with_translations("name") | {"parent", "parent_id"}
SELLER_SEARCHED_FIELDS = frozenset({"name"})


def _touches(update_fields: frozenset[str] | None, searched: frozenset[str]) -> bool:
    return update_fields is None or not searched.isdisjoint(update_fields)


@receiver([post_save, post_delete], sender=Product)
@receiver([post_save, post_delete], sender=Variant)
@receiver([post_save, post_delete], sender=VariantPrice)
@receiver([post_save, post_delete], sender=ProductImage)
@receiver([post_save, post_delete], sender=Seller)
def catalog_row_changed(sender: type, **kwargs: Any) -> None:
    catalog_changed()


@receiver([post_save, post_delete], sender=Category)
def category_changed(sender: type[Category], **kwargs: Any) -> None:
    catalog_changed()
    cache.delete(CATEGORY_CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(CATEGORY_CACHE_KEY))


@receiver(post_save, sender=Product)
def product_saved(
    sender: type[Product], instance: Product, raw: bool = False, update_fields: Any = None, **kwargs: Any
) -> None:
    if not raw and _touches(update_fields, PRODUCT_SEARCHED_FIELDS):
        refresh_search_documents([instance.pk])


@receiver(post_save, sender=Category)
def category_saved(
    sender: type[Category], instance: Category, raw: bool = False, update_fields: Any = None, **kwargs: Any
) -> None:
    if raw or kwargs.get("created") or not _touches(update_fields, CATEGORY_SEARCHED_FIELDS):
        return
    # Documents name the product's category and its parent.
    products = Product.objects.filter(Q(category=instance) | Q(category__parent=instance))
    refresh_search_documents(products.values_list("pk", flat=True))


@receiver(post_save, sender=Seller)
def seller_saved(
    sender: type[Seller], instance: Seller, raw: bool = False, update_fields: Any = None, **kwargs: Any
) -> None:
    if raw or kwargs.get("created") or not _touches(update_fields, SELLER_SEARCHED_FIELDS):
        return
    refresh_search_documents(instance.products.values_list("pk", flat=True))


@receiver(post_migrate)
def documents_for_products_without(
    sender: Any, apps: Apps | None = None, using: str = DEFAULT_DB_ALIAS, **kwargs: Any
) -> None:
    # ``flush`` (test teardown) sends post_migrate without ``apps``: the tables are empty then.
    if apps is None or getattr(sender, "name", None) != "catalog" or using != DEFAULT_DB_ALIAS:
        return
    try:
        apps.get_model("catalog", "SearchDocument")
    except LookupError:  # migrated back to before search documents
        return
    missing = Product.objects.filter(search_documents__isnull=True).values_list("pk", flat=True)
    refresh_search_documents(missing)
