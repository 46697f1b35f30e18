"""Domain errors of the orders app (STYLE.md, 5): a translated message and a stable ``code``."""

from __future__ import annotations

from django.utils.translation import gettext as _

from marketplace.errors import DomainError


class CheckoutError(DomainError):
    code = "checkout_error"


class EmptyCart(CheckoutError):
    code = "empty_cart"

    def __init__(self) -> None:
        super().__init__(_("Your cart is empty."))


class NotForSale(CheckoutError):
    code = "not_for_sale"

    def __init__(self) -> None:
        super().__init__(_("This product is not for sale."))


class QuantityNotAllowed(CheckoutError):
    code = "quantity_not_allowed"

    def __init__(self, *, maximum: int) -> None:
        super().__init__(_("Choose a quantity from 1 to %(max)s.") % {"max": maximum})


class OutOfStock(CheckoutError):
    code = "out_of_stock"

    def __init__(self, *, name: str, available: int) -> None:
        if available <= 0:
            message = _("%(name)s is out of stock.") % {"name": name}
        else:
            message = _("Only %(n)s left of %(name)s.") % {"n": available, "name": name}
        super().__init__(message)
        self.available = available


class UnsupportedDestination(CheckoutError):
    code = "unsupported_destination"

    def __init__(self, *, country: str) -> None:
        super().__init__(_("We do not deliver to %(country)s yet.") % {"country": country})


class StaleRates(CheckoutError):
    code = "stale_rates"

    def __init__(self) -> None:
        super().__init__(
            _(
                "Exchange rates are out of date, so we cannot take an order in another currency right now. "
                "Please try again later, or pay in the seller's currency."
            )
        )


class QuoteExpired(CheckoutError):
    """The quote ran out; a new one was computed and stored: the buyer must look at it first."""

    code = "quote_expired"

    def __init__(self) -> None:
        super().__init__(_("Your quote expired, so we recalculated it. Please check the new total before ordering."))


class QuoteChanged(CheckoutError):
    """The cart, prices or stock changed since the quote; a new one was stored."""

    code = "quote_changed"

    def __init__(self) -> None:
        super().__init__(_("Your cart or its prices changed since the quote. Please check the new total."))


class InvalidDeliveryChoice(CheckoutError):
    """A posted delivery option that the shipment does not offer (tampered or outdated)."""

    code = "invalid_delivery_choice"

    def __init__(self) -> None:
        super().__init__(_("This delivery option is not available for this shipment."))


class PaymentMethodNotOffered(CheckoutError):
    """A posted payment method that is not among those offered for this order (tampered or outdated)."""

    code = "payment_method_not_offered"

    def __init__(self) -> None:
        super().__init__(_("This payment method is not available for this order. Please choose another one."))


class OrderNotPayable(CheckoutError):
    code = "order_not_payable"
