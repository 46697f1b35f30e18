"""``seed_demo``: idempotent demo data, the CONTRACT's logins, and markets that obey their own rules."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from djmoney.money import Money

from marketplace.demo import DEMO_PASSWORD, seed
from marketplace.models import ManualRate, Market, User

pytestmark = pytest.mark.django_db

_TIMESTAMPS = {"created_at", "updated_at", "last_update"}


def snapshot() -> dict[str, Any]:
    """Every table's row count, and every value of the markets app's rows except timestamps."""
    counts = {model._meta.label: model._default_manager.count() for model in apps.get_models()}
    values = {
        model._meta.label: sorted(
            (
                tuple(sorted((k, str(v)) for k, v in row.items() if k not in _TIMESTAMPS))
                for row in model._default_manager.values()
            ),
        )
        for model in (Market, ManualRate, User)
    }
    return {"counts": counts, "values": values}


@pytest.fixture
def seeded() -> None:
    seed(StringIO())


def test_seeding_twice_gives_the_same_data(settings: Any) -> None:
    # given
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    first = snapshot()

    # when
    call_command("seed_demo", stdout=StringIO())

    # then
    assert snapshot() == first
    assert first["counts"]["marketplace.Market"] >= 12


def test_seeding_keeps_what_operators_changed_since(settings: Any) -> None:
    # given: an operator corrected a rate and changed their password
    settings.DEBUG = True
    call_command("seed_demo", stdout=StringIO())
    ManualRate.objects.filter(currency="VND").update(units_per_eur=Decimal("30000"), source="operator")
    operator = User.objects.get(email="operator@example.com")
    operator.set_password("a-new-operator-secret")
    operator.save(update_fields=["password"])

    # when
    call_command("seed_demo", stdout=StringIO())

    # then
    assert ManualRate.objects.get(currency="VND").units_per_eur == Decimal("30000")
    assert authenticate(username="operator@example.com", password="a-new-operator-secret") is not None


def test_seeding_refuses_with_debug_off_unless_forced(settings: Any) -> None:
    # given
    settings.DEBUG = False

    # when / then
    with pytest.raises(CommandError, match="--force"):
        call_command("seed_demo", stdout=StringIO())
    assert not Market.objects.exists()
    assert not User.objects.exists()

    call_command("seed_demo", "--force", stdout=StringIO())
    assert Market.objects.count() >= 12


def test_markets_cover_the_four_regions_and_obey_their_rules(seeded: None) -> None:
    # when
    markets = list(Market.objects.all())

    # then
    assert len(markets) >= 12
    assert {m.region for m in markets} == set(Market.Region.values)
    for market in markets:
        market.full_clean()  # raises on an invalid market
    assert {str(m.country): m.currency for m in markets if str(m.country) in {"JP", "DE", "VN", "KW"}} == {
        "JP": "JPY",
        "DE": "EUR",
        "VN": "VND",
        "KW": "KWD",
    }


def test_demo_logins_exist_and_sign_in(seeded: None, client: Client) -> None:
    # when
    operator = authenticate(username="operator@example.com", password=DEMO_PASSWORD)
    buyer = authenticate(username="buyer@example.com", password=DEMO_PASSWORD)

    # then
    assert DEMO_PASSWORD == "demo-pass-123"
    assert operator is not None and operator.is_staff and operator.is_superuser
    assert buyer is not None and not buyer.is_staff and not buyer.is_superuser
    assert authenticate(username="buyer@example.com", password="wrong-password") is None
    response = client.post(reverse("login"), {"username": "buyer@example.com", "password": DEMO_PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(buyer.pk)


# --- Market's own rules ---------------------------------------------------------------------------


def _market(**overrides: Any) -> Market:
    fields: dict[str, Any] = {
        "country": "NZ",
        "region": Market.Region.ASIA_PACIFIC,
        "currency": "NZD",
        "language": "en",
        "vat_rate": Decimal("15"),
        "duty_de_minimis": Money("1000", "NZD"),
        "duty_de_minimis_verified_on": "2025-01-01",
        "tax_de_minimis": Money("0", "NZD"),
        "tax_de_minimis_verified_on": "2025-01-01",
        "payment_methods": ["card", "demo"],
    }
    return Market(**{**fields, **overrides})


def test_a_valid_market_passes() -> None:
    # when / then: no ValidationError
    _market().full_clean()
    _market(payment_methods=["card", "cod"], cod_enabled=True, cod_max=Money("500", "NZD")).full_clean()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"payment_methods": ["card", "bitcoin", "cheque"]},
            "payment_methods",
            "Unknown payment method: bitcoin, cheque.",
        ),
        (
            {"payment_methods": ["card", "cod"], "cod_enabled": True, "cod_max": None},
            "cod_max",
            "Set the cash on delivery maximum",
        ),
        (
            {"payment_methods": ["card"], "cod_enabled": True, "cod_max": Money("500", "NZD")},
            "payment_methods",
            "Add 'cod' to the methods",
        ),
        ({"vat_rate": Decimal("120")}, "vat_rate", "less than or equal to 100"),
    ],
)
def test_an_invalid_market_is_rejected(overrides: dict[str, Any], field: str, message: str) -> None:
    # when
    with pytest.raises(ValidationError) as raised:
        _market(**overrides).full_clean()

    # then
    assert field in raised.value.message_dict
    assert any(message in m for m in raised.value.message_dict[field])


def test_the_database_refuses_cod_without_a_maximum_too() -> None:
    # when / then: even a save that skips validation
    with pytest.raises(IntegrityError), transaction.atomic():
        _market(payment_methods=["cod"], cod_enabled=True, cod_max=None).save()
