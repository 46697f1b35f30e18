"""Logistics models, one module per concern (Zulip's models package)."""

from .shipping import ShippingMethod, ShippingRate, ShippingZone
from .warehouses import Stock, StockAdjustment, Warehouse

__all__ = ["ShippingMethod", "ShippingRate", "ShippingZone", "Stock", "StockAdjustment", "Warehouse"]
