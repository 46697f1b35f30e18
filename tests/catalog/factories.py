"""factory_boy factories for the catalog (sellers, products, variants, prices, images)."""

from __future__ import annotations

from typing import Any

import factory
from djmoney.money import Money
from factory.django import DjangoModelFactory

from catalog.models import Category, Product, ProductImage, Seller, SellerMember, Variant, VariantPrice
from marketplace.models import User


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")

    @classmethod
    def _create(cls, model_class: type[User], *args: Any, password: str | None = None, **kwargs: Any) -> User:
        """Tests sign in with ``force_login``: no password unless asked for (hashing one is slow)."""
        return model_class.objects.create_user(*args, password=password, **kwargs)


class SellerFactory(DjangoModelFactory):
    class Meta:
        model = Seller
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"seller-{n}")
    name = factory.Sequence(lambda n: f"Seller {n}")
    country = "DE"
    base_currency = "EUR"


class SellerMemberFactory(DjangoModelFactory):
    class Meta:
        model = SellerMember

    user = factory.SubFactory(UserFactory)
    seller = factory.SubFactory(SellerFactory)


class CategoryFactory(DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"category-{n}")
    name_en = factory.Sequence(lambda n: f"Category {n}")


class ProductFactory(DjangoModelFactory):
    class Meta:
        model = Product

    seller = factory.SubFactory(SellerFactory)
    category = factory.SubFactory(CategoryFactory)
    slug = factory.Sequence(lambda n: f"product-{n}")
    status = Product.Status.DRAFT
    hs_code = "670411"
    origin_country = "CN"
    name_en = factory.Sequence(lambda n: f"Product {n}")
    short_description_en = "Short English text."


class VariantFactory(DjangoModelFactory):
    class Meta:
        model = Variant

    product = factory.SubFactory(ProductFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    options = factory.LazyFunction(lambda: {"size": "M"})
    price = factory.LazyAttribute(lambda o: Money("25.00", o.product.seller.base_currency))
    weight_grams = 300
    length_mm = 200
    width_mm = 100
    height_mm = 50


class VariantPriceFactory(DjangoModelFactory):
    class Meta:
        model = VariantPrice

    variant = factory.SubFactory(VariantFactory)
    price = factory.LazyFunction(lambda: Money("30.00", "USD"))


class ProductImageFactory(DjangoModelFactory):
    class Meta:
        model = ProductImage

    product = factory.SubFactory(ProductFactory)
    image = factory.django.ImageField(width=300, height=300, format="PNG", filename="photo.png")
