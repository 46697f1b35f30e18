"""A small world for the feedback-thread tests: two producers with their users, buyers, an operator,
an active wig (texts in English, German and Chinese), a draft product, and a delivered order of
the wig (a verified purchase)."""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from djmoney.money import Money
from PIL import Image

from catalog.models import Category, Product, Seller, SellerMember, Variant
from logistics.models import Warehouse
from marketplace.models import User
from orders.demo_threads import demo_order_line
from orders.models import OrderLine


@dataclass
class FeedbackWorld:
    silk: Seller
    olive: Seller
    silk_user: User  # preferred language zh-hans
    silk_colleague: User
    olive_user: User
    buyer: User  # preferred language de
    other_buyer: User
    operator: User
    wig: Product
    draft: Product
    olive_oil: Product
    line: OrderLine  # the buyer's delivered wig


def png(width: int = 300, height: int = 300, name: str = "photo.png") -> SimpleUploadedFile:
    buffer = BytesIO()
    Image.new("RGB", (width, height), "#c0a080").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def _product(
    seller: Seller, category: Category, slug: str, *, status: str = Product.Status.ACTIVE, **texts: str
) -> Product:
    product = Product.objects.create(
        seller=seller,
        category=category,
        slug=slug,
        status=status,
        hs_code="670420",
        origin_country=seller.country,
        published_at=timezone.now(),
        **texts,
    )
    Variant.objects.create(product=product, sku=f"{slug}-1", price=Money("100", seller.base_currency), weight_grams=300)
    return product


def build_feedback_world() -> FeedbackWorld:
    silk = Seller.objects.create(slug="silk", name="Silk Hair Co", country="CN", base_currency="CNY")
    olive = Seller.objects.create(slug="olive", name="Olive Grove", country="IT", base_currency="EUR")
    category = Category.objects.create(slug="wigs", name_en="Wigs")
    warehouse = Warehouse.objects.create(
        code="cn-origin", name="Guangzhou warehouse", kind=Warehouse.Kind.ORIGIN, country="CN", city="Guangzhou"
    )
    warehouse.sellers.set([silk])
    users = {
        email: User.objects.create_user(email, **extra)
        for email, extra in [
            ("silk@example.com", {"preferred_language": "zh-hans"}),
            ("silk2@example.com", {"preferred_language": "en"}),
            ("olive@example.com", {"preferred_language": "fr"}),
            ("buyer@example.com", {"preferred_language": "de", "first_name": "Erika"}),
            ("other@example.com", {}),
            ("operator@example.com", {"is_staff": True}),
        ]
    }
    SellerMember.objects.create(user=users["silk@example.com"], seller=silk)
    SellerMember.objects.create(user=users["silk2@example.com"], seller=silk)
    SellerMember.objects.create(user=users["olive@example.com"], seller=olive)
    wig = _product(silk, category, "lace-wig", name_en="Lace wig", name_de="Spitzenperücke", name_zh_hans="蕾丝假发")
    draft = _product(silk, category, "draft-wig", status=Product.Status.DRAFT, name_en="Secret wig")
    olive_oil = _product(olive, category, "olive-oil", name_en="Olive oil")
    line = demo_order_line(users["buyer@example.com"], wig.variants.get(), number="T-1001", warehouse=warehouse)
    return FeedbackWorld(
        silk=silk,
        olive=olive,
        silk_user=users["silk@example.com"],
        silk_colleague=users["silk2@example.com"],
        olive_user=users["olive@example.com"],
        buyer=users["buyer@example.com"],
        other_buyer=users["other@example.com"],
        operator=users["operator@example.com"],
        wig=wig,
        draft=draft,
        olive_oil=olive_oil,
        line=line,
    )
