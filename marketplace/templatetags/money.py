"""``{% money m %}``: the one way a template shows an amount (CONTRACT.md, markup hooks)."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from djmoney.money import Money

from marketplace.money import amount_string, format_money

register = template.Library()


@register.simple_tag
def money(value: Money | None, testid: str = "price", title: str = "") -> SafeString | str:
    """``<span data-testid="price" data-amount="12.50" data-currency="EUR">12,50 €</span>``."""
    if value is None:
        return ""
    title_attr = format_html(' title="{}"', title) if title else ""
    return format_html(
        '<span class="money" data-testid="{}" data-amount="{}" data-currency="{}"{}>{}</span>',
        testid,
        amount_string(value),
        value.currency.code,
        title_attr,
        format_money(value),
    )
