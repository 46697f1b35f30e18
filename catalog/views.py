from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from .extensions import storefront_extension
from .forms import ListingForm
from .models import Product, ProductImage
from .pricing import PriceContext, from_price, from_price_of_rows, variant_price
from .search import search_products
from .selectors import (
    Sort,
    card_explicit_prices,
    card_images,
    card_rows,
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


def _cards(rows: list[dict[str, Any]], ctx: PriceContext) -> list[dict[str, Any]]:
    """What ``catalog/_product_cards.html`` shows, from plain rows (``card_rows``) and three more
    queries (variants, explicit prices, first images): dicts, which the template reads without
    walking model instances."""
    product_ids = [row["id"] for row in rows]
    variants: dict[int, list[tuple[int, Decimal, str]]] = {}
    for product_id, variant_id, amount, currency in card_variants(product_ids):
        variants.setdefault(product_id, []).append((variant_id, amount, currency))
    explicit = card_explicit_prices([v[0] for vs in variants.values() for v in vs], ctx.currency)
    images = card_images(product_ids)
    image_field, thumbnail_field = ProductImage._meta.get_field("image"), ProductImage._meta.get_field("thumbnail")
    # One reverse() per page, not per card: a slug (the <slug:> converter's characters) needs no
    # quoting, so the URL is the reversed placeholder's prefix and suffix around it.
    head, _, tail = reverse("catalog:product-detail", kwargs={"slug": _SLUG_PLACEHOLDER}).rpartition(_SLUG_PLACEHOLDER)
    country_names: dict[str, str] = {}
    cards = []
    for row in rows:
        slug, name, code = row["slug"], row["card_name"], row["origin_country"]
        country_name = country_names.get(code)
        if country_name is None:
            country_name = country_names[code] = str(Product.origin_country.country(code).name)
        own = variants.get(row["id"], ())
        price = from_price_of_rows(((amount, currency, explicit.get(pk)) for pk, amount, currency in own), ctx)
        image = images.get(row["id"])
        if image is None:
            image_url = image_alt = ""
        else:
            image_name, thumbnail_name, alt = image
            image_url = (
                thumbnail_field.storage.url(thumbnail_name) if thumbnail_name else image_field.storage.url(image_name)
            )
            image_alt = alt or name
        cards.append(
            {
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
                "has_local_stock": bool(row["has_local_stock"]),
                "price": price.money if price is not None else None,
                "several_variants": len(own) > 1,
            }
        )
    return cards


def _card_data(products: QuerySet[Product], request: HttpRequest) -> QuerySet:
    """What a card shows, as plain rows in one query: the product's columns and the extension's badges."""
    country = getattr(request, "buyer_country", None)
    return card_rows(storefront_extension().annotate_cards(products, country=country))


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
    page = Paginator(_card_data(products, request), per_page).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "catalog/product_list.html",
        {
            "form": form,
            "page": page,
            "cards": _cards(list(page.object_list), ctx),
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
    product = product_for_buyer(slug)
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
        },
    )


def seller_detail(request: HttpRequest, slug: str) -> HttpResponse:
    ctx = PriceContext.for_request(request)
    seller = seller_by_slug(slug)
    products = _card_data(visible_products().filter(seller=seller), request).order_by("-published_at", "-pk")
    page = Paginator(products, DEFAULT_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "catalog/seller_detail.html",
        {"seller": seller, "page": page, "cards": _cards(list(page.object_list), ctx)},
    )
