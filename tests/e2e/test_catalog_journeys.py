"""Catalogue journeys: a Spanish-speaking buyer shopping in pesos; a seller's listing from draft to live."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.utils import timezone
from djmoney.money import Money
from playwright.sync_api import Page, expect

from catalog.models import Category, Product, Seller, SellerMember, Variant
from marketplace.fx.services import refresh_fx_rates
from marketplace.models import ManualRate, User

pytestmark = pytest.mark.browser
PASSWORD = "demo-pass-123"


@pytest.fixture
def shop(transactional_db, settings):
    """Two sellers' products, rates with MXN at 20 per EUR, an operator."""
    settings.FX_PROVIDERS = ["marketplace.fx.providers.Manual"]
    for code, value in {"MXN": "20", "CNY": "8", "USD": "1.10"}.items():
        ManualRate.objects.create(currency=code, units_per_eur=Decimal(value))
    refresh_fx_rates()
    beauty = Category.objects.create(slug="beauty", name_en="Beauty", name_es="Belleza")
    home = Category.objects.create(slug="home", name_en="Home", name_es="Hogar")
    silk = Seller.objects.create(slug="silk-hair", name="Silk Hair Co", country="CN", base_currency="CNY")
    for slug, name_en, name_es, price in [
        ("lace-wig", "Lace front wig", "Peluca de encaje frontal", "800"),  # 800 CNY = 100 EUR = 2000 MXN
        ("bob-wig", "Short bob wig", "Peluca bob corta", "240"),  # 240 CNY = 30 EUR = 600 MXN
    ]:
        product = Product.objects.create(
            seller=silk, category=beauty, slug=slug, status=Product.Status.ACTIVE, hs_code="670420",
            origin_country="CN", published_at=timezone.now(), name_en=name_en, name_es=name_es,
            description_en="Human hair.", description_es="Cabello humano.",
        )  # fmt: skip
        Variant.objects.create(product=product, sku=f"{slug}-1", price=Money(price, "CNY"), weight_grams=300)
    lamp = Seller.objects.create(slug="hoi-an-lanterns", name="Hoi An Lanterns", country="VN", base_currency="USD")
    seller_user = User.objects.create_user("seller-hoi-an-lanterns@example.com", PASSWORD)
    SellerMember.objects.create(user=seller_user, seller=lamp)
    User.objects.create_superuser("operator@example.com", PASSWORD)
    return {"home": home}


def _sign_in(page: Page, email: str, lang: str = "en") -> None:
    page.goto(f"/{lang}/accounts/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.wait_for_load_state()


def test_spanish_buyer_searches_filters_and_sees_pesos(page: Page, shop) -> None:
    # given a buyer on the Spanish home page who picks Mexican pesos
    page.goto("/es/")
    with page.expect_navigation():
        page.get_by_test_id("currency-switcher").select_option("MXN")
    expect(page.get_by_test_id("currency-switcher")).to_have_value("MXN")

    # when they search for wigs ("peluca") and keep those up to 1,000 pesos
    page.get_by_test_id("search-input").fill("peluca")
    page.get_by_test_id("search-submit").click()
    expect(page.get_by_test_id("product-card")).to_have_count(2)
    page.get_by_test_id("max-price").fill("1000")
    page.get_by_test_id("apply-filters").click()

    # then only the 600-peso bob wig is left, priced in MXN
    cards = page.get_by_test_id("product-card")
    expect(cards).to_have_count(1)
    expect(cards.first).to_have_attribute("data-slug", "bob-wig")
    price = cards.first.get_by_test_id("price")
    expect(price).to_have_attribute("data-currency", "MXN")
    expect(price).to_have_attribute("data-amount", "600.00")

    # and the product page, in Spanish, shows the same price in pesos
    cards.first.locator("a").first.click()
    expect(page).to_have_url(re.compile(r"/es/products/bob-wig/$"))
    expect(page.locator("h1")).to_have_text("Peluca bob corta")
    detail_price = page.get_by_test_id("price").first
    expect(detail_price).to_have_attribute("data-currency", "MXN")
    expect(detail_price).to_have_attribute("data-amount", "600.00")
    expect(page.get_by_test_id("seller-price").first).to_have_attribute("data-currency", "CNY")


def test_seller_listing_goes_live_after_an_operator_approves_it(page: Page, shop) -> None:
    # given a seller user signed in to the portal
    _sign_in(page, "seller-hoi-an-lanterns@example.com")
    page.goto("/en/seller/products/new/")

    # when they create a product with English and Spanish texts
    page.fill("input[name=name_en]", "Silk lantern")
    page.fill("textarea[name=description_en]", "Hand-made silk lantern from Hoi An.")
    page.locator("[data-tab=es]").click()
    page.fill("input[name=name_es]", "Farol de seda")
    page.fill("textarea[name=description_es]", "Farol de seda hecho a mano en Hoi An.")
    page.select_option("select[name=category]", str(shop["home"].pk))
    page.fill("input[name=hs_code]", "940550")
    page.select_option("select[name=origin_country]", "VN")
    page.get_by_test_id("save-product").click()
    expect(page.get_by_test_id("product-status")).to_have_attribute("data-status", "draft")

    # and add a variant, then submit the listing for review
    page.get_by_test_id("add-variant").click()
    page.fill("input[name=sku]", "LANTERN-RED-30")
    page.fill("textarea[name=options]", "colour=red\nsize=30 cm")
    page.fill("input[name=price]", "24.50")
    page.fill("input[name=weight_grams]", "400")
    page.get_by_test_id("save-variant").click()
    expect(page.get_by_test_id("portal-variant")).to_have_count(1)
    page.get_by_test_id("submit-for-review").click()
    expect(page.get_by_test_id("product-status")).to_have_attribute("data-status", "pending_review")

    # then it is not in the shop yet
    page.goto("/en/products/")
    expect(page.locator('[data-testid=product-card][data-slug="silk-lantern"]')).to_have_count(0)

    # when an operator approves it in admin
    page.context.clear_cookies()
    page.goto("/admin/login/?next=/admin/catalog/product/%3Fstatus__exact%3Dpending_review")
    page.fill("input[name=username]", "operator@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.locator("input[type=submit]").click()
    page.locator("#result_list input.action-select").first.check()
    page.select_option("select[name=action]", "approve_selected")
    page.locator("button[name=index]").click()
    expect(page.locator(".messagelist")).to_contain_text("1")

    # then buyers see it, in Spanish too
    page.context.clear_cookies()
    page.goto("/es/products/")
    card = page.locator('[data-testid=product-card][data-slug="silk-lantern"]')
    expect(card).to_have_count(1)
    expect(card).to_contain_text("Farol de seda")
