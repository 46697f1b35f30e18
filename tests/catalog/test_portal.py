"""The seller portal: who may see what, the moderation flow, translations, bad input, query counts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal
from io import BytesIO
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from djmoney.money import Money
from PIL import Image

from catalog import services as catalog_services
from catalog.images import MAX_BYTES
from catalog.models import Product, ProductImage, Seller, Variant, VariantPrice

from .factories import (
    CategoryFactory,
    ProductFactory,
    ProductImageFactory,
    SellerFactory,
    SellerMemberFactory,
    UserFactory,
    VariantFactory,
    VariantPriceFactory,
)


def url(name: str, **kwargs: Any) -> str:
    return reverse(f"portal:{name}", kwargs=kwargs or None)


def image_upload(
    name: str = "photo.png", *, size: tuple[int, int] = (400, 300), fmt: str = "PNG"
) -> SimpleUploadedFile:
    buffer = BytesIO()
    Image.new("RGB", size, (200, 80, 40)).save(buffer, format=fmt)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=f"image/{fmt.lower()}")


def product_data(category_id: int, **overrides: str) -> dict[str, Any]:
    data = {
        "name_en": "Silk wig",
        "short_description_en": "A wig of real hair.",
        "description_en": "Hand-tied, 40 cm.",
        "name_de": "Seidenperücke",
        "category": str(category_id),
        "brand": "SilkHair",
        "hs_code": "670420",
        "origin_country": "CN",
    }
    data.update(overrides)
    return data


def variant_data(**overrides: str) -> dict[str, str]:
    data = {
        "sku": "WIG-40-BLK",
        "options": "length=40 cm\ncolour=black",
        "price": "129.90",
        "weight_grams": "250",
        "length_mm": "300",
        "width_mm": "200",
        "height_mm": "80",
        "active": "on",
    }
    data.update(overrides)
    return data


def counts() -> dict[str, int]:
    return {
        "products": Product.objects.count(),
        "variants": Variant.objects.count(),
        "prices": VariantPrice.objects.count(),
        "images": ProductImage.objects.count(),
    }


@pytest.fixture
def category(db):
    return CategoryFactory(slug="wigs", name_en="Wigs")


@pytest.fixture
def seller(db) -> Seller:
    return SellerFactory(slug="silk-hair", name="Silk Hair", base_currency="EUR")


@pytest.fixture
def seller_client(client: Client, seller: Seller) -> Client:
    client.force_login(SellerMemberFactory(seller=seller).user)
    return client


@pytest.fixture
def product(seller, category) -> Product:
    return ProductFactory(seller=seller, category=category, slug="silk-wig", name_en="Silk wig")


@pytest.fixture
def variant(product) -> Variant:
    return VariantFactory(product=product, sku="OWN-1", price=Money("50.00", "EUR"))


@dataclass
class Foreign:
    seller: Seller
    product: Product
    variant: Variant
    price: VariantPrice
    image: ProductImage


@pytest.fixture
def foreign(db, category) -> Foreign:
    """Another seller's data, which our seller must never reach."""
    seller = SellerFactory(slug="gadget-works", name="Gadget Works", country="US", base_currency="USD")
    product = ProductFactory(seller=seller, category=category, slug="gadget", name_en="Gadget")
    variant = VariantFactory(product=product, sku="GADGET-1", price=Money("10.00", "USD"))
    price = VariantPriceFactory(variant=variant, price=Money("9.00", "EUR"))
    image = ProductImageFactory(product=product)
    return Foreign(seller, product, variant, price, image)


# --- Access ------------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(url("dashboard"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=/en/seller/")


def test_user_without_membership_gets_403(client, db, product):
    client.force_login(UserFactory(email="buyer@example.com"))

    for target in (url("dashboard"), url("product-edit", pk=product.pk), url("export")):
        response = client.get(target)
        assert response.status_code == 403
        assert b"not a seller user" in response.content


def test_header_links_the_portal_for_seller_users_only(client, seller_client, db):
    response = seller_client.get("/en/")
    assert b'data-testid="seller-portal-link"' in response.content

    buyer = Client()
    buyer.force_login(UserFactory())
    response = buyer.get("/en/")  # no membership: the lookup must not raise
    assert response.status_code == 200
    assert b'data-testid="seller-portal-link"' not in response.content


def test_dashboard_lists_own_products_in_every_status(seller_client, seller, category, foreign):
    # given
    for status in Product.Status.values:
        ProductFactory(seller=seller, category=category, slug=f"p-{status}", status=status)

    # when
    response = seller_client.get(url("dashboard"))

    # then
    body = response.content.decode()
    assert response.status_code == 200
    for status in Product.Status.values:
        assert f'data-slug="p-{status}" data-status="{status}"' in body
    assert "gadget" not in body

    response = seller_client.get(url("dashboard"), {"status": "active"})
    assert response.content.decode().count('data-testid="portal-product"') == 1


FOREIGN_REQUESTS = [
    ("get", "product-edit", "product"),
    ("post", "product-edit", "product"),
    ("post", "product-submit", "product"),
    ("post", "product-archive", "product"),
    ("get", "product-export", "product"),
    ("get", "variant-create", "product"),
    ("post", "variant-create", "product"),
    ("post", "image-upload", "product"),
    ("get", "variant-edit", "variant"),
    ("post", "variant-edit", "variant"),
    ("post", "variant-delete", "variant"),
    ("post", "price-set", "variant"),
    ("post", "price-delete", "price"),
    ("post", "image-delete", "image"),
]


@pytest.mark.parametrize(("method", "name", "target"), FOREIGN_REQUESTS)
def test_another_sellers_objects_are_404(seller_client, category, foreign, method, name, target):
    # given: valid input, so that only ownership can refuse it
    data: dict[str, Any] = {
        **product_data(category.pk, name_en="Hijacked"),
        **variant_data(sku="HIJACK-1", price="1.00"),
        "currency": "GBP",
        "amount": "1.00",
        "image": image_upload(),
    }
    before = counts()

    # when
    response = getattr(seller_client, method)(url(name, pk=getattr(foreign, target).pk), data)

    # then
    assert response.status_code == 404
    assert counts() == before
    foreign.product.refresh_from_db()
    foreign.variant.refresh_from_db()
    assert (foreign.product.name_en, foreign.product.status) == ("Gadget", Product.Status.DRAFT)
    assert (foreign.variant.sku, foreign.variant.price) == ("GADGET-1", Money("10.00", "USD"))


def test_csrf_is_required(seller, product):
    client = Client(enforce_csrf_checks=True)
    client.force_login(SellerMemberFactory(seller=seller).user)

    response = client.post(url("product-archive", pk=product.pk))

    assert response.status_code == 403
    product.refresh_from_db()
    assert product.status == Product.Status.DRAFT


# --- The owner's work --------------------------------------------------------------------


def test_portal_pages_render(seller_client, variant):
    product = variant.product
    for target in (
        url("dashboard"),
        url("product-create"),
        url("product-edit", pk=product.pk),
        url("variant-create", pk=product.pk),
        url("variant-edit", pk=variant.pk),
        url("import"),
    ):
        response = seller_client.get(target)
        assert response.status_code == 200, target
        assert 'data-testid="form-error"' not in response.content.decode()


@pytest.mark.parametrize(
    ("currency", "good", "too_precise"),
    [("EUR", "12.34", "12.345"), ("JPY", "1234", "1234.5"), ("KWD", "1.234", "1.2345")],
)
def test_prices_follow_the_sellers_currency(client, category, currency, good, too_precise):
    # given: a seller pricing in its own currency
    seller = SellerFactory(base_currency=currency)
    client.force_login(SellerMemberFactory(seller=seller).user)
    product = ProductFactory(seller=seller, category=category)

    # when
    refused = client.post(url("variant-create", pk=product.pk), variant_data(sku="A-1", price=too_precise))
    created = client.post(url("variant-create", pk=product.pk), variant_data(sku="A-2", price=good))

    # then
    assert refused.status_code == 400
    assert created.status_code == 302
    assert Variant.objects.get(product=product).price == Money(good, currency)
    assert f",A-2,colour=black;length=40 cm,{good}," in client.get(url("export")).content.decode()


def test_owner_creates_a_product_with_two_languages(seller_client, seller, category):
    response = seller_client.post(url("product-create"), product_data(category.pk))

    product = Product.objects.get(seller=seller)
    assert response.status_code == 302
    assert response["Location"] == url("product-edit", pk=product.pk)
    assert product.slug == "silk-wig"
    assert product.status == Product.Status.DRAFT
    assert (product.name_en, product.name_de, product.hs_code, product.origin_country.code) == (
        "Silk wig",
        "Seidenperücke",
        "670420",
        "CN",
    )
    statuses = catalog_services.translation_status(product)
    assert statuses["en"] == "complete"
    assert statuses["de"] == "missing"  # the descriptions are still English only
    assert statuses["fr"] == "missing"


def test_owner_edits_a_product(seller_client, product, category):
    other_category = CategoryFactory(slug="hair-care")

    response = seller_client.post(
        url("product-edit", pk=product.pk),
        product_data(other_category.pk, name_en="Silk wig, 40 cm", name_fr="Perruque en soie", brand="Silk"),
    )

    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.name_en, product.name_fr, product.brand, product.category_id) == (
        "Silk wig, 40 cm",
        "Perruque en soie",
        "Silk",
        other_category.pk,
    )
    page = seller_client.get(url("product-edit", pk=product.pk))
    assert page.status_code == 200
    assert "Perruque en soie" in page.content.decode()


def test_owner_manages_variants(seller_client, seller, product):
    # create
    response = seller_client.post(url("variant-create", pk=product.pk), variant_data())
    assert response.status_code == 302
    variant = Variant.objects.get(product=product)
    assert variant.sku == "WIG-40-BLK"
    assert variant.price == Money("129.90", "EUR")
    assert variant.options == {"length": "40 cm", "colour": "black"}
    assert (variant.weight_grams, variant.length_mm, variant.width_mm, variant.height_mm) == (250, 300, 200, 80)

    # edit
    response = seller_client.get(url("variant-edit", pk=variant.pk))
    assert response.status_code == 200
    assert 'value="129.9"' in response.content.decode()
    response = seller_client.post(url("variant-edit", pk=variant.pk), variant_data(price="99.5", active=""))
    assert response.status_code == 302
    variant.refresh_from_db()
    assert variant.price == Money("99.50", "EUR")
    assert variant.active is False

    # explicit price in another currency, then removed
    response = seller_client.post(url("price-set", pk=variant.pk), {"currency": "usd", "amount": "109.00"})
    assert response.status_code == 302
    explicit = VariantPrice.objects.get(variant=variant)
    assert explicit.price == Money("109.00", "USD")
    response = seller_client.post(url("price-set", pk=variant.pk), {"currency": "USD", "amount": "105"})
    assert VariantPrice.objects.get(variant=variant).price == Money("105", "USD")  # replaced, not added
    response = seller_client.post(url("price-delete", pk=explicit.pk))
    assert response.status_code == 302
    assert not VariantPrice.objects.filter(variant=variant).exists()

    # delete
    response = seller_client.post(url("variant-delete", pk=variant.pk))
    assert response.status_code == 302
    assert not Variant.objects.filter(product=product).exists()


def test_owner_uploads_and_deletes_an_image(seller_client, product, django_capture_on_commit_callbacks):
    # when
    response = seller_client.post(
        url("image-upload", pk=product.pk), {"image": image_upload(size=(900, 600)), "alt": "Front"}
    )

    # then
    assert response.status_code == 302
    image = ProductImage.objects.get(product=product)
    assert image.alt == "Front"
    assert image.thumbnail
    with Image.open(image.thumbnail.path) as thumb:
        assert thumb.format == "WEBP"
        assert max(thumb.size) == 480
    paths = [image.image.path, image.thumbnail.path]

    with django_capture_on_commit_callbacks(execute=True):  # the files go once the deletion commits
        response = seller_client.post(url("image-delete", pk=image.pk))

    assert response.status_code == 302
    assert not ProductImage.objects.filter(product=product).exists()
    assert not any(os.path.exists(p) for p in paths)


def test_owner_exports_only_own_products(seller_client, variant, foreign):
    response = seller_client.get(url("export"))

    body = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "silk-wig" in body and "OWN-1" in body
    assert "gadget" not in body and "GADGET-1" not in body

    response = seller_client.get(url("product-export", pk=variant.product.pk))
    assert response.status_code == 200
    assert "OWN-1" in response.content.decode()


# --- Moderation --------------------------------------------------------------------------


def test_moderation_flow_from_draft_to_the_storefront(seller_client, seller, category):
    # given: a new draft without variants
    seller_client.post(url("product-create"), product_data(category.pk))
    product = Product.objects.get(seller=seller)

    # when: submitted without a variant, it is refused with a visible error
    response = seller_client.post(url("product-submit", pk=product.pk), follow=True)

    # then
    assert 'data-testid="form-error"' in response.content.decode()
    assert "Add at least one variant" in response.content.decode()
    product.refresh_from_db()
    assert product.status == Product.Status.DRAFT

    # when: with a variant it goes to review
    seller_client.post(url("variant-create", pk=product.pk), variant_data())
    response = seller_client.post(url("product-submit", pk=product.pk))

    assert response.status_code == 302
    product.refresh_from_db()
    assert product.status == Product.Status.PENDING_REVIEW
    assert 'data-slug="silk-wig"' not in Client().get("/en/products/").content.decode()

    # when: an operator approves it (admin calls the same service)
    catalog_services.approve(product)

    # then: it is live
    product.refresh_from_db()
    assert product.status == Product.Status.ACTIVE
    listing = Client().get("/en/products/")
    assert listing.status_code == 200
    assert 'data-slug="silk-wig"' in listing.content.decode()


def test_archive_goes_through_the_transitions(seller_client, product, variant):
    catalog_services.submit_for_review(product)

    response = seller_client.post(url("product-archive", pk=product.pk), follow=True)

    assert "cannot become" in response.content.decode()  # pending review cannot be archived
    product.refresh_from_db()
    assert product.status == Product.Status.PENDING_REVIEW

    catalog_services.approve(product)
    seller_client.post(url("product-archive", pk=product.pk))
    product.refresh_from_db()
    assert product.status == Product.Status.ARCHIVED


# --- Translations ------------------------------------------------------------------------


def test_editing_the_english_text_flags_translations_for_update(seller_client, seller, category):
    # given: complete in English and German
    texts = {"name_de": "Seidenperücke", "short_description_de": "Echthaar.", "description_de": "Handgeknüpft."}
    seller_client.post(url("product-create"), product_data(category.pk, **texts))
    product = Product.objects.get(seller=seller)
    assert catalog_services.translation_status(product)["de"] == "complete"

    # when: only the English name changes
    seller_client.post(url("product-edit", pk=product.pk), product_data(category.pk, name_en="Silk wig 2", **texts))

    # then: German needs an update, on the list and on the tab
    product.refresh_from_db()
    assert catalog_services.translation_status(product)["de"] == "needs_update"
    assert catalog_services.translation_status(product)["en"] == "complete"
    dashboard = seller_client.get(url("dashboard")).content.decode()
    assert 'data-lang="de" data-status="needs_update"' in dashboard
    assert 'data-lang="en" data-status="complete"' in dashboard
    edit = seller_client.get(url("product-edit", pk=product.pk)).content.decode()
    assert 'data-testid="tab-translation-status" data-lang="de" data-status="needs_update"' in edit

    # when: the German text is rewritten, it is up to date again
    seller_client.post(
        url("product-edit", pk=product.pk),
        product_data(category.pk, name_en="Silk wig 2", **{**texts, "name_de": "Seidenperücke 2"}),
    )
    product.refresh_from_db()
    assert catalog_services.translation_status(product)["de"] == "complete"


# --- Bad input ---------------------------------------------------------------------------


def assert_rejected(response, before: dict[str, int], *needles: str) -> None:
    body = response.content.decode()
    assert response.status_code == 400
    assert 'data-testid="form-error"' in body
    for needle in needles:
        assert needle in body
    assert counts() == before


@pytest.mark.parametrize("hs_code", ["1234", "12345678901", "6704.20", "abcdef"])
def test_invalid_hs_code_is_refused_and_input_kept(seller_client, category, hs_code):
    before = counts()

    response = seller_client.post(url("product-create"), product_data(category.pk, hs_code=hs_code))

    assert_rejected(response, before, "6 to 10 digits", 'value="Silk wig"', "Seidenperücke", f'value="{hs_code}"')


def test_invalid_edit_saves_nothing(seller_client, product, category):
    response = seller_client.post(
        url("product-edit", pk=product.pk), product_data(category.pk, name_en="Changed", hs_code="12")
    )

    assert_rejected(response, counts(), 'value="Changed"')
    product.refresh_from_db()
    assert product.name_en == "Silk wig"


def test_missing_english_name_is_refused(seller_client, category):
    before = counts()

    response = seller_client.post(url("product-create"), product_data(category.pk, name_en=""))

    assert_rejected(response, before, 'data-field="name_en"')


@pytest.mark.parametrize(
    ("price", "message"),
    [("0", "more than zero"), ("-5.00", "more than zero"), ("12.345", "at most 2 decimal places"), ("abc", "number")],
)
def test_bad_variant_price_is_refused(seller_client, product, price, message):
    before = counts()

    response = seller_client.post(url("variant-create", pk=product.pk), variant_data(price=price))

    assert_rejected(response, before, message, 'value="WIG-40-BLK"')


def test_bad_price_on_edit_changes_nothing(seller_client, variant):
    response = seller_client.post(url("variant-edit", pk=variant.pk), variant_data(sku="OWN-1", price="-1"))

    assert_rejected(response, counts(), "more than zero")
    variant.refresh_from_db()
    assert variant.price == Money("50.00", "EUR")


def test_duplicate_sku_is_refused(seller_client, product, variant, foreign):
    before = counts()

    for sku in ("OWN-1", "GADGET-1"):  # ours and another seller's
        response = seller_client.post(url("variant-create", pk=product.pk), variant_data(sku=sku))
        assert_rejected(response, before, "already used")


def test_bad_options_are_refused(seller_client, product):
    before = counts()

    response = seller_client.post(url("variant-create", pk=product.pk), variant_data(options="size M"))

    assert_rejected(response, before, "name=value")


@pytest.mark.parametrize(
    ("currency", "amount", "message"),
    [
        ("XYZ", "10.00", "Unknown currency"),
        ("EURO", "10.00", "Unknown currency"),
        ("EUR", "10.00", "your own currency"),
        ("USD", "0", "more than zero"),
        ("USD", "-3", "more than zero"),
        ("JPY", "1500.5", "no decimal places"),
    ],
)
def test_bad_explicit_price_is_refused(seller_client, variant, currency, amount, message):
    before = counts()

    response = seller_client.post(url("price-set", pk=variant.pk), {"currency": currency, "amount": amount})

    assert_rejected(response, before, message)


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("big.png", b"\x89PNG" + b"\0" * MAX_BYTES, content_type="image/png"), "larger than 5 MB"),
        (SimpleUploadedFile("notes.png", b"this is not an image", content_type="image/png"), "not an image"),
        (SimpleUploadedFile("doc.pdf", b"%PDF-1.4 fake", content_type="application/pdf"), "not an image"),
        ("small", "at least 200 pixels"),
        ("gif", "JPEG, PNG or WebP"),
    ],
    ids=["oversized", "text-as-png", "pdf", "too-small", "gif"],
)
def test_bad_upload_is_refused(seller_client, product, upload, message):
    if upload == "small":
        upload = image_upload(size=(120, 120))
    elif upload == "gif":
        upload = image_upload("anim.gif", fmt="GIF")
    before = counts()

    response = seller_client.post(url("image-upload", pk=product.pk), {"image": upload, "alt": "Front"})

    assert_rejected(response, before, message, 'value="Front"')


# --- Query counts ------------------------------------------------------------------------


def test_dashboard_query_count_does_not_grow_with_products(seller_client, seller, category):
    def make(n: int) -> None:
        for _ in range(n):
            product = ProductFactory(seller=seller, category=category)
            VariantFactory.create_batch(2, product=product)
            ProductImageFactory(product=product)

    def queries() -> int:
        cache.clear()  # measure both cold: the footer's FX rates are cached after the first page
        with CaptureQueriesContext(connection) as captured:
            response = seller_client.get(url("dashboard"))
        assert response.status_code == 200
        return len(captured)

    make(3)
    with_3 = queries()
    make(9)
    with_12 = queries()

    assert seller_client.get(url("dashboard")).content.decode().count('data-testid="portal-product"') == 12
    assert with_3 == with_12


def test_explicit_price_amount_to_the_cent(seller_client, variant):
    seller_client.post(url("price-set", pk=variant.pk), {"currency": "GBP", "amount": "42.07"})

    assert VariantPrice.objects.get(variant=variant).price.amount == Decimal("42.07")


def test_web_address_is_made_unique_or_refused_when_taken(seller_client, seller, category, foreign):
    seller_client.post(url("product-create"), product_data(category.pk))
    seller_client.post(url("product-create"), product_data(category.pk))
    assert sorted(Product.objects.filter(seller=seller).values_list("slug", flat=True)) == ["silk-wig", "silk-wig-2"]

    before = counts()
    response = seller_client.post(url("product-create"), product_data(category.pk, slug="gadget"))  # another seller's

    assert_rejected(response, before, "already used", 'value="gadget"')
