"""The header's switchers, ``{% language_options %}`` and ``{% currency_options code %}``.

Every page renders both lists (10 languages, 35 currencies). As template loops they cost about
half of the base layout's rendering; their markup depends only on settings and on the selected
entry, so it is built once per process and selected entry.
"""

from __future__ import annotations

import functools

from django import template
from django.conf import settings
from django.utils.html import format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import get_language, get_language_info

register = template.Library()


@register.simple_tag
def language_options() -> SafeString:
    """``<option value="de" lang="de" selected>Deutsch</option>`` per language of ``LANGUAGES``,
    the active one selected, each named in its own language."""
    return _language_options(tuple(code for code, _name in settings.LANGUAGES), get_language())


@register.simple_tag
def currency_options(selected: str) -> SafeString:
    """``<option value="JPY" selected>JPY</option>`` per currency of ``CURRENCIES``."""
    return _currency_options(tuple(settings.CURRENCIES), selected)


@functools.lru_cache(maxsize=256)
def _language_options(codes: tuple[str, ...], active: str | None) -> SafeString:
    return format_html_join(
        "",
        '<option value="{}" lang="{}"{}>{}</option>',
        ((code, code, _selected(code == active), get_language_info(code)["name_local"]) for code in codes),
    )


@functools.lru_cache(maxsize=256)
def _currency_options(codes: tuple[str, ...], selected: str) -> SafeString:
    return format_html_join(
        "", '<option value="{}"{}>{}</option>', ((code, _selected(code == selected), code) for code in codes)
    )


def _selected(yes: bool) -> SafeString:
    return SafeString(" selected" if yes else "")
