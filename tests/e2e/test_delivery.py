"""Journey of issue 4: a buyer in Germany sees where a product ships from and how long it takes.

Stocked in Frankfurt: "ships from" the German warehouse, 1–3 days. Stocked only at the producer's
origin in China: an international estimate. The data is the small world of the logistics tests
(``tests/logistics/world.py``), so the journey does not depend on the demo catalogue.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import Browser, Page, expect

from tests.logistics.world import build_world, make_product, put

pytestmark = pytest.mark.browser


@pytest.fixture
def stocked(transactional_db: None) -> None:
    world = build_world()
    wig = make_product(world.silk, world.category, "frankfurt-wig").variants.get()
    put(wig, world.de_fra, 12)
    put(wig, world.cn_origin, 30)
    hat = make_product(world.silk, world.category, "origin-hat").variants.get()
    put(hat, world.cn_origin, 30)
    scarf = make_product(world.silk, world.category, "two-way-scarf", variants=2)
    near, far = scarf.variants.order_by("position")
    put(near, world.de_fra, 3)
    put(far, world.cn_origin, 8)
    call_command("refresh_fx_rates", verbosity=0)  # offline default: bundled ECB + manual rates


@pytest.fixture
def german_page(browser: Browser, live_server: object, stocked: None) -> Iterator[Page]:
    """A buyer whose browser asks for German: the marketplace places them in Germany."""
    context = browser.new_context(
        base_url=live_server.url,  # type: ignore[attr-defined]
        locale="de-DE",
        viewport={"width": 390, "height": 844},
    )
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def screenshot(german_page: Page) -> Callable[[str], None]:
    """Like the shared ``screenshot`` fixture, but of the German buyer's page."""
    folder = os.environ.get("E2E_SCREENSHOTS")

    def take(name: str) -> None:
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            german_page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)

    return take


def test_german_buyer_sees_the_frankfurt_warehouse_and_1_to_3_days(
    german_page: Page, screenshot: Callable[[str], None]
) -> None:
    page = german_page
    page.goto("/de/products/frankfurt-wig/")
    ships_from = page.get_by_test_id("ships-from")
    expect(ships_from).to_be_visible()
    expect(ships_from).to_contain_text("Frankfurt")
    estimate = page.get_by_test_id("delivery-estimate")
    expect(estimate).to_have_attribute("data-scope", "local")
    expect(estimate).to_have_attribute("data-days-min", "1")
    expect(estimate).to_have_attribute("data-days-max", "3")
    expect(estimate).to_contain_text("1–3")
    expect(page.get_by_test_id("stock-status")).to_have_attribute("data-status", "in_stock")
    screenshot("de-delivery-local")


def test_product_stocked_only_at_origin_gets_an_international_estimate(
    german_page: Page, screenshot: Callable[[str], None]
) -> None:
    page = german_page
    page.goto("/de/products/origin-hat/")
    expect(page.get_by_test_id("ships-from")).to_contain_text("Guangzhou")
    estimate = page.get_by_test_id("delivery-estimate")
    expect(estimate).to_have_attribute("data-scope", "international")
    expect(estimate).to_have_attribute("data-days-min", "12")
    expect(estimate).to_have_attribute("data-days-max", "22")
    expect(estimate).to_contain_text("12–22")
    screenshot("de-delivery-international")


def test_choosing_another_variant_updates_where_it_ships_from(german_page: Page) -> None:
    page = german_page
    page.goto("/de/products/two-way-scarf/")
    expect(page.get_by_test_id("ships-from")).to_contain_text("Frankfurt")
    expect(page.get_by_test_id("stock-status")).to_have_attribute("data-status", "low_stock")
    page.get_by_test_id("variant-select").select_option(index=1)
    expect(page.get_by_test_id("ships-from")).to_contain_text("Guangzhou")
    expect(page.get_by_test_id("delivery-estimate")).to_have_attribute("data-scope", "international")
    expect(page.get_by_test_id("stock-status")).to_have_attribute("data-status", "in_stock")


def test_local_stock_filter_and_badge(german_page: Page) -> None:
    page = german_page
    page.goto("/de/products/")
    expect(page.get_by_test_id("product-card")).to_have_count(3)
    page.get_by_test_id("local-stock-filter").check()
    page.get_by_test_id("apply-filters").click()
    page.wait_for_url(re.compile(r"local_stock=1"))
    cards = page.get_by_test_id("product-card")
    expect(cards).to_have_count(2)  # the wig, and the scarf's Frankfurt variant
    expect(page.locator('[data-slug="origin-hat"]')).to_have_count(0)
    expect(cards.first.get_by_test_id("local-stock")).to_be_visible()
