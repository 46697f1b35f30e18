"""Demo data for the markets app: markets, demo logins, manual rates. Idempotent."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import IO, Any

from djmoney.money import Money

from .models import ManualRate, Market, User

DEMO_PASSWORD = "demo-pass-123"

_ALL_CARDS = ["card", "demo"]

# country, region, currency, language, VAT %, duty de minimis, verified, tax de minimis, verified,
# methods, COD maximum (None: no COD). Public figures as last checked; operators keep them current.
MARKETS: list[tuple[Any, ...]] = [
    # US: the de minimis exemption was suspended for all countries on 2025-08-29; no federal VAT.
    (
        "US",
        "americas",
        "USD",
        "en",
        "0",
        Money("0", "USD"),
        date(2025, 8, 29),
        Money("0", "USD"),
        date(2025, 8, 29),
        [*_ALL_CARDS, "alipay"],
        None,
    ),
    (
        "CA",
        "americas",
        "CAD",
        "en",
        "5",
        Money("20", "CAD"),
        date(2025, 6, 1),
        Money("20", "CAD"),
        date(2025, 6, 1),
        _ALL_CARDS,
        None,
    ),
    (
        "MX",
        "americas",
        "MXN",
        "es",
        "16",
        Money("50", "USD"),
        date(2025, 1, 1),
        Money("50", "USD"),
        date(2025, 1, 1),
        [*_ALL_CARDS, "cod"],
        Money("5000", "MXN"),
    ),
    # BR: Remessa Conforme taxes imports from the first cent; ICMS 17% is the common state rate.
    (
        "BR",
        "americas",
        "BRL",
        "pt-br",
        "17",
        Money("0", "USD"),
        date(2024, 8, 1),
        Money("0", "USD"),
        date(2024, 8, 1),
        [*_ALL_CARDS, "pix"],
        None,
    ),
    # GB: no customs duty up to GBP 135; VAT collected at checkout from the first penny.
    (
        "GB",
        "europe",
        "GBP",
        "en",
        "20",
        Money("135", "GBP"),
        date(2025, 1, 1),
        Money("0", "GBP"),
        date(2025, 1, 1),
        _ALL_CARDS,
        None,
    ),
    # EU: no duty up to EUR 150 (IOSS); import VAT from the first cent since 2021-07-01.
    (
        "DE",
        "europe",
        "EUR",
        "de",
        "19",
        Money("150", "EUR"),
        date(2025, 1, 1),
        Money("0", "EUR"),
        date(2021, 7, 1),
        _ALL_CARDS,
        None,
    ),
    (
        "FR",
        "europe",
        "EUR",
        "fr",
        "20",
        Money("150", "EUR"),
        date(2025, 1, 1),
        Money("0", "EUR"),
        date(2021, 7, 1),
        _ALL_CARDS,
        None,
    ),
    (
        "ES",
        "europe",
        "EUR",
        "es",
        "21",
        Money("150", "EUR"),
        date(2025, 1, 1),
        Money("0", "EUR"),
        date(2021, 7, 1),
        _ALL_CARDS,
        None,
    ),
    # RU: VAT 22% from 2026-01-01; personal imports duty- and tax-free up to EUR 200.
    (
        "RU",
        "europe",
        "RUB",
        "ru",
        "22",
        Money("200", "EUR"),
        date(2026, 1, 1),
        Money("200", "EUR"),
        date(2026, 1, 1),
        [*_ALL_CARDS, "cod"],
        Money("100000", "RUB"),
    ),
    (
        "AE",
        "middle_east",
        "AED",
        "ar",
        "5",
        Money("1000", "AED"),
        date(2025, 3, 1),
        Money("0", "AED"),
        date(2025, 3, 1),
        [*_ALL_CARDS, "cod"],
        Money("5000", "AED"),
    ),
    (
        "SA",
        "middle_east",
        "SAR",
        "ar",
        "15",
        Money("1000", "SAR"),
        date(2025, 3, 1),
        Money("0", "SAR"),
        date(2025, 3, 1),
        [*_ALL_CARDS, "cod"],
        Money("5000", "SAR"),
    ),
    (
        "KW",
        "middle_east",
        "KWD",
        "ar",
        "0",
        Money("100", "KWD"),
        date(2025, 3, 1),
        Money("100", "KWD"),
        date(2025, 3, 1),
        [*_ALL_CARDS, "cod"],
        Money("500", "KWD"),
    ),
    # CN: postal articles with duty and tax of CNY 50 or less are exempt.
    (
        "CN",
        "asia_pacific",
        "CNY",
        "zh-hans",
        "13",
        Money("50", "CNY"),
        date(2025, 1, 1),
        Money("50", "CNY"),
        date(2025, 1, 1),
        ["alipay", "wechat_pay", "demo"],
        None,
    ),
    # JP: duty and consumption tax exempt when the taxable value is JPY 10,000 or less.
    (
        "JP",
        "asia_pacific",
        "JPY",
        "ja",
        "10",
        Money("10000", "JPY"),
        date(2025, 4, 1),
        Money("10000", "JPY"),
        date(2025, 4, 1),
        [*_ALL_CARDS, "cod"],
        Money("300000", "JPY"),
    ),
    # VN: the VND 1,000,000 exemption for express imports ended on 2025-02-18.
    (
        "VN",
        "asia_pacific",
        "VND",
        "vi",
        "10",
        Money("0", "VND"),
        date(2025, 2, 18),
        Money("0", "VND"),
        date(2025, 2, 18),
        [*_ALL_CARDS, "cod"],
        Money("20000000", "VND"),
    ),
    # SG: GST on low-value goods collected at checkout since 2023; duty only on a few goods.
    (
        "SG",
        "asia_pacific",
        "SGD",
        "en",
        "9",
        Money("400", "SGD"),
        date(2024, 1, 1),
        Money("0", "SGD"),
        date(2024, 1, 1),
        [*_ALL_CARDS, "grabpay", "alipay"],
        None,
    ),
    # AU: no duty up to AUD 1,000; GST collected at checkout for low-value imports.
    (
        "AU",
        "asia_pacific",
        "AUD",
        "en",
        "10",
        Money("1000", "AUD"),
        date(2025, 1, 1),
        Money("0", "AUD"),
        date(2018, 7, 1),
        _ALL_CARDS,
        None,
    ),
]

# Currencies the ECB does not publish. Pegged or recent market figures, units per 1 EUR.
MANUAL_RATES = {
    "AED": ("4.103000", "USD peg 3.6725 x EUR/USD"),
    "SAR": ("4.189500", "USD peg 3.75 x EUR/USD"),
    "KWD": ("0.343200", "Central Bank of Kuwait basket, recent"),
    "BHD": ("0.420100", "USD peg 0.376 x EUR/USD"),
    "RUB": ("89.400000", "Bank of Russia official rate, recent"),
    "VND": ("29450.000000", "State Bank of Vietnam central rate, recent"),
}

USERS = [
    # email, is_staff/superuser, country, language, currency
    ("operator@example.com", True, "DE", "en", ""),
    ("buyer@example.com", False, "US", "en", ""),
    ("buyer-jp@example.com", False, "JP", "ja", "JPY"),
    ("buyer-ae@example.com", False, "AE", "ar", "AED"),
    ("buyer-mx@example.com", False, "MX", "es", "MXN"),
]


# What a carrier charges for collecting cash at the door, per cash-on-delivery market (its currency).
COD_FEES = {
    "MX": Money("40", "MXN"),
    "RU": Money("150", "RUB"),
    "AE": Money("10", "AED"),
    "SA": Money("10", "SAR"),
    "KW": Money("1", "KWD"),
    "JP": Money("330", "JPY"),
    "VN": Money("30000", "VND"),
}


def seed(stdout: IO[str]) -> None:
    for country, region, currency, language, vat, duty, duty_on, tax, tax_on, methods, cod_max in MARKETS:
        Market.objects.update_or_create(
            country=country,
            defaults={
                "region": region,
                "currency": currency,
                "language": language,
                "vat_rate": Decimal(vat),
                "duty_de_minimis": duty,
                "duty_de_minimis_verified_on": duty_on,
                "tax_de_minimis": tax,
                "tax_de_minimis_verified_on": tax_on,
                "payment_methods": methods,
                "cod_enabled": cod_max is not None,
                "cod_max": cod_max,
                "cod_fee": COD_FEES.get(country) if cod_max is not None else None,
            },
        )
    for currency, (value, source) in MANUAL_RATES.items():
        # Operators may have corrected a figure since: never overwrite theirs.
        ManualRate.objects.get_or_create(
            currency=currency, defaults={"units_per_eur": Decimal(value), "source": source}
        )
    for email, operator, country, language, currency in USERS:
        user, created = User.objects.update_or_create(
            email=email,
            defaults={
                "is_staff": operator,
                "is_superuser": operator,
                "country": country,
                "preferred_language": language,
                "preferred_currency": currency,
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
    stdout.write(f"markets: {Market.objects.count()}, users: {len(USERS)}, manual rates: {len(MANUAL_RATES)}")
