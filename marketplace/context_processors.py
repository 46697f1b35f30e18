from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from djmoney.money import Money

from .fx.services import MissingRate, RateTable, convert, current_rates
from .models import Market


def buyer(request: HttpRequest) -> dict[str, Any]:
    """What the base layout needs on every page: the switchers' choices, the rates' date and the
    euro's rate in the buyer's currency (both lazy: only pages that show them read the rates)."""
    currency = getattr(request, "currency", settings.DEFAULT_CURRENCY)
    market = getattr(request, "market", None)
    rates = functools.cache(current_rates)  # one read of the cached table for both, not one each
    return {
        "buyer_currency": currency,
        "buyer_market": market,
        "supported_currencies": settings.CURRENCIES,
        "fx_rates_as_of": lambda: rates().as_of(),  # called only by pages that show it
        "fx_base_unit": Money(1, settings.BASE_CURRENCY),
        "fx_base_rate": lambda: base_rate_in(currency, market, table=rates()),
    }


def base_rate_in(currency: str, market: Market | None, *, table: RateTable | None = None) -> Money | None:
    """What one euro buys in ``currency`` at the rates (and market margin) display prices use.

    None when the buyer shops in euros or no rate is known for their currency: the footer then
    shows no hint rather than a wrong one.
    """
    if currency == settings.BASE_CURRENCY:
        return None
    margin = market.fx_margin if market is not None else Decimal(0)
    try:
        return convert(Money(1, settings.BASE_CURRENCY), currency, margin_percent=margin, table=table).result
    except MissingRate:
        return None
