"""Carriers, looked up by code from ``settings.CARRIERS`` (STYLE.md, 13).

``carriers.get("simulated")`` -> the backend instance. See ``base`` for the protocol.
"""

from __future__ import annotations

from marketplace.registry import Registry

from .base import Carrier, CarrierError, CarrierEvent, TrackingRequest, TrackingUpdate

carriers: Registry[Carrier] = Registry("CARRIERS")

__all__ = ["Carrier", "CarrierError", "CarrierEvent", "TrackingRequest", "TrackingUpdate", "carriers"]
