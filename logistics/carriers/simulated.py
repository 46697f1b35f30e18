"""The simulated carrier: deterministic tracking with no network, for the demo, tests and bench.

A parcel's journey is a function of its tracking number, where it goes and when it was shipped:
each step happens a fixed number of hours after ``shipped_at`` (``INTERNATIONAL`` through customs,
``DOMESTIC`` without), and ``track`` returns the steps whose time has come. About one parcel in
ten (by a hash of its tracking number) is held at customs for a while, one in twenty is refused
and returned. The same inputs always give the same events, keyed by step, so polling is idempotent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django_countries import countries

from . import aftership
from .base import CarrierEvent, TrackingRequest, TrackingUpdate


@dataclass(frozen=True)
class Step:
    hours: int
    status: str
    code: str
    description: str
    at_destination: bool


INTERNATIONAL = (
    Step(2, "in_transit", "PU", "Picked up by the carrier", False),
    Step(10, "in_transit", "DEP", "Departed the origin facility", False),
    Step(30, "in_transit", "ARR", "Arrived in the destination country", True),
    Step(34, "at_customs", "CUS", "Presented to customs for clearance", True),
    Step(44, "at_customs", "CLR", "Released by customs", True),
    Step(56, "out_for_delivery", "OFD", "Out for delivery", True),
    Step(62, "delivered", "DLV", "Delivered", True),
)
DOMESTIC = (
    Step(2, "in_transit", "PU", "Picked up by the carrier", False),
    Step(10, "in_transit", "HUB", "Sorted at the delivery hub", True),
    Step(20, "out_for_delivery", "OFD", "Out for delivery", True),
    Step(26, "delivered", "DLV", "Delivered", True),
)
# Held at customs: the exception replaces the release, delivery comes two days late.
CUSTOMS_HOLD = (
    Step(40, "exception", "HLD", "Held by customs: commercial invoice requested", True),
    Step(88, "at_customs", "CLR", "Released by customs", True),
    Step(100, "out_for_delivery", "OFD", "Out for delivery", True),
    Step(106, "delivered", "DLV", "Delivered", True),
)
REFUSED = (
    Step(58, "exception", "REF", "Delivery refused by the recipient", True),
    Step(120, "returned", "RTS", "Returned to sender", False),
)


def journey_kind(tracking_number: str) -> str:
    """'customs_hold' (1 in 10), 'refused' (1 in 20) or 'normal', from the number alone."""
    bucket = int.from_bytes(hashlib.sha256(tracking_number.encode()).digest()[:4], "big") % 20
    if bucket in (0, 1):
        return "customs_hold"
    if bucket == 2:
        return "refused"
    return "normal"


def journey(request: TrackingRequest) -> tuple[Step, ...]:
    """Every step of this parcel's journey, in order (future ones included)."""
    if request.origin_country == request.destination_country:
        steps = DOMESTIC
    else:
        kind = journey_kind(request.tracking_number)
        if kind == "customs_hold":
            steps = tuple(s for s in INTERNATIONAL if s.hours < 40) + CUSTOMS_HOLD
        elif kind == "refused":
            steps = tuple(s for s in INTERNATIONAL if s.hours < 58) + REFUSED
        else:
            steps = INTERNATIONAL
    return steps


class SimulatedCarrier:
    code = "simulated"
    name = "Simulated carrier"
    signature_header = "X-Carrier-Signature"
    signature_encoding = "hex"

    def is_configured(self) -> bool:
        return True

    def track(self, requests: Sequence[TrackingRequest], *, now: datetime) -> dict[str, tuple[CarrierEvent, ...]]:
        names: dict[str, str] = {}
        return {request.tracking_number: self.events(request, now=now, names=names) for request in requests}

    def events(
        self, request: TrackingRequest, *, now: datetime, names: dict[str, str] | None = None
    ) -> tuple[CarrierEvent, ...]:
        if request.shipped_at is None:
            return ()
        names = {} if names is None else names  # country names, looked up once per call

        def name(code: str) -> str:
            if code not in names:
                names[code] = str(countries.name(code) or code)
            return names[code]

        origin = f"{request.origin_city}, {name(request.origin_country)}"
        destination = name(request.destination_country)
        events = []
        for step in journey(request):
            occurred_at = request.shipped_at + timedelta(hours=step.hours)
            if occurred_at > now:
                break
            events.append(
                CarrierEvent(
                    key=f"sim-{step.code}",
                    status=step.status,
                    occurred_at=occurred_at,
                    description=step.description,
                    location=destination if step.at_destination else origin,
                    carrier_code=step.code,
                )
            )
        return tuple(events)

    def parse_webhook(self, body: bytes) -> list[TrackingUpdate]:
        """The simulated carrier pushes the same JSON shape as the tracking API (for manual tests)."""
        return aftership.parse_webhook(body)
