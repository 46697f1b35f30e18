"""Domain errors of the logistics app (STYLE.md, 5): a translated message and a stable ``code``."""

from __future__ import annotations

from django.utils.translation import gettext as _

from marketplace.errors import DomainError


class InvalidStockChange(DomainError):
    """A stock change the rules refuse; nothing was written."""

    code = "invalid_stock_change"


class NegativeStock(InvalidStockChange):
    code = "negative_stock"

    def __init__(self, *, sku: str, warehouse: str, on_hand: int, change: int) -> None:
        super().__init__(
            _("Stock cannot go below zero: %(warehouse)s has %(on_hand)s of %(sku)s, the change was %(change)s.")
            % {"warehouse": warehouse, "on_hand": on_hand, "sku": sku, "change": f"{change:+d}"}
        )


class StockAllocated(InvalidStockChange):
    code = "stock_allocated"

    def __init__(self, *, sku: str, warehouse: str, allocated: int) -> None:
        super().__init__(
            _("%(allocated)s units of %(sku)s at %(warehouse)s are allocated to orders: on hand cannot go below that.")
            % {"allocated": allocated, "sku": sku, "warehouse": warehouse}
        )


class WarehouseNotAllowed(InvalidStockChange):
    code = "warehouse_not_allowed"

    def __init__(self, *, warehouse: str) -> None:
        super().__init__(_("You may not keep stock in %(warehouse)s.") % {"warehouse": warehouse})


# --- Customs and landed cost -----------------------------------------------------------------


class LandedCostUnavailable(DomainError):
    """The rules needed to price this parcel's import are missing; operators must add them."""

    code = "landed_cost_unavailable"


class UnknownDestination(LandedCostUnavailable):
    code = "unknown_destination"

    def __init__(self, *, country: str) -> None:
        super().__init__(_("We do not ship to %(country)s yet.") % {"country": country})


class MissingDutyRate(LandedCostUnavailable):
    code = "missing_duty_rate"

    def __init__(self, *, country: str, hs_code: str) -> None:
        super().__init__(
            _("No duty rate for HS %(hs_code)s into %(country)s: add the destination's default rate.")
            % {"hs_code": hs_code, "country": country}
        )


class NoShippingOption(LandedCostUnavailable):
    code = "no_shipping_option"

    def __init__(self, *, warehouse: str) -> None:
        super().__init__(_("No shipping rate covers this parcel from %(warehouse)s.") % {"warehouse": warehouse})


# --- Shipments and tracking ------------------------------------------------------------------


class ShipmentError(DomainError):
    code = "shipment_error"


class InvalidShipmentTransition(ShipmentError):
    code = "invalid_shipment_transition"

    def __init__(self, *, current: str, target: str) -> None:
        super().__init__(
            _("A shipment that is %(current)s cannot become %(target)s.") % {"current": current, "target": target}
        )


class InvalidTrackingNumber(ShipmentError):
    code = "invalid_tracking_number"


class TrackingNumberTaken(ShipmentError):
    code = "tracking_number_taken"

    def __init__(self, *, tracking_number: str) -> None:
        super().__init__(
            _("Tracking number %(number)s is already used by another shipment.") % {"number": tracking_number}
        )


class InvalidCustomsDeclaration(ShipmentError):
    code = "invalid_customs_declaration"


class UnknownCarrier(ShipmentError):
    code = "unknown_carrier"

    def __init__(self, *, carrier: str) -> None:
        super().__init__(_("%(carrier)s is not a configured carrier.") % {"carrier": carrier})
