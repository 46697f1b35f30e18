"""Journey of issue 7: a buyer in English opens a quality thread from an order line with a photo; the
producer, in Simplified Chinese, answers and publishes a revision linked to it; the buyer sees the
answer, the unread count, and the revision on the product page."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from io import BytesIO

import pytest
from django.core.management import call_command
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect

from catalog.models import SellerMember
from marketplace.models import User
from orders.demo_threads import demo_order_line
from orders.feedback_models import FeedbackThread, ProductRevision
from tests.logistics.world import build_world, make_product

pytestmark = pytest.mark.browser
PASSWORD = "demo-pass-123"


@pytest.fixture
def shop(transactional_db: None) -> dict:
    world = build_world()
    wig = make_product(world.silk, world.category, "lace-wig")
    wig.name_zh_hans = "蕾丝假发"
    wig.save(update_fields=["name_zh_hans"])
    buyer = User.objects.create_user("buyer@example.com", PASSWORD, preferred_language="en", first_name="Ann")
    producer = User.objects.create_user("seller-silk@example.com", PASSWORD, preferred_language="zh-hans")
    SellerMember.objects.create(user=producer, seller=world.silk)
    line = demo_order_line(buyer, wig.variants.get(), number="BM-E2E-0001", warehouse=world.cn_origin)
    call_command("refresh_fx_rates", verbosity=0)
    return {"order": line.order.number}


@pytest.fixture
def chinese_page(browser: Browser, live_server: object) -> Iterator[Page]:
    context: BrowserContext = browser.new_context(
        base_url=live_server.url,  # type: ignore[attr-defined]
        locale="zh-CN",
        viewport={"width": 390, "height": 844},
    )
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def _sign_in(page: Page, email: str, lang: str) -> None:
    page.goto(f"/{lang}/accounts/login/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.wait_for_load_state()


def _shot(page: Page, name: str) -> None:
    """Like the shared ``screenshot`` fixture, for the producer's page."""
    if folder := os.environ.get("E2E_SCREENSHOTS"):
        page.screenshot(path=f"{folder}/{name}.png", full_page=True)


def _photo() -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (480, 360), "#c8b090").save(buffer, format="PNG")
    return buffer.getvalue()


def test_buyer_feedback_producer_answer_and_revision(page: Page, chinese_page: Page, shop: dict, screenshot) -> None:
    # given the buyer, in English, on their delivered order
    _sign_in(page, "buyer@example.com", "en")
    page.goto(f"/en/orders/{shop['order']}/")

    # when they give feedback on the wig line, as a quality problem, with a photo
    page.get_by_test_id("line-feedback").click()
    expect(page.get_by_test_id("verified-purchase")).to_be_visible()
    page.get_by_test_id("subject").fill("The wig sheds when wet")
    page.get_by_test_id("category").select_option("quality")
    page.get_by_test_id("message-input").fill("After swimming it lost a lot of hair. <b>Photo</b> attached.")
    page.set_input_files("input[name=photos]", files=[{"name": "wig.png", "mimeType": "image/png", "buffer": _photo()}])
    page.get_by_test_id("send-thread").click()

    # then the thread shows the message (as text) and the photo
    expect(page).to_have_url(re.compile(r"/en/messages/\d+/$"))
    expect(page.get_by_test_id("message-body").first).to_contain_text("<b>Photo</b> attached.")
    expect(page.get_by_test_id("message-photo")).to_have_count(1)
    expect(page.get_by_test_id("unread-count")).to_have_text("0")
    thread = FeedbackThread.objects.get()
    assert thread.category == "quality" and thread.verified_purchase
    screenshot("feedback-buyer-thread")

    # when the producer, in Simplified Chinese, opens the thread from the portal inbox
    seller = chinese_page
    _sign_in(seller, "seller-silk@example.com", "zh-hans")
    seller.goto("/zh-hans/seller/messages/")
    row = seller.get_by_test_id("thread")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-unread", "1")
    row.get_by_test_id("thread-link").click()
    expect(seller.get_by_test_id("message-photo")).to_have_count(1)

    # and answers in Chinese
    seller.get_by_test_id("message-input").fill("谢谢您的照片。我们将改用防水胶。")
    expect(seller.get_by_test_id("message-language")).to_have_value("zh-hans")
    seller.get_by_test_id("reply").click()
    expect(seller.get_by_test_id("message")).to_have_count(2)
    expect(seller.get_by_test_id("thread-status")).to_have_attribute("data-status", "awaiting_buyer")
    _shot(seller, "feedback-seller-thread")

    # and publishes a revision linked to the thread, in Chinese and English
    seller.get_by_test_id("publish-revision").click()
    seller.fill("input[name=summary_zh-hans]", "防水胶：发帘遇水不再松脱")
    seller.locator("details[data-lang=en] summary").click()
    seller.fill("input[name=summary_en]", "Waterproof glue: the wefts no longer loosen in water")
    expect(seller.locator(f"input[name=threads][value='{thread.pk}']")).to_be_checked()
    _shot(seller, "feedback-seller-revision-form")
    seller.get_by_test_id("publish-revision-submit").click()
    expect(seller.get_by_test_id("portal-revision")).to_have_count(1)
    assert list(ProductRevision.objects.get().threads.all()) == [thread]

    # then the buyer sees one unread message, the answer, and the revision on the product page
    page.goto("/en/")
    expect(page.get_by_test_id("unread-count")).to_have_text("1")
    page.get_by_test_id("messages-link").click()
    expect(page.get_by_test_id("thread")).to_have_attribute("data-unread", "1")
    page.get_by_test_id("thread-link").click()
    expect(page.get_by_test_id("message-body").nth(1)).to_have_text("谢谢您的照片。我们将改用防水胶。")
    expect(page.get_by_test_id("unread-count")).to_have_text("0")
    expect(page.get_by_test_id("thread-revision")).to_contain_text("Waterproof glue")
    page.goto("/en/products/lace-wig/")
    revision = page.get_by_test_id("revision")
    expect(revision).to_have_count(1)
    expect(revision).to_contain_text("Waterproof glue: the wefts no longer loosen in water")
    expect(page.get_by_test_id("ask-producer")).to_be_visible()
    screenshot("feedback-product-revision")
