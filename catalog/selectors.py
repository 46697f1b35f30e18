"""Reads for the storefront. Each returns a queryset with its related data already fetched, so a
page runs the same number of queries whatever its size."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from decimal import Decimal

from django.core.cache import cache
from django.db.models import CharField, F, FilteredRelation, Q, QuerySet, Value
from django.db.models.functions import Coalesce, NullIf
from django.shortcuts import get_object_or_404
from djmoney.money import Money
from modeltranslation import settings as mt_settings
from modeltranslation.utils import build_localized_fieldname, resolution_order
from modeltranslation.utils import get_language as translation_language

from .cache import cache_seconds, cached, catalog_version
from .models import Category, Product, ProductImage, Seller, Variant, VariantPrice
from .pricing import PriceContext, product_from_price_subquery

CATEGORY_CACHE_KEY = "catalog:categories:v1"


def visible_products() -> QuerySet[Product]:
    """Products a buyer may see: active listings."""
    return Product.objects.filter(status=Product.Status.ACTIVE)


PRODUCT_TEXTS = ("name", "short_description", "description", "material_care")
SELLER_TEXTS = ("tagline", "description")


def _other_language_columns(model: type, field: str, language: str) -> list[str]:
    """``name_fr``, ``name_ja``, ...: the columns of a translated field that the active language
    never reads. modeltranslation loads every language's column; its descriptor reads only the
    active language and then its fallbacks (``resolution_order``), so those stay loaded."""
    descriptor = model.__dict__[field]
    needed = resolution_order(language, descriptor.fallback_languages)
    return [build_localized_fieldname(field, lang) for lang in mt_settings.AVAILABLE_LANGUAGES if lang not in needed]


CARD_TEXTS = ("slug", "card_name", "card_seller_name", "origin_country")


def card_rows(products: QuerySet[Product], *, texts: bool = False) -> QuerySet:
    """The page's products as plain rows: ``id`` and the extension's ``has_local_stock`` (annotate
    ``products`` with it first), in the page's order. What else a card shows comes from
    ``card_texts`` (cached: the same for every buyer); with ``texts`` (the catalog cache off), the
    rows carry ``card_texts``' columns (``CARD_TEXTS``) themselves: one query less."""
    if texts:
        return products.annotate(**_card_text_columns()).values("id", "has_local_stock", *CARD_TEXTS)
    return products.values("id", "has_local_stock")


def _card_text_columns() -> dict[str, Coalesce | F]:
    descriptor = Product.__dict__["name"]
    columns = [
        build_localized_fieldname("name", lang)
        for lang in resolution_order(translation_language(), descriptor.fallback_languages)
    ]
    # The descriptor skips None and the field's default (""), then returns that default.
    name = Coalesce(*(NullIf(F(column), Value("")) for column in columns), Value(""), output_field=CharField())
    return {"card_name": name, "card_seller_name": F("seller__name")}


def card_texts(product_ids: list[int]) -> list[dict]:
    """The products' columns a card shows, as plain rows (no model instances): ``id``, ``slug``,
    ``card_name`` (the active language's, falling back as ``product.name`` does),
    ``card_seller_name`` and ``origin_country`` (a code). Evaluate it in the language it was built in."""
    if not product_ids:
        return []
    return list(Product.objects.filter(pk__in=product_ids).annotate(**_card_text_columns()).values("id", *CARD_TEXTS))


def card_variants(product_ids: list[int]) -> list[tuple[int, int, Decimal, str, str | None, Decimal | None]]:
    """(product_id, variant id, price, price currency, explicit price currency, explicit price) of
    the products' active variants, one row per explicit price (None, None without any): one query,
    the explicit prices a LEFT JOIN."""
    if not product_ids:
        return []
    return list(
        Variant.objects.filter(product_id__in=product_ids, active=True)
        .order_by("product_id", "position", "pk", "prices__price_currency")
        .values_list("product_id", "pk", "price", "price_currency", "prices__price_currency", "prices__price")
    )


def card_images(product_ids: list[int]) -> dict[int, tuple[str, str, str]]:
    """Per product id: its first image as (image name, thumbnail name, alt)."""
    if not product_ids:
        return {}
    first: dict[int, tuple[str, str, str]] = {}
    rows = (
        ProductImage.objects.filter(product_id__in=product_ids)
        .order_by("product_id", "position", "pk")
        .values_list("product_id", "image", "thumbnail", "alt")
    )
    for product_id, image, thumbnail, alt in rows:
        first.setdefault(product_id, (image, thumbnail, alt))
    return first


def product_for_buyer(slug: str, currency: str) -> Product:
    """One active product with everything its page shows of the catalog: the product with its
    seller and category, other languages' texts left in the database (the page reads the active
    language and its fallbacks only); ``active_variants``, each with ``price_list`` holding its
    explicit price in ``currency`` if the seller set one (all that ``variant_price`` reads for a
    buyer paying in ``currency``); ``image_list``, in gallery order.

    From the catalog cache (``catalog.cache``), else three queries whatever the number of
    variants. Each call returns its own copy. Raises ``Http404`` unless the product is active."""
    language = translation_language()
    return cached(("product", language, currency, slug), lambda: _load_product_for_buyer(slug, currency, language))


def _load_product_for_buyer(slug: str, currency: str, language: str) -> Product:
    products = visible_products().select_related("seller", "category")
    if cache_seconds() > 0:  # kept, so kept small; read once and dropped, deferring costs more than it saves
        products = products.defer(*_other_language_fields(language))
    product = get_object_or_404(products, slug=slug)
    # Through the related manager: each variant's ``product`` is this instance, not a query. The
    # explicit price in ``currency`` is a LEFT JOIN, not a query of every explicit price.
    variants = (
        product.variants.filter(active=True)
        .annotate(
            in_currency=FilteredRelation("prices", condition=Q(prices__price_currency=currency)),
            explicit_amount=F("in_currency__price"),
        )
        .order_by("position", "pk")
    )
    product.active_variants = list(variants)
    for variant in product.active_variants:
        amount = variant.explicit_amount
        variant.price_list = [] if amount is None else [VariantPrice(variant=variant, price=Money(amount, currency))]
    product.image_list = list(product.images.order_by("position", "pk"))
    return product


@functools.lru_cache(maxsize=64)
def _other_language_fields(language: str) -> tuple[str, ...]:
    """What ``product_for_buyer`` defers in ``language``: the other languages' text columns of the
    product, its seller and its category."""
    return (
        *(column for field in PRODUCT_TEXTS for column in _other_language_columns(Product, field, language)),
        *(f"seller__{column}" for field in SELLER_TEXTS for column in _other_language_columns(Seller, field, language)),
        *(f"category__{column}" for column in _other_language_columns(Category, "name", language)),
    )


def seller_by_slug(slug: str) -> Seller:
    return get_object_or_404(Seller, slug=slug)


@dataclass(frozen=True)
class CategoryTree:
    by_id: dict[int, Category]
    by_slug: dict[str, Category]
    children: dict[int | None, list[Category]]

    def descendant_ids(self, category: Category) -> list[int]:
        ids, stack = [], [category]
        while stack:
            node = stack.pop()
            ids.append(node.pk)
            stack.extend(self.children.get(node.pk, []))
        return ids

    def ancestors(self, category: Category) -> list[Category]:
        chain, node = [], category
        while node is not None:
            chain.append(node)
            node = self.by_id.get(node.parent_id) if node.parent_id else None
        return list(reversed(chain))

    @property
    def roots(self) -> list[Category]:
        return self.children.get(None, [])


_trees: dict[str, tuple[CategoryTree, float]] = {}  # catalog version -> (tree, until when)
TREE_SECONDS = 300


def category_tree() -> CategoryTree:
    """All categories, cached (a small table): no page queries them more than once. The tree
    built from them is kept in the process too (unpickling the categories costs 0.2 ms a
    request), shared by its requests, so read-only, until the catalog version changes (any
    catalog write, ``catalog.signals``) or ``TREE_SECONDS`` pass."""
    version = catalog_version()
    tree, until = _trees.get(version, (None, 0.0))
    if tree is not None and until >= time.monotonic():
        return tree
    categories = cache.get(CATEGORY_CACHE_KEY)
    if categories is None:
        categories = list(Category.objects.all())
        cache.set(CATEGORY_CACHE_KEY, categories, 3600)
    children: dict[int | None, list[Category]] = {}
    for c in categories:
        children.setdefault(c.parent_id, []).append(c)
    tree = CategoryTree({c.pk: c for c in categories}, {c.slug: c for c in categories}, children)
    _trees.clear()
    _trees[version] = (tree, time.monotonic() + TREE_SECONDS)
    return tree


class Sort:
    RELEVANCE = "relevance"
    PRICE_ASC = "price_asc"
    PRICE_DESC = "price_desc"
    NEWEST = "newest"
    ALL = (RELEVANCE, PRICE_ASC, PRICE_DESC, NEWEST)


def filter_products(
    products: QuerySet[Product],
    *,
    ctx: PriceContext,
    category_ids: list[int] | None = None,
    seller: str | None = None,
    origin: str | None = None,
    min_price: Decimal | None = None,
    max_price: Decimal | None = None,
    sort: str = Sort.RELEVANCE,
    ranked: bool = False,
) -> QuerySet[Product]:
    """Filters and sorting of the listing; prices are in the buyer's currency (``ctx``)."""
    if category_ids:
        products = products.filter(category_id__in=category_ids)
    if seller:
        products = products.filter(seller__slug=seller)
    if origin:
        products = products.filter(origin_country=origin.upper())
    needs_price = min_price is not None or max_price is not None or sort in (Sort.PRICE_ASC, Sort.PRICE_DESC)
    if needs_price:
        products = products.annotate(buyer_price=product_from_price_subquery(ctx))
        if min_price is not None:
            products = products.filter(buyer_price__gte=min_price)
        if max_price is not None:
            products = products.filter(buyer_price__lte=max_price)
    if sort == Sort.PRICE_ASC:
        return products.order_by(F("buyer_price").asc(nulls_last=True), "pk")
    if sort == Sort.PRICE_DESC:
        return products.order_by(F("buyer_price").desc(nulls_last=True), "pk")
    if sort == Sort.RELEVANCE and ranked:
        return products.order_by("-search_rank", "-published_at", "-pk")
    return products.order_by(F("published_at").desc(nulls_last=True), "-pk")
