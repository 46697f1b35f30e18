"""Payment methods named in ``settings.PAYMENT_METHODS`` (code -> dotted path)."""

from __future__ import annotations

from marketplace.registry import Registry

from .base import PaymentContext, PaymentMethod
from .exceptions import UnknownMethod

payment_methods: Registry[PaymentMethod] = Registry("PAYMENT_METHODS")


def get_method(code: str) -> PaymentMethod:
    try:
        return payment_methods.get(code)
    except KeyError:
        raise UnknownMethod(code) from None


def available_methods(ctx: PaymentContext) -> list[PaymentMethod]:
    """The methods checkout may offer for ``ctx``, in the order of the setting."""
    return [method for method in payment_methods.all() if method.unavailable_reason(ctx) is None]
