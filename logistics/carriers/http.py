"""A real tracking-API client: the AfterShip Tracking API (or any service speaking its shape).

``GET {TRACKING_API_URL}/trackings?tracking_numbers=A,B,...`` (at most 50 numbers a request),
authenticated with the ``as-api-key`` header, answered as ``logistics.carriers.aftership``
describes. The parcels must have been registered with the service (``POST /trackings``) when they
were handed over; a number it does not know is simply absent from the answer.

Plain ``urllib`` with a timeout: every network failure, HTTP error (4xx included: a bad key will
not fix itself, but neither must it lose events; the poll backs off) and malformed answer is a
``CarrierError``, which leaves the shipments untouched and makes the task retry with backoff.
The key never appears in errors (they are logged and shown in admin).
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from datetime import datetime

from django.conf import settings

from . import aftership
from .base import CarrierError, CarrierEvent, TrackingRequest, TrackingUpdate

MAX_NUMBERS_PER_REQUEST = 50  # the API's limit for the tracking_numbers filter


class HttpTrackingCarrier:
    code = "trackapi"
    name = "Tracking API (AfterShip-compatible)"
    signature_header = "aftership-hmac-sha256"
    signature_encoding = "base64"

    def is_configured(self) -> bool:
        return bool(settings.TRACKING_API_KEY and settings.TRACKING_API_URL)

    def track(self, requests: Sequence[TrackingRequest], *, now: datetime) -> dict[str, tuple[CarrierEvent, ...]]:
        if not self.is_configured():
            raise CarrierError("TRACKING_API_KEY is not set")
        numbers = sorted({request.tracking_number for request in requests})
        answers: dict[str, tuple[CarrierEvent, ...]] = {}
        for start in range(0, len(numbers), MAX_NUMBERS_PER_REQUEST):
            chunk = numbers[start : start + MAX_NUMBERS_PER_REQUEST]
            query = urllib.parse.urlencode({"tracking_numbers": ",".join(chunk), "limit": 200})
            answers.update(aftership.parse_trackings_response(self._get(f"/trackings?{query}")))
        return answers

    def parse_webhook(self, body: bytes) -> list[TrackingUpdate]:
        return aftership.parse_webhook(body)

    def _get(self, path: str) -> bytes:
        base = settings.TRACKING_API_URL.rstrip("/")
        if not base.startswith(("https://", "http://")):
            raise CarrierError(f"TRACKING_API_URL {base!r} is not an http(s) URL")
        where = f"{base}{path.split('?', 1)[0]}"
        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            f"{base}{path}",
            headers={
                "as-api-key": settings.TRACKING_API_KEY,
                "Accept": "application/json",
                "User-Agent": "marketplace-tracking/1.0",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=settings.TRACKING_HTTP_TIMEOUT) as response:  # noqa: S310
                return response.read()
        except urllib.error.HTTPError as exc:
            raise CarrierError(f"{where} answered HTTP {exc.code}") from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as exc:
            raise CarrierError(f"{where} could not be reached: {exc}") from exc
