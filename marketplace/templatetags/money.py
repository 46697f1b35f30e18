"""``{% money m %}``: the one way a template shows an amount (CONTRACT.md, markup hooks)."""

from __future__ import annotations

import functools
from decimal import Decimal

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from djmoney.money import Money

from marketplace.money import amount_string, format_money

register = template.Library()


@register.simple_tag
def money(value: Money | None, testid: str = "price", title: str = "") -> SafeString | str:
    """``<span data-testid="price" data-amount="12.50" data-currency="EUR">12,50 €</span>``."""
    if value is None:
        return ""
    amount = value.amount
    return _money_html(amount, amount.is_signed(), value.currency.code, get_language(), str(testid), str(title))


@functools.lru_cache(maxsize=4096)
def _money_html(amount: Decimal, signed: bool, code: str, language: str | None, testid: str, title: str) -> SafeString:
    """The markup is a pure function of its arguments, and a page of cards repeats the same few
    hundred prices request after request: formatting one with Babel costs about 20 µs, a hit 1 µs.
    Equal amounts share an entry (``Decimal("5")``, ``Decimal("5.000")``: both round alike), except
    a negative zero (``signed``), which formats with its sign."""
    value = Money(amount, code)
    title_attr = format_html(' title="{}"', title) if title else ""
    return format_html(
        '<span class="money" data-testid="{}" data-amount="{}" data-currency="{}"{}>{}</span>',
        testid,
        amount_string(value),
        code,
        title_attr,
        format_money(value, language),
    )
