"""The demo catalogue of ``seed_demo``: idempotent, from several countries, translated in every language,
with valid prices, HS codes, logins and locally drawn images.

Seeding draws about 80 images, so the module seeds once, inside a transaction that is rolled back
after its last test (Django's ``setUpTestData`` pattern); each test runs in a nested transaction.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db import transaction
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import translation
from PIL import Image

from catalog import demo_data
from catalog.models import Category, Product, ProductImage, Seller, SellerMember, Variant, VariantPrice
from marketplace.demo import DEMO_PASSWORD
from marketplace.models import User

pytestmark = pytest.mark.django_db

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LANGUAGES = demo_data.LANGUAGES  # column suffixes: en, zh_hans, es, pt_br, ...
WIG_WORDS = {
    "en": "wig",
    "fr": "perruque",
    "es": "peluca",
    "zh_hans": "假发",
    "ja": "ウィッグ",
    "de": "perücke",
    "ru": "парик",
    "pt_br": "peruca",
    "vi": "tóc giả",
    "ar": "باروكة",
}
# Letters that the texts of a language must contain: its script, or for Vietnamese its own diacritics.
SCRIPTS = {
    "zh_hans": re.compile(r"[\u4e00-\u9fff]"),
    "ja": re.compile(r"[\u3040-\u30ff]"),  # kana: Japanese, not Chinese
    "ar": re.compile(r"[\u0600-\u06ff]"),
    "ru": re.compile(r"[\u0400-\u04ff]"),
    "vi": re.compile(r"[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.IGNORECASE),
}
# Names are short and may be all kanji (Japanese) or use only the accents French shares (Vietnamese).
NAME_SCRIPTS = {
    **SCRIPTS,
    "ja": re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]"),
    "vi": re.compile(r"[^\x00-\x7f]"),
}
REQUIRED_ROOTS = {"clothing", "electronics", "beauty", "home"}
WIG_STORY_SLUG = "lace-front-human-hair-wig"


@pytest.fixture(scope="module")
def demo_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo-media")


@pytest.fixture(scope="module")
def seeded(django_db_setup: None, django_db_blocker: Any, demo_media: Path) -> Iterator[str]:
    """``seed_demo`` once for the module; returns what it printed."""
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=demo_media, PASSWORD_HASHERS=FAST_HASHERS):
        outer = transaction.atomic()
        outer.__enter__()
        try:
            out = StringIO()
            call_command("seed_demo", force=True, stdout=out)  # pytest-django turns DEBUG off
            yield out.getvalue()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def demo(seeded: str, settings: Any, demo_media: Path) -> Iterator[str]:
    settings.MEDIA_ROOT = demo_media
    settings.PASSWORD_HASHERS = FAST_HASHERS
    # Pages activate their language in this thread; give the next test back the one it had.
    with translation.override(translation.get_language()):
        yield seeded


def _text(value: str) -> str:
    return unicodedata.normalize("NFC", value).casefold()


def _snapshot(media: Path) -> dict[str, Any]:
    """Every row of the catalog's models and of the seller users, timestamps included, and every file."""
    rows = {
        model._meta.label: sorted(
            (tuple(sorted((k, str(v)) for k, v in row.items())) for row in model._default_manager.values()),
        )
        for model in (Seller, SellerMember, Category, Product, Variant, VariantPrice, ProductImage)
    }
    rows["users"] = sorted(
        tuple(sorted((k, str(v)) for k, v in row.items()))
        for row in User.objects.filter(email__startswith="seller-").values()
    )
    counts = {model._meta.label: model._default_manager.count() for model in apps.get_models()}
    files = {
        str(path.relative_to(media)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in media.rglob("*")
        if path.is_file()
    }
    return {"rows": rows, "counts": counts, "files": files}


def _descendants(root: Category) -> set[int]:
    ids, stack = set(), [root]
    while stack:
        node = stack.pop()
        ids.add(node.pk)
        stack.extend(node.children.all())
    return ids


# --- Idempotency ---------------------------------------------------------------------------------


def test_seeding_again_changes_nothing(demo: str, demo_media: Path) -> None:
    # given: the module's first run
    before = _snapshot(demo_media)
    assert "catalog: 5 sellers" in demo

    # when
    out = StringIO()
    call_command("seed_demo", force=True, stdout=out)

    # then: same rows and values (not even updated_at moved), same files, nothing drawn again
    after = _snapshot(demo_media)
    assert after["counts"] == before["counts"]
    assert after["rows"] == before["rows"]
    assert after["files"] == before["files"]
    assert "(0 drawn now)" in out.getvalue()


def test_seeding_restores_changed_demo_values(demo: str) -> None:
    # given: someone edited a demo product, a price and deleted an explicit price
    product = Product.objects.get(slug=WIG_STORY_SLUG)
    Product.objects.filter(pk=product.pk).update(name_fr="Autre chose", hs_code="999999")
    variant = product.variants.order_by("position").first()
    assert variant is not None
    original_price = variant.price
    Variant.objects.filter(pk=variant.pk).update(price=Decimal("1.00"))
    VariantPrice.objects.filter(variant=variant).delete()

    # when
    call_command("seed_demo", force=True, stdout=StringIO())

    # then
    product.refresh_from_db()
    variant.refresh_from_db()
    assert "perruque" in _text(product.name_fr)
    assert product.hs_code == "670420"
    assert variant.price == original_price
    assert variant.prices.filter(price_currency="USD").exists()


# --- Sellers and their users ---------------------------------------------------------------------------


def test_sellers_come_from_several_countries_with_translated_profiles(demo: str, demo_media: Path) -> None:
    sellers = list(Seller.objects.filter(slug__in=[s.slug for s in demo_data.SELLERS]))

    assert len(sellers) >= 4
    assert len({str(s.country) for s in sellers}) >= 3
    assert {str(s.country): s.base_currency for s in sellers} == {
        "CN": "CNY",
        "US": "USD",
        "DE": "EUR",
        "JP": "JPY",
        "VN": "VND",
    }
    for seller in sellers:
        seller.full_clean()
        assert (demo_media / seller.logo.name).is_file()
        for lang in LANGUAGES:
            for field in ("tagline", "description"):
                value = getattr(seller, f"{field}_{lang}")
                assert value, (seller.slug, field, lang)
                if lang != "en":
                    assert value != getattr(seller, f"{field}_en"), (seller.slug, field, lang)


def test_each_seller_user_signs_in_and_acts_for_their_seller(demo: str, client: Client) -> None:
    for spec in demo_data.SELLERS:
        email = f"seller-{spec.slug}@example.com"

        user = authenticate(username=email, password=DEMO_PASSWORD)

        assert user is not None, email
        assert SellerMember.objects.get(user=user).seller.slug == spec.slug
        assert user.preferred_language == spec.language
        assert not user.is_staff
    response = client.post(
        reverse("login"), {"username": "seller-silkroad-hair@example.com", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 302
    assert authenticate(username="seller-silkroad-hair@example.com", password="wrong") is None


# --- Products, variants, prices --------------------------------------------------------------------------


def test_products_are_active_and_cover_the_required_categories(demo: str) -> None:
    active = Product.objects.filter(status=Product.Status.ACTIVE)
    roots = {c.slug: c for c in Category.objects.filter(parent=None)}

    assert active.count() >= 60
    assert set(roots) >= REQUIRED_ROOTS
    for slug in REQUIRED_ROOTS:
        assert active.filter(category__in=_descendants(roots[slug])).count() >= 8, slug
    assert active.filter(featured=True).count() >= 5
    dates = list(active.values_list("published_at", flat=True))
    assert None not in dates
    assert (max(dates) - min(dates)).days >= 60  # spread out, not all "now"
    assert len(set(dates)) == len(dates)
    categories = Category.objects.all()
    assert any(c.parent and c.parent.parent_id for c in categories)  # two levels below a root
    for category in categories:
        assert all(getattr(category, f"name_{lang}") for lang in LANGUAGES), category.slug


def test_variants_prices_and_hs_codes_are_valid(demo: str) -> None:
    products = Product.objects.select_related("seller").prefetch_related("variants__prices")

    explicit: dict[str, set[str]] = {}
    for product in products:
        product.full_clean()  # HS code format, slug, country ...
        assert re.fullmatch(r"\d{6,10}", product.hs_code)
        variants = list(product.variants.all())
        assert 1 <= len(variants) <= 4, product.slug
        currency = product.seller.base_currency
        for variant in variants:
            variant.full_clean()  # price in the seller's currency, more than zero
            amount = variant.price.amount
            assert variant.price.currency.code == currency
            assert variant.options, variant.sku
            assert variant.weight_grams > 0 and variant.length_mm > 0
            if currency == "JPY":
                assert amount == amount.to_integral_value(), variant.sku
            elif currency == "VND":
                assert amount % 1000 == 0, variant.sku
            else:
                assert amount == amount.quantize(Decimal("0.01")), variant.sku
            for price in variant.prices.all():
                price.full_clean()
                assert price.price.currency.code != currency, variant.sku
                explicit.setdefault(product.seller.slug, set()).add(price.price.currency.code)
    assert {"EUR", "GBP"} <= explicit["brightline"]
    assert "CHF" in explicit["alpenkamm"]
    skus = list(Variant.objects.values_list("sku", flat=True))
    assert len(skus) == len(set(skus))


def test_origins_are_mostly_the_producers_country(demo: str) -> None:
    products = list(Product.objects.select_related("seller"))

    at_home = [p for p in products if p.origin_country == p.seller.country]

    assert len(at_home) >= len(products) * 0.6


# --- Texts ---------------------------------------------------------------------------------------------


def test_every_product_text_is_written_in_every_language(demo: str) -> None:
    for product in Product.objects.all():
        english_sentences = [
            s for s in re.split(r"(?<=[.!?])\s+", product.description_en) if len(s) > 20 and "Producer" not in s
        ]
        for lang in LANGUAGES:
            for field in ("name", "short_description", "description", "material_care"):
                assert getattr(product, f"{field}_{lang}").strip(), (product.slug, field, lang)
            if lang == "en":
                continue
            description = getattr(product, f"description_{lang}")
            for field in ("short_description", "description", "material_care"):
                assert getattr(product, f"{field}_{lang}") != getattr(product, f"{field}_en"), (product.slug, field)
            for sentence in english_sentences:
                assert sentence not in description, (product.slug, lang, sentence)
            if lang in SCRIPTS:
                assert NAME_SCRIPTS[lang].search(getattr(product, f"name_{lang}")), (product.slug, lang)
                for field in ("short_description", "description", "material_care"):
                    assert SCRIPTS[lang].search(getattr(product, f"{field}_{lang}")), (product.slug, field, lang)


def test_wig_names_carry_the_word_for_wig_in_every_language(demo: str) -> None:
    wigs = list(Product.objects.filter(category__slug="wigs"))

    assert len(wigs) >= 5
    for wig in wigs:
        assert wig.hs_code.startswith("6704"), wig.slug
        for lang, word in WIG_WORDS.items():
            assert word in _text(getattr(wig, f"name_{lang}")), (wig.slug, lang)
    story = Product.objects.get(slug=WIG_STORY_SLUG)
    assert story.seller.slug == "silkroad-hair" and str(story.origin_country) == "CN"
    assert story.hs_code == "670420"  # human hair


# --- Images and pages --------------------------------------------------------------------------------------


def test_every_product_has_locally_drawn_images_and_thumbnails(demo: str, demo_media: Path) -> None:
    for product in Product.objects.prefetch_related("images"):
        images = list(product.images.all())
        assert 1 <= len(images) <= 2, product.slug
        for image in images:
            with Image.open(demo_media / image.image.name) as picture:
                assert (picture.format, picture.size) == ("JPEG", (800, 800))
            with Image.open(demo_media / image.thumbnail.name) as thumbnail:
                assert thumbnail.format == "WEBP"
                assert max(thumbnail.size) <= 480


def test_pages_show_the_demo_texts(demo: str, client: Client) -> None:
    # when
    listing = client.get("/ja/products/").content.decode()
    wig_page = client.get(f"/ar/products/{WIG_STORY_SLUG}/")

    # then
    story = Product.objects.get(slug=WIG_STORY_SLUG)
    japanese_names = Product.objects.filter(status=Product.Status.ACTIVE).values_list("name_ja", flat=True)
    assert sum(name in listing for name in japanese_names) >= 12
    assert wig_page.status_code == 200
    body = wig_page.content.decode()
    assert story.name_ar in body
    assert story.short_description_ar in body
    assert "باروكة" in body
