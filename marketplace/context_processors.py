from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from .fx.services import current_rates


def buyer(request: HttpRequest) -> dict[str, Any]:
    """What the base layout needs on every page: the switchers' choices and the rates' date."""
    return {
        "buyer_currency": getattr(request, "currency", settings.DEFAULT_CURRENCY),
        "buyer_market": getattr(request, "market", None),
        "supported_currencies": settings.CURRENCIES,
        "fx_rates_as_of": lambda: current_rates().as_of(),  # called only by pages that show it
    }
