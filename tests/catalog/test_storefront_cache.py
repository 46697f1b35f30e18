"""The catalog cache (``catalog.cache``) behind the storefront: once the pages are warm, every change
a buyer must see shows on the very next request, and nothing of one buyer reaches another."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client
from djmoney.money import Money

from catalog.models import Category, Product, ProductImage, Seller, VariantPrice
from marketplace.fx.services import refresh_fx_rates
from marketplace.models import ManualRate

from .test_storefront import RATES, amounts, make_product


@pytest.fixture(autouse=True)
def _catalog_cache_on(settings):
    settings.CATALOG_CACHE_SECONDS = 300


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


def pages(client: Client, lang: str = "en") -> tuple[str, str]:
    """The listing and the wig's page, each requested twice: the second answer comes from a warm cache."""
    html = []
    for path in (f"/{lang}/products/", f"/{lang}/products/wig/"):
        client.get(path)
        response = client.get(path)
        html.append(response.content.decode() if response.status_code == 200 else str(response.status_code))
    return html[0], html[1]


def card_slugs(html: str) -> list[str]:
    return re.findall(r'data-testid="product-card" data-slug="([^"]+)"', html)


def test_a_price_change_shows_on_the_next_request(client, seller, category, rates):
    # given a warm listing and product page at 100 CNY = 12.50 EUR
    product = make_product(seller, category, "wig")
    client.cookies["currency"] = "EUR"
    listing, page = pages(client)
    assert amounts(listing) == [("12.50", "EUR")] and ("12.50", "EUR") in amounts(page)
    # when the seller sets 160 CNY
    variant = product.variants.get()
    variant.price = Money("160", "CNY")
    variant.save()
    # then both show 20 EUR at once
    listing, page = pages(client)
    assert amounts(listing) == [("20.00", "EUR")]
    assert ("20.00", "EUR") in amounts(page) and ("12.50", "EUR") not in amounts(page)


def test_an_explicit_price_shows_and_goes_on_the_next_request(client, seller, category, rates):
    product = make_product(seller, category, "wig")
    client.cookies["currency"] = "USD"
    listing, page = pages(client)
    assert amounts(listing) == [("13.75", "USD")]  # 100 CNY * 1.10 / 8
    # when the seller sets 19.99 USD for US buyers
    explicit = VariantPrice.objects.create(variant=product.variants.get(), price=Money("19.99", "USD"))
    listing, page = pages(client)
    assert amounts(listing) == [("19.99", "USD")] and ("19.99", "USD") in amounts(page)
    # and when they remove it again, conversion is back
    explicit.delete()
    listing, page = pages(client)
    assert amounts(listing) == [("13.75", "USD")] and ("19.99", "USD") not in amounts(page)


def test_an_fx_refresh_shows_on_the_next_request(client, seller, category, rates, django_capture_on_commit_callbacks):
    make_product(seller, category, "wig")  # 100 CNY = 12.50 EUR
    client.cookies["currency"] = "EUR"
    listing, page = pages(client)
    assert amounts(listing) == [("12.50", "EUR")]
    below_11 = "/en/products/?max_price=11"
    client.get(below_11)
    assert card_slugs(client.get(below_11).content.decode()) == []
    # when the rates are refreshed: 10 CNY per EUR
    ManualRate.objects.filter(currency="CNY").update(units_per_eur=Decimal("10"))
    with django_capture_on_commit_callbacks(execute=True):
        refresh_fx_rates()
    # then 100 CNY = 10 EUR everywhere, price filters (and their counts) included
    listing, page = pages(client)
    assert amounts(listing) == [("10.00", "EUR")] and ("10.00", "EUR") in amounts(page)
    below = client.get(below_11).content.decode()
    assert card_slugs(below) == ["wig"] and "1 product" in below


def test_a_translation_edit_shows_on_the_next_request(client, seller, category, rates):
    product = make_product(seller, category, "wig", name_en="Lace wig", name_de="Spitzenperücke")
    listing, page = pages(client, "de")
    assert "Spitzenperücke" in listing and "Spitzenperücke" in page
    # when the German name is corrected
    product.name_de = "Perücke mit Spitze"
    product.description_de = "Weiches Echthaar."
    product.save()
    # then the German pages read it at once, and the English ones are unchanged
    listing, page = pages(client, "de")
    assert "Perücke mit Spitze" in listing and "Spitzenperücke" not in listing
    assert "Perücke mit Spitze" in page and "Weiches Echthaar." in page
    listing, page = pages(client, "en")
    assert "Lace wig" in listing and "Lace wig" in page


def test_an_archived_product_disappears_on_the_next_request(client, seller, category, rates):
    product = make_product(seller, category, "wig")
    make_product(seller, category, "cap")
    listing, page = pages(client)
    assert set(card_slugs(listing)) == {"wig", "cap"} and page != "404"
    assert "2 products" in listing
    # when the seller archives the wig
    product.status = Product.Status.ARCHIVED
    product.save(update_fields=["status"])
    # then it is gone from the listing (and its count) and its page is not found
    listing, page = pages(client)
    assert card_slugs(listing) == ["cap"] and "1 product" in listing
    assert page == "404"


def test_seller_category_and_image_changes_show_on_the_next_request(client, seller, category, rates):
    product = make_product(seller, category, "wig")
    listing, page = pages(client, "fr")
    assert "Silk Hair Co" in listing and "Perruques" in page
    assert 'class="placeholder"' in listing
    # when the seller is renamed, the category too, and the product gets an image
    seller.name = "Silk & Lace"
    seller.save()
    category.name_fr = "Postiches"
    category.save()
    ProductImage.objects.create(product=product, image="products/wig.png", alt="Front")
    # then the card and the breadcrumbs follow
    listing, page = pages(client, "fr")
    assert "Silk &amp; Lace" in listing and "Silk Hair Co" not in listing
    assert 'href="/fr/categories/wigs/">Postiches</a>' in page
    assert 'src="/media/products/wig.png"' in listing or "products/wig.png" in listing
    assert 'class="placeholder"' not in listing


def test_buyers_share_the_catalog_but_nothing_of_each_other(client, seller, category, rates, django_user_model):
    # given a signed-in German buyer paying in JPY who warmed the cache
    make_product(seller, category, "wig", name_en="Lace wig", name_fr="Perruque")
    buyer = django_user_model.objects.create_user(email="anna@example.com", password=None)
    client.force_login(buyer)
    client.cookies["currency"] = "JPY"
    listing_jpy, page_jpy = pages(client, "de")
    assert "anna@example.com" in page_jpy and amounts(listing_jpy) == [("2000", "JPY")]
    # when an anonymous French buyer paying in EUR comes next
    other = Client()
    other.cookies["currency"] = "EUR"
    listing_eur, page_eur = pages(other, "fr")
    # then they get their language and currency, and none of the first buyer's page
    assert amounts(listing_eur) == [("12.50", "EUR")] and "Perruque" in listing_eur
    assert "anna@example.com" not in listing_eur + page_eur
    token = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
    assert token.findall(page_eur) and not set(token.findall(page_eur)) & set(token.findall(page_jpy))


def test_without_the_cache_the_pages_read_the_database(client, seller, category, rates, settings):
    settings.CATALOG_CACHE_SECONDS = 0
    product = make_product(seller, category, "wig")
    client.cookies["currency"] = "EUR"
    pages(client)
    # a write that bypasses the model signals (the cache would have to be told): shown at once
    Product.objects.filter(pk=product.pk).update(name_en="Renamed quietly")
    listing, page = pages(client)
    assert "Renamed quietly" in listing and "Renamed quietly" in page


def test_without_the_cache_cards_show_what_the_database_holds_now(client, seller, category, rates, settings):
    # the cards' markup is kept per process, keyed by every value a card shows: a write that
    # bypasses the model signals still shows on the next request, however many came before
    settings.CATALOG_CACHE_SECONDS = 0
    product = make_product(seller, category, "wig")
    make_product(seller, category, "comb", variants=2)
    client.cookies["currency"] = "EUR"
    listing, _page = pages(client)
    assert sorted(amounts(listing)) == [("12.50", "EUR"), ("12.50", "EUR")] and "Silk Hair Co" in listing
    product.variants.update(price=Decimal("160"))
    Seller.objects.filter(pk=seller.pk).update(name="Silk Hair Ltd")
    listing, _page = pages(client)
    cards = dict(re.findall(r'data-slug="([^"]+)"(.*?)</article>', listing, re.S))
    assert amounts(cards["wig"]) == [("20.00", "EUR")] and amounts(cards["comb"]) == [("12.50", "EUR")]
    assert "Silk Hair Ltd" in cards["wig"] and "Silk Hair Co" not in listing
    assert " from " not in cards["wig"] and "from" in cards["comb"]  # several variants: "from 12,50 €"
    # and the same page with the cache on shows the same cards
    settings.CATALOG_CACHE_SECONDS = 300
    warm, _page = pages(client)
    assert re.findall(r"<article.*?</article>", warm, re.S) == re.findall(r"<article.*?</article>", listing, re.S)
