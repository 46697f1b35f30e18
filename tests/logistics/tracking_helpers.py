"""Helpers for the shipment and tracking tests: a warehouse, shipments shipped some hours ago,
tracking numbers whose simulated journey is known, and carriers that fail on purpose."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

from logistics.carriers import CarrierError, CarrierEvent, TrackingRequest, TrackingUpdate
from logistics.carriers.simulated import SimulatedCarrier, journey_kind
from logistics.models import Shipment, Warehouse
from logistics.shipments import create_shipment, mark_shipped


def item(description: str, hs_code: str, quantity: int, value: str, currency: str = "USD") -> dict[str, Any]:
    return {
        "description": description,
        "hs_code": hs_code,
        "origin": "CN",
        "quantity": quantity,
        "value": value,
        "currency": currency,
    }


ITEMS = [item("Human hair wig, 45 cm", "670420", 2, "60.00"), item("Silk bonnet", "650500", 1, "12.50")]


def warehouse(code: str = "cn-sz", country: str = "CN", city: str = "Shenzhen") -> Warehouse:
    return Warehouse.objects.get_or_create(
        code=code,
        defaults={"name": f"{city} warehouse", "kind": Warehouse.Kind.ORIGIN, "country": country, "city": city},
    )[0]


def number_of_kind(kind: str, prefix: str = "SIM") -> str:
    """The first tracking number PREFIX000001, ... whose simulated journey is ``kind``."""
    for i in range(1, 10_000):
        number = f"{prefix}{i:07d}"
        if journey_kind(number) == kind:
            return number
    raise AssertionError(kind)


def shipped(
    number: str,
    *,
    hours_ago: float,
    now: datetime,
    destination: str = "DE",
    origin: Warehouse | None = None,
    carrier: str = "simulated",
    order_number: str = "",
) -> Shipment:
    shipment = create_shipment(
        warehouse=origin or warehouse(),
        destination_country=destination,
        items=ITEMS,
        order_number=order_number,
        carrier=carrier,
    )
    return mark_shipped(shipment, tracking_number=number, shipped_at=now - timedelta(hours=hours_ago))


class FlakyCarrier(SimulatedCarrier):
    """Answers like the simulated carrier, except that the next ``failures`` calls fail."""

    code = "flaky"
    failures: ClassVar[int] = 0
    calls: ClassVar[int] = 0

    def track(self, requests: Sequence[TrackingRequest], *, now: datetime) -> dict[str, tuple[CarrierEvent, ...]]:
        type(self).calls += 1
        if type(self).failures > 0:
            type(self).failures -= 1
            raise CarrierError("HTTP 500")
        return super().track(requests, now=now)

    def parse_webhook(self, body: bytes) -> list[TrackingUpdate]:
        return super().parse_webhook(body)

    @classmethod
    def reset(cls, failures: int) -> None:
        cls.failures, cls.calls = failures, 0


def carriers_with_flaky(settings: Any) -> None:
    settings.CARRIERS = {**settings.CARRIERS, "flaky": "tests.logistics.tracking_helpers.FlakyCarrier"}
