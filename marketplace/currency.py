"""Which currency a buyer sees, and which market they are in.

Currency: their explicit choice (cookie, then the preference on their account), else the market
of their country (from their account, else the region of their ``Accept-Language``), else USD.
"""

from __future__ import annotations

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from django.conf import settings
from django.http import HttpRequest
from django.utils.translation.trans_real import parse_accept_lang_header

from .markets import market_for_country
from .models import Market

CURRENCY_COOKIE = "currency"
CURRENCY_COOKIE_AGE = 365 * 24 * 3600


def is_supported_currency(code: str) -> bool:
    return code in settings.CURRENCIES


def country_from_accept_language(header: str) -> str | None:
    """``de-AT,de;q=0.9`` -> ``AT``; ``ja`` -> ``JP`` (CLDR's likely region for the language)."""
    for tag, _q in parse_accept_lang_header(header or ""):
        if tag == "*":
            continue
        try:
            locale = Locale.parse(tag.replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            continue
        if locale.territory:
            return locale.territory
        likely = get_global("likely_subtags").get(locale.language, "")  # "ja" -> "ja_Jpan_JP"
        region = likely.split("_")[-1]
        if len(region) == 2 and region.isalpha() and region.isupper():
            return region
    return None


def buyer_country(request: HttpRequest) -> str | None:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.country:
        return str(user.country)
    return country_from_accept_language(request.headers.get("Accept-Language", ""))


def buyer_currency(request: HttpRequest, market: Market | None) -> str:
    chosen = request.COOKIES.get(CURRENCY_COOKIE, "")
    if is_supported_currency(chosen):
        return chosen
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and is_supported_currency(user.preferred_currency):
        return user.preferred_currency
    if market is not None:
        return market.currency
    return settings.DEFAULT_CURRENCY


def negotiate(request: HttpRequest) -> tuple[str | None, Market | None, str]:
    country = buyer_country(request)
    market = market_for_country(country)
    return country, market, buyer_currency(request, market)
