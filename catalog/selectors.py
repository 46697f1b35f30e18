"""Reads for the storefront. Each returns a queryset with its related data already fetched, so a
page runs the same number of queries whatever its size."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.cache import cache
from django.db.models import CharField, F, Prefetch, QuerySet, Value
from django.db.models.functions import Coalesce, NullIf
from django.shortcuts import get_object_or_404
from modeltranslation import settings as mt_settings
from modeltranslation.utils import build_localized_fieldname, resolution_order
from modeltranslation.utils import get_language as translation_language

from .models import Category, Product, ProductImage, Seller, Variant, VariantPrice
from .pricing import PriceContext, product_from_price_subquery

CATEGORY_CACHE_KEY = "catalog:categories:v1"


def _variants_prefetch() -> Prefetch:
    # Lists (to_attr), not per-instance querysets: prefetching into ``variant.prices`` builds a
    # manager and a queryset for every variant, which django-money wraps again (~0.3 ms each).
    # Ordered by its own columns: the model's ordering ("variant") joins and scans every variant.
    prices = Prefetch(
        "prices", queryset=VariantPrice.objects.order_by("variant_id", "price_currency"), to_attr="price_list"
    )
    return Prefetch(
        "variants", queryset=Variant.objects.filter(active=True).prefetch_related(prices), to_attr="active_variants"
    )


def _images_prefetch() -> Prefetch:
    return Prefetch("images", queryset=ProductImage.objects.order_by("position", "pk"), to_attr="image_list")


def visible_products() -> QuerySet[Product]:
    """Products a buyer may see: active listings."""
    return Product.objects.filter(status=Product.Status.ACTIVE)


def _with_related(products: QuerySet[Product]) -> QuerySet[Product]:
    return products.select_related("seller", "category").prefetch_related(_variants_prefetch(), _images_prefetch())


PRODUCT_TEXTS = ("name", "short_description", "description", "material_care")
SELLER_TEXTS = ("tagline", "description")


def _other_language_columns(model: type, field: str) -> list[str]:
    """``name_fr``, ``name_ja``, ...: the columns of a translated field that the active language
    never reads. modeltranslation loads every language's column; its descriptor reads only the
    active language and then its fallbacks (``resolution_order``), so those stay loaded."""
    descriptor = model.__dict__[field]
    needed = resolution_order(translation_language(), descriptor.fallback_languages)
    return [build_localized_fieldname(field, lang) for lang in mt_settings.AVAILABLE_LANGUAGES if lang not in needed]


def card_rows(products: QuerySet[Product]) -> QuerySet:
    """The page's products as plain rows, what a card shows of them (no model instances):
    ``id``, ``slug``, ``name`` (the active language's, falling back as ``product.name`` does),
    ``seller_name``, ``origin_country`` (a code) and the extension's ``has_local_stock`` (annotate
    ``products`` with it first). Evaluate it in the language it was built in."""
    descriptor = Product.__dict__["name"]
    columns = [
        build_localized_fieldname("name", lang)
        for lang in resolution_order(translation_language(), descriptor.fallback_languages)
    ]
    # The descriptor skips None and the field's default (""), then returns that default.
    name = Coalesce(*(NullIf(F(column), Value("")) for column in columns), Value(""), output_field=CharField())
    return products.annotate(card_name=name, card_seller_name=F("seller__name")).values(
        "id", "slug", "card_name", "card_seller_name", "origin_country", "has_local_stock"
    )


def card_variants(product_ids: list[int]) -> list[tuple[int, int, Decimal, str]]:
    """(product_id, variant id, price, price currency) of the products' active variants."""
    if not product_ids:
        return []
    return list(
        Variant.objects.filter(product_id__in=product_ids, active=True)
        .order_by("product_id", "position", "pk")
        .values_list("product_id", "pk", "price", "price_currency")
    )


def card_explicit_prices(variant_ids: list[int], currency: str) -> dict[int, Decimal]:
    """Per variant id: the explicit price its seller set in ``currency``, where there is one."""
    if not variant_ids:
        return {}
    return dict(
        VariantPrice.objects.filter(variant_id__in=variant_ids, price_currency=currency).values_list(
            "variant_id", "price"
        )
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


def product_for_buyer(slug: str) -> Product:
    """One product with everything its page shows; other languages' texts stay in the database
    (the page reads the active language and its fallbacks only)."""
    other_languages = [
        *(column for field in PRODUCT_TEXTS for column in _other_language_columns(Product, field)),
        *(f"seller__{column}" for field in SELLER_TEXTS for column in _other_language_columns(Seller, field)),
        *(f"category__{column}" for column in _other_language_columns(Category, "name")),
    ]
    products = _with_related(visible_products()).defer(*other_languages)
    return get_object_or_404(products, slug=slug)


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


def category_tree() -> CategoryTree:
    """All categories, cached (a small table): no page queries them more than once."""
    categories = cache.get(CATEGORY_CACHE_KEY)
    if categories is None:
        categories = list(Category.objects.all())
        cache.set(CATEGORY_CACHE_KEY, categories, 3600)
    children: dict[int | None, list[Category]] = {}
    for c in categories:
        children.setdefault(c.parent_id, []).append(c)
    return CategoryTree({c.pk: c for c in categories}, {c.slug: c for c in categories}, children)


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
