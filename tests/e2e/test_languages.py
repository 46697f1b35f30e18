"""Journeys of issue 2: Arabic reads right to left; a language and currency chosen once stay chosen."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from babel.numbers import format_currency
from django.utils import translation
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("demo_data")]


def translated(text: str, language: str) -> str:
    with translation.override(language):
        return translation.gettext(text)


def test_arabic_home_page_is_right_to_left(page: Page, screenshot: Callable[[str], None]) -> None:
    # when
    page.goto("/ar/")
    # then
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "ar")
    expect(html).to_have_attribute("dir", "rtl")
    assert translated("Sign in", "ar") == "تسجيل الدخول"  # the catalogue, not an English fallback
    expect(page.get_by_role("link", name="تسجيل الدخول")).to_be_visible()
    expect(page.locator(".site-header .logo")).to_contain_text("السوق بلا حدود")
    # the header is mirrored: the logo sits at the right edge, the account links to its left
    logo, account = (
        page.locator(".site-header .logo").bounding_box(),
        page.locator(".site-header .account").bounding_box(),
    )
    viewport = page.viewport_size
    assert logo and account and viewport
    assert logo["x"] + logo["width"] > viewport["width"] - 40
    screenshot("ar-home")


def test_japanese_and_yen_are_kept_across_pages(page: Page, screenshot: Callable[[str], None]) -> None:
    # given: an English-speaking buyer in the US
    page.goto("/en/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_test_id("currency-switcher")).to_have_value("USD")
    # when: they pick Japanese, then yen
    page.get_by_test_id("language-switcher").select_option("ja")
    page.wait_for_url(re.compile(r"/ja/$"))
    page.get_by_test_id("currency-switcher").select_option("JPY")
    page.wait_for_url(re.compile(r"/ja/$"))
    page.wait_for_load_state()
    # ... and go to another page
    page.get_by_role("link", name=translated("Sign in", "ja")).click()
    page.wait_for_url(re.compile(r"/ja/accounts/login/$"))
    # then
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.get_by_test_id("currency-switcher")).to_have_value("JPY")
    expect(page.get_by_role("heading", level=1)).to_have_text("ログイン")
    rate = page.get_by_test_id("fx-rate")
    expect(rate).to_have_attribute("data-currency", "JPY")
    text, amount = rate.inner_text(), rate.get_attribute("data-amount")
    assert amount and re.fullmatch(r"\d+", amount), amount  # yen have no minor unit
    assert text == format_currency(Decimal(amount), "JPY", locale="ja")  # "￥176"
    assert text.startswith("￥") and "." not in text
    screenshot("ja-login")
