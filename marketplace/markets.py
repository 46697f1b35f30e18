"""Markets, read through one cached selector so a page never queries them twice (STYLE.md, 12)."""

from __future__ import annotations

from django.core.cache import cache

from .models import Market

CACHE_KEY = "markets:by-country:v1"
CACHE_SECONDS = 3600  # cleared whenever a market is saved or deleted (marketplace.signals)


def markets_by_country() -> dict[str, Market]:
    markets = cache.get(CACHE_KEY)
    if markets is None:
        markets = {str(m.country): m for m in Market.objects.filter(active=True)}
        cache.set(CACHE_KEY, markets, CACHE_SECONDS)
    return markets


def market_for_country(country: str | None) -> Market | None:
    if not country:
        return None
    return markets_by_country().get(country.upper())


def clear_market_cache() -> None:
    cache.delete(CACHE_KEY)
