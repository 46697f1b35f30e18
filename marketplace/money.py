"""The one path money takes to a person: round to the currency's minor unit, then format with Babel.

Rounding happens here and only here (STYLE.md, 10): ROUND_HALF_UP, to each currency's own precision
(JPY and VND 0 digits, EUR 2, KWD and BHD 3).
"""

from __future__ import annotations

import functools
import unicodedata
from decimal import ROUND_HALF_UP, Decimal

from babel import Locale
from babel.numbers import NumberPattern, get_currency_precision
from django.utils.translation import get_language, to_locale
from djmoney.money import Money

ROUNDING = ROUND_HALF_UP  # a business decision, made once


@functools.lru_cache(maxsize=512)
def currency_digits(code: str) -> int:
    """The currency's minor unit as CLDR states it (JPY 0, EUR 2, KWD 3)."""
    return get_currency_precision(code)


@functools.lru_cache(maxsize=512)
def _quantum(code: str) -> Decimal:
    return Decimal(1).scaleb(-currency_digits(code))


def round_money(money: Money) -> Money:
    code = money.currency.code
    return Money(money.amount.quantize(_quantum(code), rounding=ROUNDING), code)


def amount_string(money: Money) -> str:
    """Machine-readable amount for ``data-amount``: rounded, with exactly the currency's digits."""
    return f"{round_money(money).amount:f}"


def babel_locale(language: str | None = None) -> str:
    return to_locale(language or get_language() or "en")


def format_money(money: Money, language: str | None = None) -> str:
    """``¥1,235`` in ja, ``1.234,56 €`` in de: rounded once, formatted for the active language."""
    rounded = round_money(money)
    code = rounded.currency.code
    locale, pattern, symbol = _currency_format(babel_locale(language), code)
    # What ``babel.numbers.format_currency(amount, code, locale=...)`` does with its defaults,
    # minus parsing the locale and looking up its pattern on every call.
    text = pattern.apply(
        rounded.amount,
        locale,
        currency=code,
        currency_digits=True,
        decimal_quantization=True,
        group_separator=True,
        numbering_system="latn",
    )
    return _space_currency(text, symbol)


@functools.lru_cache(maxsize=1024)
def _currency_format(locale_name: str, code: str) -> tuple[Locale, NumberPattern, str]:
    """Per process, what never changes for a (locale, currency): Babel's parsed locale, its
    standard currency pattern and the currency's symbol (``get_currency_symbol``)."""
    locale = Locale.parse(locale_name)
    return locale, locale.currency_formats["standard"], locale.currency_symbols.get(code, code)


def _space_currency(text: str, symbol: str) -> str:
    """CLDR's currency spacing, which Babel does not apply: a no-break space between a digit and a
    symbol whose facing character is not itself a symbol (``KWD 1,234.568``, but ``$1,234.50``)."""
    at = text.find(symbol) if symbol else -1
    if at < 0:
        return text
    end = at + len(symbol)
    if end < len(text) and text[end].isdigit() and unicodedata.category(symbol[-1])[0] not in "SZ":
        return f"{text[:end]}\u00a0{text[end:]}"
    if at > 0 and text[at - 1].isdigit() and unicodedata.category(symbol[0])[0] not in "SZ":
        return f"{text[:at]}\u00a0{text[at:]}"
    return text
