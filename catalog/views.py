from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from .extensions import storefront_extension
from .forms import ListingForm
from .models import Product
from .pricing import BuyerPrice, PriceContext, from_price, variant_price
from .search import search_products
from .selectors import (
    Sort,
    category_tree,
    filter_products,
    product_for_buyer,
    seller_by_slug,
    visible_products,
    with_card_data,
)

PAGE_SIZES = (12, 24, 48)
DEFAULT_PAGE_SIZE = 24


@dataclass(frozen=True)
class ProductCard:
    product: Product
    price: BuyerPrice | None

    @property
    def image(self) -> Any:
        return self.product.image_list[0] if self.product.image_list else None


def _cards(products: list[Product], ctx: PriceContext) -> list[ProductCard]:
    return [ProductCard(p, from_price(p.active_variants, ctx)) for p in products]


def _card_data(products: QuerySet[Product], request: HttpRequest) -> QuerySet[Product]:
    """What a card shows, in the same queries: related rows, and the extension's badges."""
    country = getattr(request, "buyer_country", None)
    return storefront_extension().annotate_cards(with_card_data(products), country=country)


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
