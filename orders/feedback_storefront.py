"""The feedback threads on the storefront (``settings.STOREFRONT_PANELS``, see catalog/extensions.py):
on the product page the producer's answer record, "Ask the producer" and the "Improved after buyer
feedback" history; on the seller page the share of conversations resolved and recent revisions.

Queries: one for the revisions, and the producer's statistics from the cache (one query when cold),
whatever the number of revisions or threads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import get_language

from catalog.extensions import Panel
from catalog.models import Product, Seller

from .feedback_models import ProductRevision
from .feedback_selectors import product_revisions, response_stats, seller_recent_revisions


def revision_rows(revisions: Sequence[ProductRevision]) -> list[dict[str, Any]]:
    """Each revision's texts in the active language (then English, then any language written),
    with the language they are in, for the ``lang`` attribute."""
    language = get_language() or "en"
    rows = []
    for revision in revisions:
        summary, summary_language = revision.text("summary", language)
        body, body_language = revision.text("body", language)
        rows.append(
            {
                "revision": revision,
                "summary": summary,
                "summary_language": summary_language,
                "body": body,
                "body_language": body_language,
                "answered": getattr(revision, "answered", 0),
            }
        )
    return rows


class FeedbackPanels:
    def product_panels(self, request: HttpRequest, product: Product) -> Mapping[str, Sequence[Panel]]:
        ask_url = f"{reverse('orders:thread-create')}?{urlencode({'product': product.slug})}"
        aside = Panel(
            "orders/feedback/_product_aside.html",
            {"stats": response_stats(product.seller_id), "ask_url": ask_url, "product": product},
        )
        main = Panel(
            "orders/feedback/_revisions.html",
            {"rows": revision_rows(product_revisions(product.pk)), "with_product": False},
        )
        return {"aside": [aside], "main": [main]}

    def seller_panels(self, request: HttpRequest, seller: Seller) -> Mapping[str, Sequence[Panel]]:
        aside = Panel("orders/feedback/_seller_aside.html", {"stats": response_stats(seller.pk)})
        main = Panel(
            "orders/feedback/_revisions.html",
            {"rows": revision_rows(seller_recent_revisions(seller.pk)), "with_product": True},
        )
        return {"aside": [aside], "main": [main]}
