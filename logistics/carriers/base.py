"""What every carrier backend is and returns (STYLE.md, 13: a Protocol and frozen dataclasses).

A carrier answers "what happened to these parcels?" (``track``, used by ``poll_tracking``) and
reads the events it pushes to ``/webhooks/carriers/<code>/`` (``parse_webhook``). It never writes:
``logistics.tracking`` stores what it returns, under a lock, idempotently by ``CarrierEvent.key``.
Any failure to get a trustworthy answer (timeout, HTTP 5xx, garbage) is a ``CarrierError``, a
``TransientError``: nothing is stored and the poll is retried with backoff.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from marketplace.celery import TransientError


class CarrierError(TransientError):
    """The carrier failed or answered something we cannot trust; try again later."""


@dataclass(frozen=True)
class TrackingRequest:
    """What a carrier may need to know about one parcel (the simulated one needs it all)."""

    shipment_id: int
    tracking_number: str
    shipped_at: datetime | None
    origin_country: str
    origin_city: str
    destination_country: str


@dataclass(frozen=True)
class CarrierEvent:
    """One checkpoint. ``status`` is a ``Shipment.Status`` value, or '' for information only."""

    key: str
    status: str
    occurred_at: datetime
    description: str = ""
    location: str = ""
    carrier_code: str = ""


@dataclass(frozen=True)
class TrackingUpdate:
    """A parcel and its events, as a webhook delivers them."""

    tracking_number: str
    events: tuple[CarrierEvent, ...]


class Carrier(Protocol):
    code: str
    name: str
    signature_header: str  # the HTTP header carrying the webhook's HMAC-SHA256
    signature_encoding: str  # "hex" or "base64"

    def is_configured(self) -> bool: ...

    def track(self, requests: Sequence[TrackingRequest], *, now: datetime) -> dict[str, tuple[CarrierEvent, ...]]:
        """Events per tracking number (unknown numbers: absent or empty). Raises ``CarrierError``."""
        ...

    def parse_webhook(self, body: bytes) -> list[TrackingUpdate]:
        """The updates a webhook body carries. Raises ``CarrierError`` on anything malformed."""
        ...


def event_key(*parts: object) -> str:
    """A stable key for a checkpoint that has no id of its own: a hash of what identifies it."""
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()[:40]


def sign(body: bytes, secret: str, *, encoding: str = "hex") -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode() if encoding == "base64" else digest.hex()


def signature_is_valid(body: bytes, signature: str, secret: str, *, encoding: str = "hex") -> bool:
    """HMAC-SHA256 of the raw body with the carrier's secret, compared in constant time."""
    if not secret or not signature:
        return False
    value = signature.strip()
    if encoding == "hex":
        value = value.lower().removeprefix("sha256=")
    return hmac.compare_digest(sign(body, secret, encoding=encoding).encode(), value.encode())
