from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from modeltranslation.utils import get_language as translation_language

from .cache import cache_seconds, cached, cached_many, catalog_version
from .extensions import product_panels, seller_panels, storefront_extension
from .forms import ListingForm
from .models import Product, ProductImage
from .pricing import PriceContext, from_price, from_price_of_rows, variant_price
from .search import search_products
from .selectors import (
    Sort,
    card_images,
    card_rows,
    card_texts,
    card_variants,
    category_tree,
    filter_products,
    product_for_buyer,
    seller_by_slug,
    visible_products,
)

PAGE_SIZES = (12, 24, 48)
DEFAULT_PAGE_SIZE = 24


_SLUG = re.compile(r"[-a-zA-Z0-9_]+")
_SLUG_PLACEHOLDER = "slug-placeholder"
# What a card's markup shows of ``_card_texts``' values (catalog/_product_card.html).
_CARD_SHOWS = ("slug", "url", "name", "image", "image_url", "image_alt", "seller_name", "country_name")


def _cards(rows: list[dict[str, Any]], ctx: PriceContext) -> list[dict[str, Any]]:
    """What ``catalog/_product_cards.html`` shows, as dicts (the template reads no model instance):
    the page's rows (``card_rows``: id and local-stock badge, live), each product's texts, image
    and seller's prices (``_card_texts``, the same for every buyer: from the catalog cache), and
    its lowest price in the buyer's currency, converted now."""
    language = translation_language()
    ids = [row["id"] for row in rows]
    # Rows from card_rows(texts=True) carry the texts: read now, not from the catalog cache.
    carry = bool(rows) and "slug" in rows[0]
    texts = _card_texts(ids, rows) if carry else cached_many(("card", language), ids, _card_texts)
    # What names a card's markup, for {% product_cards %}: the catalog version when the texts are
    # cached, else (texts read now) every value the markup shows.
    version = catalog_version() if cache_seconds() > 0 else None
    factors: dict[str, Decimal | None] = {}  # one conversion factor per seller currency, for the page
    currency = ctx.currency
    cards = []
    for row in rows:
        card = texts.get(row["id"])
        if card is None:  # deleted since the page query
            continue
        own = card["variants"]
        in_currency = ((amount, code, explicit.get(currency)) for amount, code, explicit in own)
        price = from_price_of_rows(in_currency, ctx, factors)
        money = price.money if price is not None else None
        badge = bool(row["has_local_stock"])
        shown = None if money is None else (money.amount, money.currency.code)
        several = len(own) > 1
        if version is not None:
            memo = (version, language, row["id"], shown, badge)
        else:  # texts read now: the memo names every value the card's markup shows
            memo = (language, row["id"], shown, badge, several, *(card[name] for name in _CARD_SHOWS))
        cards.append({**card, "has_local_stock": badge, "price": money, "several_variants": several, "memo": memo})
    return cards


def _card_texts(product_ids: list[int], rows: list[dict[str, Any]] | None = None) -> dict[int, dict[str, Any]]:
    """Per product id, what its card shows whoever the buyer is, in the active language: slug,
    URL, name, first image, seller's name, country of origin, and ``variants``, its active
    variants as (seller's amount, seller's currency, {currency: explicit amount}). Three queries
    for any number of products; two when ``rows`` are the products' ``card_texts`` already."""
    variants: dict[int, dict[int, tuple[Decimal, str, dict[str, Decimal]]]] = {}
    for product_id, variant_id, amount, currency, explicit_currency, explicit in card_variants(product_ids):
        own = variants.setdefault(product_id, {}).setdefault(variant_id, (amount, currency, {}))
        if explicit_currency is not None:
            own[2][explicit_currency] = explicit
    images = card_images(product_ids)
    image_field, thumbnail_field = ProductImage._meta.get_field("image"), ProductImage._meta.get_field("thumbnail")
    # One reverse() per call, not per card: a slug (the <slug:> converter's characters) needs no
    # quoting, so the URL is the reversed placeholder's prefix and suffix around it.
    head, _, tail = reverse("catalog:product-detail", kwargs={"slug": _SLUG_PLACEHOLDER}).rpartition(_SLUG_PLACEHOLDER)
    country_names: dict[str, str] = {}
    texts = {}
    for row in card_texts(product_ids) if rows is None else rows:
        slug, name, code = row["slug"], row["card_name"], row["origin_country"]
        country_name = country_names.get(code)
        if country_name is None:
            country_name = country_names[code] = str(Product.origin_country.country(code).name)
        image = images.get(row["id"])
        if image is None:
            image_url = image_alt = ""
        else:
            image_name, thumbnail_name, alt = image
            image_url = (
                thumbnail_field.storage.url(thumbnail_name) if thumbnail_name else image_field.storage.url(image_name)
            )
            image_alt = alt or name
        texts[row["id"]] = {
            "slug": slug,
            "url": f"{head}{slug}{tail}"
            if _SLUG.fullmatch(slug)
            else reverse("catalog:product-detail", kwargs={"slug": slug}),
            "name": name,
            "image": image is not None,
            "image_url": image_url,
            "image_alt": image_alt,
            "seller_name": row["card_seller_name"],
            "country_name": country_name,
            "variants": list(variants.get(row["id"], {}).values()),
        }
    return texts


class _CardPaginator(Paginator):
    """Counts ``count_from``, the filtered products before they become card rows: a plain count,
    whatever the page query selects (counting it would evaluate every product's local-stock badge,
    and a join kept for a column made PostgreSQL count 5,000 active products in 6 ms, not 1).

    With ``count_key``, the count is kept in the catalog cache: the key must name everything the
    count depends on besides catalog rows (the listing leaves it out when stock filters apply)."""

    def __init__(
        self,
        object_list: QuerySet,
        per_page: int,
        *,
        count_from: QuerySet[Product],
        count_key: tuple[object, ...] | None = None,
    ) -> None:
        super().__init__(object_list, per_page)
        self.count_from = count_from
        self.count_key = count_key

    @cached_property
    def count(self) -> int:
        if self.count_key is None:
            return self.count_from.count()
        return cached(self.count_key, self.count_from.count)


def _card_data(products: QuerySet[Product], request: HttpRequest) -> QuerySet:
    """The products as card rows (``card_rows``): their ids and the extension's badges, and their
    texts too when the catalog cache is off (nothing to read them from but the database)."""
    country = getattr(request, "buyer_country", None)
    return card_rows(storefront_extension().annotate_cards(products, country=country), texts=cache_seconds() <= 0)


def home(request: HttpRequest) -> HttpResponse:
    ctx = PriceContext.for_request(request)
    products = _card_data(visible_products(), request)
    featured = list(products.filter(featured=True).order_by("-published_at", "-pk")[:8])
    newest = list(products.order_by("-published_at", "-pk")[:8])
    return render(
        request,
        "catalog/home.html",
        {"categories": category_tree().roots, "featured": _cards(featured, ctx), "newest": _cards(newest, ctx)},
    )


def product_list(request: HttpRequest, category_slug: str | None = None) -> HttpResponse:
    ctx = PriceContext.for_request(request)
    tree = category_tree()
    form = ListingForm(request.GET)
    filters = form.valid_filters()
    category = None
    slug = category_slug or filters.get("category")
    if slug:
        category = tree.by_slug.get(slug)
        if category is None and category_slug:
            raise Http404("No such category")
        if category is None:
            form.add_error("category", _("There is no such category."))
    products = visible_products()
    q = (filters.get("q") or "").strip()
    if q:
        products = search_products(products, q, get_language())
    sort = filters.get("sort") or (Sort.RELEVANCE if q else Sort.NEWEST)
    products = filter_products(
        products,
        ctx=ctx,
        category_ids=tree.descendant_ids(category) if category else None,
        seller=filters.get("seller"),
        origin=filters.get("origin"),
        min_price=filters.get("min_price"),
        max_price=filters.get("max_price"),
        sort=sort,
        ranked=bool(q),
    )
    products = storefront_extension().filter_products(
        products,
        country=getattr(request, "buyer_country", None),
        in_stock=bool(filters.get("in_stock")),
        local_stock=bool(filters.get("local_stock")),
    )
    try:
        per_page = int(request.GET.get("per_page", DEFAULT_PAGE_SIZE))
    except ValueError:
        per_page = DEFAULT_PAGE_SIZE
    if per_page not in PAGE_SIZES:
        per_page = DEFAULT_PAGE_SIZE
    count_key = None
    if not (filters.get("in_stock") or filters.get("local_stock")):  # stock changes bump no version
        low, high = filters.get("min_price"), filters.get("max_price")
        # Price bounds compare buyer prices: the currency, the market's margin and the FX rates too.
        fx = None if low is None and high is None else (ctx.currency, ctx.margin_percent, ctx.table.refresh_id)
        where = (category.pk if category else None, filters.get("seller"), filters.get("origin"), low, high, fx)
        count_key = ("count", get_language(), q, *where)
    paginator = _CardPaginator(_card_data(products, request), per_page, count_from=products, count_key=count_key)
    page = paginator.get_page(request.GET.get("page"))
    cards = _cards(list(page.object_list), ctx)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "catalog/product_list.html",
        {
            "form": form,
            "page": page,
            "cards": cards,
            "category": category,
            "breadcrumbs": tree.ancestors(category) if category else [],
            "categories": tree.roots,
            "query_string": query.urlencode(),
            "q": q,
            "sort": sort,
        },
    )


def product_detail(request: HttpRequest, slug: str) -> HttpResponse:
    ctx = PriceContext.for_request(request)
    product = product_for_buyer(slug, ctx.currency)
    variants = [(v, variant_price(v, ctx)) for v in product.active_variants]
    availability = storefront_extension().variant_availability(
        product, product.active_variants, country=getattr(request, "buyer_country", None), ctx=ctx
    )
    return render(
        request,
        "catalog/product_detail.html",
        {
            "product": product,
            "variants": variants,
            "delivery": [(v, availability.get(v.pk)) for v in product.active_variants],
            "price": from_price(product.active_variants, ctx),
            "breadcrumbs": category_tree().ancestors(product.category),
            "panels": product_panels(request, product),
        },
    )


def seller_detail(request: HttpRequest, slug: str) -> HttpResponse:
    ctx = PriceContext.for_request(request)
    seller = seller_by_slug(slug)
    own = visible_products().filter(seller=seller)
    products = _card_data(own, request).order_by("-published_at", "-pk")
    page = _CardPaginator(products, DEFAULT_PAGE_SIZE, count_from=own).get_page(request.GET.get("page"))
    return render(
        request,
        "catalog/seller_detail.html",
        {
            "seller": seller,
            "page": page,
            "cards": _cards(list(page.object_list), ctx),
            "panels": seller_panels(request, seller),
        },
    )
