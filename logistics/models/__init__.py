"""Logistics models, one module per concern (Zulip's models package)."""

from .customs import DutyRate, DutyRateTier, MarketCustomsRule
from .shipments import Shipment, TrackingEvent
from .shipping import ShippingMethod, ShippingRate, ShippingZone
from .warehouses import Stock, StockAdjustment, Warehouse

__all__ = [
    "DutyRate",
    "DutyRateTier",
    "MarketCustomsRule",
    "Shipment",
    "ShippingMethod",
    "ShippingRate",
    "ShippingZone",
    "Stock",
    "StockAdjustment",
    "TrackingEvent",
    "Warehouse",
]
