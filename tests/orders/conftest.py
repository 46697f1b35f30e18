"""The orders world: the logistics test world (tests/logistics/world.py) plus a third seller in
USD, a German market (EUR, VAT 19 %, duty 5 % above EUR 150) and a US market, and buyers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from djmoney.money import Money

from catalog.models import Seller
from logistics.models import DutyRate
from marketplace.fx.services import refresh_fx_rates
from marketplace.models import ManualRate, Market
from tests.catalog.factories import UserFactory
from tests.logistics.world import FX, build_world, make_product, put

TODAY = date(2026, 11, 1)


# What the test markets offer at checkout (the demo gateway's card and wallets).
DEMO_METHODS = ["card", "alipay", "wechat_pay", "grabpay"]


def market(country: str, currency: str, vat: str, duty_dm: str, region: str = "europe") -> Market:
    return Market.objects.create(
        country=country,
        region=region,
        currency=currency,
        language="en",
        payment_methods=DEMO_METHODS,
        vat_rate=Decimal(vat),
        duty_de_minimis=Money(duty_dm, currency),
        duty_de_minimis_verified_on=TODAY,
        tax_de_minimis=Money("0", currency),
        tax_de_minimis_verified_on=TODAY,
    )


@pytest.fixture
def fx(db: None, settings: Any, django_capture_on_commit_callbacks: Any) -> None:
    settings.FX_PROVIDERS = ["marketplace.fx.providers.Manual"]
    for code, value in FX.items():
        ManualRate.objects.create(currency=code, units_per_eur=Decimal(value))
    with django_capture_on_commit_callbacks(execute=True):
        refresh_fx_rates()


@pytest.fixture
def shop(db: None, fx: None) -> dict[str, Any]:
    world = build_world()
    maple = Seller.objects.create(slug="maple", name="Maple Works", country="US", base_currency="USD")
    world.de_fra.sellers.add(maple)
    market("DE", "EUR", "19", "150")
    market("US", "USD", "0", "0", region="americas")
    DutyRate.objects.create(country="DE", hs_prefix="", rate=Decimal("5"), verified_on=TODAY)
    DutyRate.objects.create(country="US", hs_prefix="", rate=Decimal("10"), verified_on=TODAY)
    wig = make_product(world.silk, world.category, "wig").variants.get()  # CNY 100
    oil = make_product(world.olive, world.category, "oil").variants.get()  # EUR 100
    syrup = make_product(maple, world.category, "syrup").variants.get()  # USD 100
    stocks = {
        "wig": put(wig, world.de_fra, 10),
        "oil": put(oil, world.it_origin, 10),
        "syrup": put(syrup, world.de_fra, 10),
    }
    return {"world": world, "wig": wig, "oil": oil, "syrup": syrup, "stocks": stocks}


@pytest.fixture
def buyer(db: None):
    return UserFactory(email="buyer@example.com")


ADDRESS_DE = {
    "email": "buyer@example.com",
    "name": "Erika Mustermann",
    "line1": "Hauptstrasse 1",
    "line2": "",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
    "phone": "+49 30 1234567",
}
