"""Storefront pages: translated texts, buyer-currency prices, filters, constant query counts."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override
from djmoney.money import Money

from catalog.models import Category, Product, Seller, Variant, VariantPrice
from marketplace.fx.services import refresh_fx_rates
from marketplace.models import ManualRate, Market

LANGS = [code for code, _name in settings.LANGUAGES]
# Units per 1 EUR, chosen so that hand arithmetic is easy.
RATES = {"USD": "1.10", "JPY": "160", "CNY": "8", "MXN": "20", "GBP": "0.85", "KWD": "0.34"}


@pytest.fixture
def rates(settings, django_capture_on_commit_callbacks):
    settings.FX_PROVIDERS = ["marketplace.fx.providers.Manual"]
    for code, value in RATES.items():
        ManualRate.objects.create(currency=code, units_per_eur=Decimal(value))
    with django_capture_on_commit_callbacks(execute=True):
        refresh_fx_rates()


@pytest.fixture
def category(db):
    parent = Category.objects.create(slug="beauty", name_en="Beauty", name_fr="Beauté")
    return Category.objects.create(slug="wigs", name_en="Wigs", name_fr="Perruques", parent=parent)


@pytest.fixture
def seller(db):
    return Seller.objects.create(slug="silk-hair", name="Silk Hair Co", country="CN", base_currency="CNY")


def make_product(seller, category, slug, *, price="100.00", variants=1, **texts):
    defaults = {"name_en": f"Product {slug}", "description_en": "An English description."}
    defaults.update(texts)
    product = Product.objects.create(
        seller=seller,
        category=category,
        slug=slug,
        status=Product.Status.ACTIVE,
        hs_code="670420",
        origin_country="CN",
        published_at=timezone.now(),
        **defaults,
    )
    for i in range(variants):
        Variant.objects.create(
            product=product,
            sku=f"{slug}-{i}",
            options={"length": f"{40 + i * 5} cm"},
            price=Money(Decimal(price) + i, seller.base_currency),
            weight_grams=300,
        )
    return product


def amounts(html: str, testid: str = "price") -> list[tuple[str, str]]:
    return re.findall(rf'data-testid="{testid}" data-amount="([^"]+)" data-currency="([A-Z]{{3}})"', html)


def test_product_texts_in_every_language_with_english_fallback(client: Client, seller, category, rates):
    # given a wig translated into French only
    make_product(
        seller,
        category,
        "wig",
        name_en="Lace wig",
        name_fr="Perruque en dentelle",
        description_en="Soft human hair.",
        description_fr="Cheveux naturels doux.",
    )
    for lang in LANGS:
        # when a buyer opens the page in each language
        with override(lang):
            url = reverse("catalog:product-detail", kwargs={"slug": "wig"})
        html = client.get(url).content.decode()
        # then French reads French and every other language falls back to English
        assert url.startswith(f"/{lang}/")
        if lang == "fr":
            assert "Perruque en dentelle" in html and "Cheveux naturels doux." in html
            assert "Lace wig" not in html
        else:
            assert "Lace wig" in html and "Soft human hair." in html


@pytest.mark.parametrize(
    ("currency", "expected"),
    [
        # 100 CNY at 8 CNY/EUR = 12.5 EUR
        ("EUR", "12.50"),
        # 100 CNY * 160/8 = 2000 JPY, no decimals
        ("JPY", "2000"),
        # 100 CNY * 1.10/8 = 13.75 USD
        ("USD", "13.75"),
        # 100 CNY * 0.34/8 = 4.25 KWD, three decimals
        ("KWD", "4.250"),
        # the seller's own currency is shown as set
        ("CNY", "100.00"),
    ],
)
def test_listing_converts_prices_to_the_buyer_currency(client, seller, category, rates, currency, expected):
    # given
    make_product(seller, category, "wig")
    client.cookies["currency"] = currency
    # when
    html = client.get("/en/products/").content.decode()
    # then
    assert amounts(html) == [(expected, currency)]


def test_explicit_price_wins_and_rounding_is_half_up(client, seller, category, rates):
    # given a CNY price whose JPY conversion ends in .5 and an explicit USD price
    product = make_product(seller, category, "wig", price="100.025")  # 100.025 * 20 = 2000.5 JPY
    VariantPrice.objects.create(variant=product.variants.get(), price=Money("19.99", "USD"))
    # when / then: the explicit USD price is shown as set
    client.cookies["currency"] = "USD"
    html = client.get("/en/products/wig/").content.decode()
    assert ("19.99", "USD") in amounts(html)
    # and the JPY price is converted and rounded half up, once
    client.cookies["currency"] = "JPY"
    html = client.get("/ja/products/wig/").content.decode()
    assert ("2001", "JPY") in amounts(html)
    assert "￥2,001" in html
    # and the seller's own price is shown in small print for converted prices
    assert ("100.03", "CNY") in amounts(html, "seller-price")


def test_market_fx_margin_is_applied_to_converted_prices(client, seller, category, rates):
    # given a buyer in Japan whose market adds a 2% FX margin
    Market.objects.create(
        country="JP",
        region="asia_pacific",
        currency="JPY",
        language="ja",
        vat_rate=10,
        duty_de_minimis=Money(10000, "JPY"),
        duty_de_minimis_verified_on="2025-04-01",
        tax_de_minimis=Money(10000, "JPY"),
        tax_de_minimis_verified_on="2025-04-01",
        fx_margin=Decimal("2"),
    )
    make_product(seller, category, "wig")
    # when (country from Accept-Language: ja -> JP -> JPY)
    html = client.get("/ja/products/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    # then 2000 JPY * 1.02
    assert amounts(html) == [("2040", "JPY")]


def test_price_filter_and_sort_are_in_the_buyer_currency(client, seller, category, rates):
    # given products at 80, 160 and 240 CNY = 10, 20 and 30 EUR
    for slug, price in [("cheap", "80"), ("middle", "160"), ("dear", "240")]:
        make_product(seller, category, slug, price=price)
    client.cookies["currency"] = "EUR"
    # when filtering 15..25 EUR
    html = client.get("/en/products/", {"min_price": "15", "max_price": "25"}).content.decode()
    # then only the middle one
    assert re.findall(r'data-testid="product-card" data-slug="([^"]+)"', html) == ["middle"]
    # and sorting by price works both ways
    html = client.get("/en/products/", {"sort": "price_desc"}).content.decode()
    assert re.findall(r'data-slug="([^"]+)"', html) == ["dear", "middle", "cheap"]
    html = client.get("/en/products/", {"sort": "price_asc"}).content.decode()
    assert re.findall(r'data-slug="([^"]+)"', html) == ["cheap", "middle", "dear"]


def test_bad_filter_input_is_reported_not_a_crash(client, seller, category, rates):
    make_product(seller, category, "wig")
    response = client.get("/en/products/", {"min_price": "abc", "max_price": "-3", "sort": "nonsense"})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('data-testid="form-error"') == 3
    assert 'data-slug="wig"' in html  # the invalid filters were ignored, not applied


def test_category_page_includes_subcategories_and_has_breadcrumbs(client, seller, category, rates):
    make_product(seller, category, "wig")
    html = client.get("/fr/categories/beauty/").content.decode()
    assert 'data-slug="wig"' in html
    html = client.get("/fr/products/wig/").content.decode()
    assert 'href="/fr/categories/beauty/">Beauté</a>' in html
    assert 'href="/fr/categories/wigs/">Perruques</a>' in html
    assert client.get("/fr/categories/nope/").status_code == 404


def test_only_active_products_are_visible(client, seller, category, rates):
    product = make_product(seller, category, "wig")
    product.status = Product.Status.PENDING_REVIEW
    product.save(update_fields=["status"])
    assert client.get("/en/products/wig/").status_code == 404
    assert 'data-slug="wig"' not in client.get("/en/products/").content.decode()


def queries_cold_then_warm(client: Client, path: str) -> tuple[list[str], list[str]]:
    """The SQL of ``path`` with every cache empty (markets, rates, categories, the catalog cache),
    then of the same request again, with them warm."""
    cache.clear()
    pages = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        assert response.status_code == 200
        pages.append([query["sql"] for query in captured.captured_queries])
    return pages[0], pages[1]


@pytest.mark.parametrize("path", ["/de/products/?per_page={n}", "/de/products/?per_page={n}&sort=price_asc"])
def test_listing_query_count_does_not_grow_with_page_size(client, seller, category, rates, path):
    client.cookies["currency"] = "JPY"
    for i in range(48):
        make_product(seller, category, f"p{i}", variants=1 + i % 3)
    cold12, warm12 = queries_cold_then_warm(client, path.format(n=12))
    cold48, warm48 = queries_cold_then_warm(client, path.format(n=48))
    html12, html48 = (client.get(path.format(n=n)).content.decode() for n in (12, 48))
    assert html12.count('data-testid="product-card"') == 12
    assert html48.count('data-testid="product-card"') == 48
    assert len(cold12) == len(cold48) <= 8
    # warm: the page alone; the count, and each card's texts, image and prices come from the catalog cache
    assert len(warm12) == len(warm48) == 1


def test_product_page_query_count_does_not_grow_with_variants(client, seller, category, rates):
    make_product(seller, category, "one", variants=1)
    make_product(seller, category, "four", variants=4)
    cold_one, warm_one = queries_cold_then_warm(client, "/en/products/one/")
    cold_four, warm_four = queries_cold_then_warm(client, "/en/products/four/")
    html = client.get("/en/products/four/").content.decode()
    assert html.count("<option value=") >= 4
    assert len(cold_one) == len(cold_four)
    assert len(warm_one) == len(warm_four) < len(cold_four)


def test_seller_page_lists_their_active_products(client, seller, category, rates):
    make_product(seller, category, "wig")
    other = Seller.objects.create(slug="other", name="Other", country="US", base_currency="USD")
    make_product(other, category, "gadget")
    html = client.get("/en/sellers/silk-hair/").content.decode()
    assert "Silk Hair Co" in html and 'data-slug="wig"' in html and 'data-slug="gadget"' not in html
    assert client.get("/en/sellers/nobody/").status_code == 404
