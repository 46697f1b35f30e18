"""FX rates: refresh them atomically, read the current table, convert money with it.

Invariants:
- A refresh writes a *complete* new set or nothing. Every currency the current set has must be
  in the new one (a partial feed is refused), and the last good rates are never deleted.
- Rates are stored as units per 1 EUR; a cross rate A->B is ``per_eur[B] / per_eur[A]``.
- The current table is one cached object, so a page converting a hundred prices reads it once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from djmoney.contrib.exchange.backends.base import BaseExchangeBackend
from djmoney.contrib.exchange.models import ExchangeBackend, Rate
from djmoney.money import Money

from marketplace.errors import DomainError
from marketplace.models import FxRate, FxRefresh

from .providers import FxProviderError, Quote, fx_providers

logger = logging.getLogger(__name__)

BACKEND_NAME = "marketplace"  # the django-money ExchangeBackend row holding the current set
CACHE_KEY = "fx:current-table:v1"
CACHE_SECONDS = 300
RATE_QUANTUM = Decimal("0.000001")  # FxRate/Rate store 6 decimal places


class MissingRate(DomainError):
    code = "missing_rate"


class IncompleteRates(FxProviderError):
    """The providers' answers together lack currencies the current set has."""


class MarketplaceExchangeBackend(BaseExchangeBackend):
    """Names the django-money backend whose ``Rate`` rows are our current set, so that
    ``djmoney.contrib.exchange.models.convert_money`` agrees with ``convert`` below.
    Rates are written by ``refresh_fx_rates``, not by django-money's ``update_rates``."""

    name = BACKEND_NAME

    def get_rates(self, **params: object) -> dict[str, Decimal]:
        return {code: info.units_per_eur for code, info in current_rates().rates.items()}


@dataclass(frozen=True)
class RateInfo:
    units_per_eur: Decimal
    provider: str
    as_of: datetime
    offline: bool


@dataclass(frozen=True)
class RateTable:
    refresh_id: int | None
    checked_at: datetime | None
    rates: dict[str, RateInfo] = field(default_factory=dict)

    def per_eur(self, code: str) -> Decimal:
        if code == settings.BASE_CURRENCY:
            return Decimal(1)
        try:
            return self.rates[code].units_per_eur
        except KeyError:
            raise MissingRate(f"No exchange rate for {code}.") from None

    def cross_rate(self, source: str, target: str) -> Decimal:
        """Units of ``target`` per 1 unit of ``source``, through EUR."""
        if source == target:
            return Decimal(1)
        return self.per_eur(target) / self.per_eur(source)

    def as_of(self, codes: list[str] | None = None) -> datetime | None:
        """The oldest publication time among ``codes`` (all rates if None): what pages show."""
        infos = [self.rates[c] for c in (codes or self.rates) if c in self.rates]
        return min((i.as_of for i in infos), default=None)

    def age_reference(self, code: str) -> datetime | None:
        """When the figure was last known good: published (live feeds) or confirmed (offline)."""
        if code == settings.BASE_CURRENCY:
            return self.checked_at
        info = self.rates.get(code)
        if info is None:
            return None
        return self.checked_at if info.offline else info.as_of


def current_rates() -> RateTable:
    table = cache.get(CACHE_KEY)
    if table is None:
        table = _load_current_rates()
        cache.set(CACHE_KEY, table, CACHE_SECONDS)
    return table


def _load_current_rates() -> RateTable:
    refresh = FxRefresh.objects.filter(status=FxRefresh.Status.SUCCEEDED).order_by("-started_at", "-pk").first()
    if refresh is None:
        return RateTable(refresh_id=None, checked_at=None)
    rates = {
        r.currency: RateInfo(r.units_per_eur, r.provider, r.as_of, r.offline)
        for r in FxRate.objects.filter(refresh=refresh)
    }
    return RateTable(refresh_id=refresh.pk, checked_at=refresh.checked_at, rates=rates)


def rates_are_stale(codes: list[str], *, now: datetime | None = None) -> bool:
    """True when any of ``codes`` has no rate, or one older than ``FX_MAX_AGE_HOURS``.

    Checkout refuses cross-currency orders when this is true. Weekend hours (UTC Saturday and
    Sunday) do not count: currency markets are closed and the ECB publishes nothing, so Friday's
    rates are still the latest on Monday morning.
    """
    table = current_rates()
    now = now or timezone.now()
    max_age = timedelta(hours=settings.FX_MAX_AGE_HOURS)
    for code in codes:
        reference = table.age_reference(code)
        if reference is None or market_time_between(reference, now) > max_age:
            return True
    return False


def market_time_between(start: datetime, end: datetime) -> timedelta:
    """Time from ``start`` to ``end`` less the weekend hours in between (UTC days)."""
    if end <= start:
        return timedelta(0)
    total = end - start
    day = datetime.combine(start.astimezone(UTC).date(), time(0), tzinfo=UTC)
    while day < end:
        if day.weekday() >= 5:  # Saturday, Sunday
            overlap = min(end, day + timedelta(days=1)) - max(start, day)
            if overlap > timedelta(0):
                total -= overlap
        day += timedelta(days=1)
    return total


@dataclass(frozen=True)
class Conversion:
    """A conversion as it must be recorded: what, into what, at which rate, with which margin."""

    source: Money
    result: Money
    rate: Decimal
    margin_percent: Decimal
    refresh_id: int | None


def convert(
    money: Money, target: str, *, margin_percent: Decimal = Decimal(0), table: RateTable | None = None
) -> Conversion:
    """Convert ``money`` into ``target`` with the current rates plus the market's margin.

    The result is rounded to the target currency's minor unit; ``rate`` is kept unrounded.
    """
    from marketplace.money import round_money

    table = table or current_rates()
    source = money.currency.code
    if source == target:
        return Conversion(money, money, Decimal(1), Decimal(0), table.refresh_id)
    rate = table.cross_rate(source, target) * (1 + margin_percent / 100)
    return Conversion(money, round_money(Money(money.amount * rate, target)), rate, margin_percent, table.refresh_id)


def refresh_fx_rates() -> FxRefresh:
    """Fetch every configured provider and store a complete new set, or raise and store nothing.

    Per currency the first provider in ``FX_PROVIDERS`` that has it wins. A provider error
    (HTTP 5xx, timeout, malformed or partial feed) raises ``FxProviderError``: the previous
    set stays current, a failed refresh is logged, and the Celery task retries with backoff.
    Running it twice on the same data confirms the current set instead of duplicating it.
    """
    merged: dict[str, tuple[str, bool, Quote]] = {}
    used: list[str] = []
    try:
        for provider in fx_providers.all():
            answer = provider.fetch()
            if answer is None:
                continue
            used.append(answer.provider)
            for code, quote in answer.quotes.items():
                if code != settings.BASE_CURRENCY:
                    merged.setdefault(code, (answer.provider, answer.offline, quote))
        previous = _load_current_rates()  # from the database, not a possibly older cached copy
        missing = sorted(set(previous.rates) - set(merged))
        if not merged:
            raise IncompleteRates("No provider returned any rate.")
        if missing:
            raise IncompleteRates(f"The new rates lack {', '.join(missing)}; keeping the previous set.")
    except FxProviderError as exc:
        FxRefresh.objects.create(status=FxRefresh.Status.FAILED, providers=used, error=str(exc))
        logger.warning("FX refresh failed: %s", exc)
        raise
    return _store(merged, used, previous)


def _store(merged: dict[str, tuple[str, bool, Quote]], used: list[str], previous: RateTable) -> FxRefresh:
    now = timezone.now()
    merged = {  # the precision the rate columns store, so "unchanged" compares like with like
        c: (p, off, Quote(q.units_per_eur.quantize(RATE_QUANTUM), q.as_of)) for c, (p, off, q) in merged.items()
    }
    unchanged = (
        previous.refresh_id is not None
        and set(previous.rates) == set(merged)
        and all(previous.rates[c] == RateInfo(q.units_per_eur, p, q.as_of, off) for c, (p, off, q) in merged.items())
    )
    with transaction.atomic():
        if unchanged:
            refresh = FxRefresh.objects.select_for_update().get(pk=previous.refresh_id)
            refresh.checked_at = now
            refresh.save(update_fields=["checked_at"])
        else:
            refresh = FxRefresh.objects.create(
                status=FxRefresh.Status.SUCCEEDED, providers=used, rate_count=len(merged), checked_at=now
            )
            FxRate.objects.bulk_create(
                FxRate(
                    refresh=refresh,
                    currency=code,
                    units_per_eur=quote.units_per_eur,
                    provider=provider,
                    as_of=quote.as_of,
                    offline=offline,
                )
                for code, (provider, offline, quote) in sorted(merged.items())
            )
            backend, _ = ExchangeBackend.objects.update_or_create(
                name=BACKEND_NAME, defaults={"base_currency": settings.BASE_CURRENCY}
            )
            Rate.objects.bulk_create(
                [Rate(currency=c, value=q.units_per_eur, backend=backend) for c, (_p, _o, q) in merged.items()],
                update_conflicts=True,
                unique_fields=["currency", "backend"],
                update_fields=["value"],
            )
        transaction.on_commit(lambda: cache.delete(CACHE_KEY))
    return refresh
