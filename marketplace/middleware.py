from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .currency import negotiate


class BuyerContextMiddleware:
    """Puts ``buyer_country``, ``market`` and ``currency`` on every request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.buyer_country, request.market, request.currency = negotiate(request)  # type: ignore[attr-defined]
        return self.get_response(request)
