"""Product search over the translated texts of the active language (with English fallback).

This is the portable baseline (icontains, works on SQLite). ``search_products`` is the one
entry point the views use.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet, Value
from django.utils.translation import get_language

from .models import Product

SEARCHED_FIELDS = ("name", "short_description", "description")


def _column(field: str, language: str) -> str:
    return f"{field}_{language.replace('-', '_')}"


def search_products(products: QuerySet[Product], q: str, language: str | None = None) -> QuerySet[Product]:
    language = language or get_language() or "en"
    condition = Q()
    for term in q.split():
        term_q = Q()
        for field in SEARCHED_FIELDS:
            term_q |= Q(**{f"{_column(field, language)}__icontains": term}) | Q(**{f"{field}_en__icontains": term})
        term_q |= Q(brand__icontains=term)
        condition &= term_q
    return products.filter(condition).annotate(search_rank=Value(0.0))
