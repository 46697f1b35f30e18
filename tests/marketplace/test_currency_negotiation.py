"""Which currency a buyer sees, through the test client: cookie, then account preference, then the
market of their country (account, else ``Accept-Language``), else USD; and POST /currency/."""

from __future__ import annotations

from html.parser import HTMLParser
from io import StringIO

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from marketplace.currency import CURRENCY_COOKIE, CURRENCY_COOKIE_AGE
from marketplace.demo import seed
from marketplace.models import User

pytestmark = pytest.mark.django_db

SET_CURRENCY = "/currency/"


@pytest.fixture(autouse=True)
def markets() -> None:
    seed(StringIO())


@pytest.fixture
def page() -> str:
    """Any page with the site header (it carries the currency switcher)."""
    return reverse("login")


@pytest.fixture
def buyer() -> User:
    return User.objects.create_user("tomo@example.com", "pw-x7q2-long", country="JP")


class _Switcher(HTMLParser):
    """The value selected in ``<select data-testid="currency-switcher">``."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.selected: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "select":
            self.inside = found.get("data-testid") == "currency-switcher"
        elif tag == "option" and self.inside and "selected" in found:
            self.selected.append(found["value"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self.inside = False


def shown_currency(response: HttpResponse) -> str:
    """The buyer's currency as the request saw it, checked against what the switcher shows."""
    assert response.status_code == 200
    parser = _Switcher()
    parser.feed(response.content.decode())
    assert parser.selected == [response.wsgi_request.currency]  # type: ignore[attr-defined]
    return response.wsgi_request.currency  # type: ignore[attr-defined]


def form_errors(response: HttpResponse) -> list[str]:
    class Errors(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.depth = 0
            self.texts: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if dict(attrs).get("data-testid") == "form-error":
                self.depth = 1
                self.texts.append("")

        def handle_data(self, data: str) -> None:
            if self.depth:
                self.texts[-1] += data

        def handle_endtag(self, tag: str) -> None:
            self.depth = 0

    parser = Errors()
    parser.feed(response.content.decode())
    return [t.strip() for t in parser.texts]


# --- Negotiation -------------------------------------------------------------------------------


def test_a_stranger_sees_us_dollars(client: Client, page: str) -> None:
    # when
    response = client.get(page)

    # then
    assert shown_currency(response) == "USD"
    assert response.wsgi_request.market is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("accept_language", "country", "currency"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "DE", "EUR"),
        ("ja", "JP", "JPY"),  # no region: CLDR's likely region for Japanese
        ("vi", "VN", "VND"),
        ("pt-BR,pt;q=0.9", "BR", "BRL"),
        ("es-MX", "MX", "MXN"),
        ("fr-CA,fr;q=0.8", "CA", "CAD"),
        ("en-GB", "GB", "GBP"),
        ("ar-AE", "AE", "AED"),
        ("de-CH", "CH", "USD"),  # a region we have no market for
        ("*", None, "USD"),
    ],
)
def test_the_accept_language_region_picks_the_market(
    client: Client, page: str, accept_language: str, country: str | None, currency: str
) -> None:
    # when
    response = client.get(page, headers={"accept-language": accept_language})

    # then
    assert shown_currency(response) == currency
    assert response.wsgi_request.buyer_country == country  # type: ignore[attr-defined]


def test_the_country_on_the_account_beats_the_browser_language(client: Client, page: str, buyer: User) -> None:
    # given: a Japanese account browsing in German
    client.force_login(buyer)

    # when
    response = client.get(page, headers={"accept-language": "de-DE"})

    # then
    assert shown_currency(response) == "JPY"
    assert str(response.wsgi_request.market.country) == "JP"  # type: ignore[attr-defined]


def test_the_preferred_currency_on_the_account_beats_the_market(client: Client, page: str, buyer: User) -> None:
    # given
    buyer.preferred_currency = "GBP"
    buyer.save(update_fields=["preferred_currency"])
    client.force_login(buyer)

    # when / then
    assert shown_currency(client.get(page)) == "GBP"


def test_the_cookie_beats_everything_and_a_bad_cookie_is_ignored(client: Client, page: str, buyer: User) -> None:
    # given
    buyer.preferred_currency = "GBP"
    buyer.save(update_fields=["preferred_currency"])
    client.force_login(buyer)

    # when / then
    client.cookies[CURRENCY_COOKIE] = "CHF"
    assert shown_currency(client.get(page, headers={"accept-language": "de-DE"})) == "CHF"
    client.cookies[CURRENCY_COOKIE] = "XYZ"
    assert shown_currency(client.get(page)) == "GBP"


# --- POST /currency/ ---------------------------------------------------------------------------------


def test_choosing_a_currency_sets_the_cookie_and_returns_to_the_page(client: Client, page: str) -> None:
    # when
    response = client.post(SET_CURRENCY, {"currency": "jpy ", "next": "/en/products/?q=tea"})

    # then
    assert response.status_code == 302
    assert response["Location"] == "/en/products/?q=tea"
    cookie = response.cookies[CURRENCY_COOKIE]
    assert cookie.value == "JPY"
    assert cookie["max-age"] == CURRENCY_COOKIE_AGE
    assert cookie["samesite"] == "Lax"
    assert cookie["httponly"]
    assert shown_currency(client.get(page, headers={"accept-language": "de-DE"})) == "JPY"


def test_choosing_a_currency_signed_in_also_keeps_it_on_the_account(client: Client, page: str, buyer: User) -> None:
    # given
    client.force_login(buyer)
    assert buyer.preferred_currency == ""

    # when
    response = client.post(SET_CURRENCY, {"currency": "EUR", "next": page})

    # then: it follows the buyer to a fresh session without the cookie
    assert response.status_code == 302
    buyer.refresh_from_db()
    assert buyer.preferred_currency == "EUR"
    other_device = Client()
    other_device.force_login(buyer)
    assert shown_currency(other_device.get(page)) == "EUR"


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/phish", "http://testserver.evil.example/", "javascript:alert(1)"],
)
def test_an_off_site_next_is_refused(client: Client, next_url: str) -> None:
    # when
    response = client.post(SET_CURRENCY, {"currency": "EUR", "next": next_url})

    # then: the choice is kept, the redirect stays home
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert response.cookies[CURRENCY_COOKIE].value == "EUR"


def test_without_next_the_referring_page_of_this_site_is_used(client: Client) -> None:
    # when
    here = client.post(SET_CURRENCY, {"currency": "EUR"}, headers={"referer": "http://testserver/de/"})
    elsewhere = client.post(SET_CURRENCY, {"currency": "EUR"}, headers={"referer": "https://evil.example/"})

    # then
    assert here["Location"] == "http://testserver/de/"
    assert elsewhere["Location"] == "/"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("XYZ", "XYZ is not a currency we support."),
        ("", "This field is required."),
        ("usd1", "Ensure this value has at most 3 characters (it has 4)."),
        ("<b>", "<b> is not a currency we support."),
    ],
)
def test_an_invalid_currency_is_refused_and_changes_nothing(
    client: Client, page: str, buyer: User, code: str, message: str
) -> None:
    # given
    buyer.preferred_currency = "GBP"
    buyer.save(update_fields=["preferred_currency"])
    client.force_login(buyer)

    # when
    response = client.post(SET_CURRENCY, {"currency": code, "next": "/en/"})

    # then
    assert response.status_code == 400
    assert form_errors(response) == [message]
    assert CURRENCY_COOKIE not in response.cookies
    assert CURRENCY_COOKIE not in client.cookies
    buyer.refresh_from_db()
    assert buyer.preferred_currency == "GBP"
    assert shown_currency(client.get(page)) == "GBP"


def test_the_currency_endpoint_only_takes_posts(client: Client) -> None:
    # when
    response = client.get(SET_CURRENCY, {"currency": "EUR"})

    # then
    assert response.status_code == 405
    assert CURRENCY_COOKIE not in response.cookies


def test_choosing_a_currency_needs_the_csrf_token(page: str) -> None:
    # given: a browser that enforces CSRF, as real ones do
    browser = Client(enforce_csrf_checks=True)
    browser.get(page)
    token = browser.cookies["csrftoken"].value

    # when
    forged = browser.post(SET_CURRENCY, {"currency": "EUR", "next": "/en/"})
    genuine = browser.post(SET_CURRENCY, {"currency": "EUR", "next": "/en/", "csrfmiddlewaretoken": token})

    # then
    assert forged.status_code == 403
    assert CURRENCY_COOKIE not in forged.cookies
    assert genuine.status_code == 302
    assert genuine.cookies[CURRENCY_COOKIE].value == "EUR"
