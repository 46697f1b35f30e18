"""Fixtures of the logistics tests; the world they build is described in ``world.py``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from marketplace.fx.services import refresh_fx_rates
from marketplace.models import ManualRate

from .world import FX, World, build_world


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def fx(db: None, settings: Any, django_capture_on_commit_callbacks: Any) -> None:
    settings.FX_PROVIDERS = ["marketplace.fx.providers.Manual"]
    for code, value in FX.items():
        ManualRate.objects.create(currency=code, units_per_eur=Decimal(value))
    with django_capture_on_commit_callbacks(execute=True):
        refresh_fx_rates()


@pytest.fixture
def world(db: None) -> World:
    return build_world()
