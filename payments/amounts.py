"""Amounts to and from a provider's integer minor units: the one place this conversion happens.

ISO 4217 / CLDR digits decide the default (EUR 2, JPY 0, KWD 3). Stripe deviates for a few
currencies (https://docs.stripe.com/currencies): its zero-decimal list, three-decimal currencies
that must be sent as multiples of ten, and ISK, sent with two (zero) decimals. An amount that
the provider cannot represent exactly raises ``InvalidAmount`` instead of being rounded silently:
what is charged is always exactly the order's total.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext as _
from djmoney.money import Money

from marketplace.money import currency_digits

from .exceptions import InvalidAmount

STRIPE_ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
STRIPE_THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})  # last digit must be 0
STRIPE_TWO_DECIMAL_ZERO_CENTS = frozenset({"ISK"})  # two decimals, always ",00"


def provider_digits(currency: str, provider: str = "") -> int:
    """How many decimals the provider's integer amount carries for ``currency``."""
    if provider == "stripe":
        if currency in STRIPE_ZERO_DECIMAL:
            return 0
        if currency in STRIPE_THREE_DECIMAL:
            return 3
        return 2
    return currency_digits(currency)


def charge_quantum(currency: str, provider: str = "") -> Decimal:
    """The smallest step an amount charged through ``provider`` can take (KWD on Stripe: 0.010)."""
    if provider == "stripe" and currency in STRIPE_THREE_DECIMAL:
        return Decimal("0.010")
    if provider == "stripe" and currency in STRIPE_TWO_DECIMAL_ZERO_CENTS:
        return Decimal("1")
    return Decimal(1).scaleb(-min(provider_digits(currency, provider), currency_digits(currency)))


def to_minor_units(money: Money, provider: str = "") -> int:
    """``Money("12.34", "EUR")`` -> 1234; ``Money(1235, "JPY")`` -> 1235; ``Money("1.230", "KWD")`` -> 1230."""
    currency = money.currency.code
    amount = Decimal(money.amount)
    quantum = charge_quantum(currency, provider)
    if amount % quantum != 0:
        raise InvalidAmount(
            _("%(amount)s %(currency)s cannot be charged exactly (steps of %(step)s).")
            % {"amount": amount, "currency": currency, "step": quantum}
        )
    return int(amount.scaleb(provider_digits(currency, provider)))


def from_minor_units(units: int, currency: str, provider: str = "") -> Money:
    return Money(Decimal(int(units)).scaleb(-provider_digits(currency, provider)), currency)
