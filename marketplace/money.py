"""The one path money takes to a person: round to the currency's minor unit, then format with Babel.

Rounding happens here and only here (STYLE.md, 10): ROUND_HALF_UP, to each currency's own precision
(JPY and VND 0 digits, EUR 2, KWD and BHD 3).
"""

from __future__ import annotations

import unicodedata
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_currency, get_currency_precision, get_currency_symbol
from django.utils.translation import get_language, to_locale
from djmoney.money import Money

ROUNDING = ROUND_HALF_UP  # a business decision, made once


def currency_digits(code: str) -> int:
    """The currency's minor unit as CLDR states it (JPY 0, EUR 2, KWD 3)."""
    return get_currency_precision(code)


def round_money(money: Money) -> Money:
    code = money.currency.code
    quantum = Decimal(1).scaleb(-currency_digits(code))
    return Money(money.amount.quantize(quantum, rounding=ROUNDING), code)


def amount_string(money: Money) -> str:
    """Machine-readable amount for ``data-amount``: rounded, with exactly the currency's digits."""
    return f"{round_money(money).amount:f}"


def babel_locale(language: str | None = None) -> str:
    return to_locale(language or get_language() or "en")


def format_money(money: Money, language: str | None = None) -> str:
    """``¥1,235`` in ja, ``1.234,56 €`` in de: rounded once, formatted for the active language."""
    rounded = round_money(money)
    locale = babel_locale(language)
    text = format_currency(rounded.amount, rounded.currency.code, locale=locale)
    return _space_currency(text, get_currency_symbol(rounded.currency.code, locale))


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
