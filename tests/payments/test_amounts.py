from __future__ import annotations

from decimal import Decimal

import pytest
from djmoney.money import Money

from marketplace.models import CURRENCY_CHOICES
from marketplace.money import currency_digits, round_money
from payments.amounts import charge_quantum, from_minor_units, to_minor_units
from payments.exceptions import InvalidAmount

CODES = [code for code, _ in CURRENCY_CHOICES]


@pytest.mark.parametrize("code", CODES)
@pytest.mark.parametrize("provider", ["", "stripe"])
def test_every_supported_currency_round_trips_exactly(code, provider):
    quantum = charge_quantum(code, provider)
    for raw in ("0.5", "1", "12.34", "999.999", "123456.78"):
        amount = round_money(Money(Decimal(raw), code)).amount
        amount = (amount / quantum).to_integral_value() * quantum  # a total checkout made chargeable
        money = Money(amount, code)
        units = to_minor_units(money, provider)
        assert isinstance(units, int)
        assert from_minor_units(units, code, provider) == money


@pytest.mark.parametrize(
    "money, provider, units",
    [
        (Money("12.34", "EUR"), "stripe", 1234),
        (Money("1235", "JPY"), "stripe", 1235),
        (Money("1235", "KRW"), "stripe", 1235),
        (Money("50000", "VND"), "stripe", 50000),
        (Money("1.230", "KWD"), "stripe", 1230),
        (Money("1.235", "KWD"), "", 1235),
        (Money("7.5", "BHD"), "stripe", 7500),
        (Money("100", "ISK"), "stripe", 10000),
        (Money("100", "ISK"), "", 100),
    ],
)
def test_known_units(money, provider, units):
    assert to_minor_units(money, provider) == units


@pytest.mark.parametrize(
    "money, provider",
    [(Money("1.235", "KWD"), "stripe"), (Money("12.345", "EUR"), "stripe"), (Money("10.5", "JPY"), "")],
)
def test_amounts_the_provider_cannot_represent_are_refused(money, provider):
    with pytest.raises(InvalidAmount):
        to_minor_units(money, provider)


def test_cldr_digits_drive_the_default():
    assert (currency_digits("JPY"), currency_digits("EUR"), currency_digits("KWD")) == (0, 2, 3)
