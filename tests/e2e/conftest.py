"""Browser journeys: Playwright's sync API driving Debian's Chromium against pytest-django's live server.

Never downloads a browser: Chromium is the system one (``CHROMIUM``, default /usr/bin/chromium);
tests/conftest.py skips ``browser`` tests without it, or fails them with REQUIRE_SERVICES=1.
Set ``E2E_SCREENSHOTS=<dir>`` to keep a screenshot of the pages the journeys check.
"""

from __future__ import annotations

import os

# Playwright's sync API runs an event loop in this thread; Django's ORM would refuse to run in it.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.catalogues import compile_stale_catalogues
from tests.conftest import CHROMIUM

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    compile_stale_catalogues()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Browser, live_server: object) -> Iterator[BrowserContext]:
    """A fresh profile per test (no cookies), an English-speaking buyer on a phone-sized screen."""
    context = browser.new_context(
        base_url=live_server.url,  # type: ignore[attr-defined]
        locale="en-US",
        viewport={"width": 390, "height": 844},
    )
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def demo_data(transactional_db: None) -> None:
    """The demo data of ``make run``; live_server's database is emptied after each test."""
    call_command("seed_demo", force=True, verbosity=0)  # pytest-django turns DEBUG off
    call_command("refresh_fx_rates", verbosity=0)  # offline default: bundled ECB + manual rates


@pytest.fixture
def screenshot(page: Page) -> Callable[[str], None]:
    """``screenshot("ar-home")`` keeps a full-page screenshot when E2E_SCREENSHOTS is set."""
    folder = os.environ.get("E2E_SCREENSHOTS")

    def take(name: str) -> None:
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)

    return take
