"""Paying on the demo gateway, in the browser: a card with a 3-D Secure challenge; a declined card
then a successful retry (one order, one captured payment); an e-wallet approved on its QR page.

The world is the orders tests' small one (a German market offering the demo card and wallets, a
wig stocked in Frankfurt); the buyer checks out to Berlin in euros.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Sum
from playwright.sync_api import Page, expect

from marketplace.fx.services import refresh_fx_rates
from marketplace.models import ManualRate, User
from orders.models import Order
from payments.demo_gateway import DemoTransaction
from payments.models import Payment
from tests.logistics.world import FX, build_world, make_product, put
from tests.orders.conftest import ADDRESS_DE, market

pytestmark = pytest.mark.browser
PASSWORD = "demo-pass-123"


@pytest.fixture
def shop(transactional_db: None, settings: Any) -> dict[str, Any]:
    settings.FX_PROVIDERS = ["marketplace.fx.providers.Manual"]
    settings.PAYMENT_METHODS = {
        "card": "payments.methods.demo.DemoCard",
        "alipay": "payments.methods.demo.DemoAlipay",
        "wechat_pay": "payments.methods.demo.DemoWeChatPay",
        "grabpay": "payments.methods.demo.DemoGrabPay",
    }
    for code, value in FX.items():
        ManualRate.objects.create(currency=code, units_per_eur=Decimal(value))
    refresh_fx_rates()
    world = build_world()
    market("DE", "EUR", "19", "150")
    wig = make_product(world.silk, world.category, "lace-wig").variants.get()  # CNY 100 = EUR 12.50
    stock = put(wig, world.de_fra, 10)
    User.objects.create_user("buyer@example.com", PASSWORD)
    return {"wig": wig, "stock": stock}


def _sign_in(page: Page) -> None:
    page.goto("/en/accounts/login/")
    page.fill("input[name=username]", "buyer@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.wait_for_load_state()


def _quote(page: Page) -> None:
    """Signed in, in euros, one wig in the cart, the address entered: the quote is on the page."""
    _sign_in(page)
    page.goto("/en/products/lace-wig/")
    page.get_by_test_id("currency-switcher").select_option("EUR")
    page.wait_for_load_state()
    page.get_by_test_id("add-to-cart").click()
    page.goto("/en/checkout/")
    for field in ("name", "line1", "city", "postal_code", "phone"):
        page.fill(f"input[name={field}]", ADDRESS_DE[field])
    page.fill("input[name=email]", ADDRESS_DE["email"])
    page.select_option("select[name=country]", "DE")
    page.get_by_test_id("get-quote").click()
    expect(page.get_by_test_id("quote-total")).to_have_attribute("data-currency", "EUR")


def _card(page: Page, number: str) -> None:
    expect(page.get_by_test_id("demo-gateway")).to_be_visible()
    page.get_by_test_id("card-number").fill(number)
    page.get_by_test_id("card-expiry").fill("12/39")
    page.get_by_test_id("card-cvc").fill("123")
    page.get_by_test_id("pay").click()


def test_card_with_a_3d_secure_challenge(page: Page, shop: dict[str, Any], screenshot: Callable[[str], None]) -> None:
    _quote(page)
    expect(page.locator('[data-testid="payment-method"][value="card"]')).to_be_checked()
    total = page.get_by_test_id("quote-total").get_attribute("data-amount")
    page.get_by_test_id("place-order").click()

    expect(page.get_by_test_id("gateway-amount")).to_have_attribute("data-amount", total or "")
    _card(page, "4000 0025 0000 3155")
    expect(page.get_by_test_id("three-d-secure")).to_contain_text("3155")
    screenshot("pay-3ds-challenge")
    page.get_by_test_id("challenge-approve").click()

    expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "confirmed")
    expect(page.get_by_test_id("payment-state")).to_have_attribute("data-state", "captured")
    expect(page.get_by_test_id("payment-captured")).to_have_attribute("data-amount", total or "")
    screenshot("pay-3ds-done")
    order = Order.objects.get()
    assert str(order.total.amount.quantize(Decimal("0.01"))) == total
    assert DemoTransaction.objects.get().card_last4 == "3155"


def test_a_declined_card_then_a_successful_retry(page: Page, shop: dict[str, Any]) -> None:
    _quote(page)
    page.get_by_test_id("place-order").click()
    _card(page, "4000 0000 0000 0002")

    expect(page.get_by_test_id("payment-state")).to_have_attribute("data-state", "failed")
    expect(page.get_by_test_id("payment-failure")).to_contain_text("Your card was declined.")
    expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "pending_payment")
    shop["stock"].refresh_from_db()
    assert shop["stock"].allocated == 1  # still reserved for the retry

    page.locator('[data-testid="payment-method"][value="card"]').check()
    page.get_by_test_id("pay-again").click()
    _card(page, "4242 4242 4242 4242")

    expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "confirmed")
    expect(page.get_by_test_id("payment-state")).to_have_attribute("data-state", "captured")
    assert Order.objects.count() == 1
    order = Order.objects.get()
    assert Payment.objects.filter(order=order, state="captured").count() == 1
    assert Payment.objects.filter(order=order).count() == 2
    assert Payment.objects.filter(state="captured").aggregate(s=Sum("captured"))["s"] == order.total.amount
    shop["stock"].refresh_from_db()
    assert shop["stock"].allocated == 1


def test_an_e_wallet_approved_on_its_qr_page(
    page: Page, shop: dict[str, Any], screenshot: Callable[[str], None]
) -> None:
    _quote(page)
    expect(page.get_by_test_id("quote-fees")).to_have_attribute("data-amount", "0.00")
    page.locator('[data-testid="payment-method"][value="alipay"]').check()  # the total is recomputed at once
    expect(page.get_by_test_id("quote-fees")).not_to_have_attribute("data-amount", "0.00")
    expect(page.locator('[data-testid="payment-method"][value="alipay"]')).to_be_checked()
    fee = Decimal(page.get_by_test_id("quote-fees").get_attribute("data-amount") or "0")
    total = page.get_by_test_id("quote-total").get_attribute("data-amount")
    page.get_by_test_id("place-order").click()

    expect(page.get_by_test_id("wallet-page")).to_have_attribute("data-method", "alipay")
    expect(page.get_by_test_id("wallet-qr").locator("svg")).to_be_visible()
    expect(page.get_by_test_id("gateway-amount")).to_have_attribute("data-amount", total or "")
    screenshot("pay-wallet-qr")
    page.get_by_test_id("wallet-approve").click()

    expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "confirmed")
    expect(page.get_by_test_id("payment-method-label")).to_have_attribute("data-method", "alipay")
    order = Order.objects.get()
    assert order.payment_fee.amount == fee > 0
    assert Payment.objects.get(order=order).captured == order.total
