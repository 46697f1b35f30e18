"""Reads for the seller portal. Every object is looked up *through its seller*: a pk that belongs
to another seller is a 404, exactly like a pk that does not exist (we never reveal which)."""

from __future__ import annotations

from django.db.models import Count, Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from marketplace.models import User

from ..models import Product, ProductImage, Seller, SellerMember, Variant, VariantPrice


def seller_for_user(user: User) -> Seller | None:
    """The seller ``user`` acts for, or None (anonymous users and buyers). One query."""
    if not user.is_authenticated:
        return None
    membership = SellerMember.objects.select_related("seller").filter(user=user).first()
    return membership.seller if membership is not None else None


def portal_products(seller: Seller, *, status: str | None = None) -> QuerySet[Product]:
    """The seller's products in every status, newest change first, with what the list shows.

    Two queries whatever the number of products: the products (variant count annotated, category
    joined) and their images.
    """
    products = (
        Product.objects.filter(seller=seller)
        .select_related("category")
        .annotate(variant_count=Count("variants"))
        .prefetch_related(
            Prefetch("images", queryset=ProductImage.objects.order_by("position", "pk"), to_attr="image_list")
        )
        .order_by("-updated_at", "-pk")
    )
    if status:
        products = products.filter(status=status)
    return products


def product_for_seller(pk: int, *, seller: Seller) -> Product:
    products = Product.objects.select_related("category", "seller").prefetch_related(
        Prefetch("variants", queryset=Variant.objects.prefetch_related("prices"), to_attr="variant_list"),
        Prefetch("images", queryset=ProductImage.objects.order_by("position", "pk"), to_attr="image_list"),
    )
    return get_object_or_404(products, pk=pk, seller=seller)


def variant_for_seller(pk: int, *, seller: Seller) -> Variant:
    variants = Variant.objects.select_related("product", "product__seller").prefetch_related("prices")
    return get_object_or_404(variants, pk=pk, product__seller=seller)


def image_for_seller(pk: int, *, seller: Seller) -> ProductImage:
    return get_object_or_404(ProductImage.objects.select_related("product"), pk=pk, product__seller=seller)


def explicit_price_for_seller(pk: int, *, seller: Seller) -> VariantPrice:
    prices = VariantPrice.objects.select_related("variant", "variant__product")
    return get_object_or_404(prices, pk=pk, variant__product__seller=seller)


def products_for_export(seller: Seller, *, product_ids: list[int] | None = None) -> QuerySet[Product]:
    """The seller's products with their category and variants: three queries for any number."""
    products = (
        Product.objects.filter(seller=seller)
        .select_related("category")
        .prefetch_related(
            Prefetch("variants", queryset=Variant.objects.order_by("position", "pk"), to_attr="variant_list")
        )
        .order_by("slug")
    )
    if product_ids is not None:
        products = products.filter(pk__in=product_ids)
    return products
