"""Django admin for operators: users, markets, rates (history read-only, manual rates editable),
periodic tasks. Signed in with the demo operator login, as an operator would."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from djmoney.contrib.exchange.models import Rate

from marketplace.demo import DEMO_PASSWORD, seed
from marketplace.fx.services import refresh_fx_rates
from marketplace.models import FxRate, FxRefresh, ManualRate, Market, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo() -> None:
    seed(StringIO())


@pytest.fixture
def fx_history(demo: None, settings: Any) -> FxRefresh:
    """One stored set of rates, from the demo's manual rates (no network)."""
    settings.FX_PROVIDERS = ["marketplace.fx.providers.Manual"]
    return refresh_fx_rates()


@pytest.fixture
def operator(demo: None, client: Client) -> Client:
    assert client.login(username="operator@example.com", password=DEMO_PASSWORD)
    return client


@pytest.fixture
def beat_task() -> PeriodicTask:
    schedule = CrontabSchedule.objects.create(minute="5", hour="*")
    return PeriodicTask.objects.create(
        name="refresh-fx-rates", task="marketplace.tasks.refresh_fx_rates", crontab=schedule
    )


def _pages(fx_history: FxRefresh, beat_task: PeriodicTask) -> list[str]:
    user = User.objects.get(email="buyer@example.com")
    market = Market.objects.get(country="JP")
    manual = ManualRate.objects.get(currency="VND")
    fx_rate = fx_history.rates.get(currency="VND")
    current = Rate.objects.get(currency="VND")
    return [
        reverse("admin:index"),
        reverse("admin:marketplace_user_changelist"),
        reverse("admin:marketplace_user_add"),
        reverse("admin:marketplace_user_change", args=[user.pk]),
        reverse("admin:marketplace_market_changelist"),
        reverse("admin:marketplace_market_add"),
        reverse("admin:marketplace_market_change", args=[market.pk]),
        reverse("admin:marketplace_manualrate_changelist"),
        reverse("admin:marketplace_manualrate_add"),
        reverse("admin:marketplace_manualrate_change", args=[manual.pk]),
        reverse("admin:marketplace_fxrefresh_changelist"),
        reverse("admin:marketplace_fxrefresh_change", args=[fx_history.pk]),
        reverse("admin:marketplace_fxrate_changelist"),
        reverse("admin:marketplace_fxrate_change", args=[fx_rate.pk]),
        reverse("admin:exchange_rate_changelist"),
        reverse("admin:exchange_rate_change", args=[current.pk]),
        reverse("admin:django_celery_beat_periodictask_changelist"),
        reverse("admin:django_celery_beat_periodictask_add"),
        reverse("admin:django_celery_beat_periodictask_change", args=[beat_task.pk]),
        reverse("admin:django_celery_beat_crontabschedule_changelist"),
    ]


def test_the_operator_can_open_every_admin_page(
    operator: Client, fx_history: FxRefresh, beat_task: PeriodicTask
) -> None:
    # when
    statuses = {url: operator.get(url).status_code for url in _pages(fx_history, beat_task)}

    # then
    assert statuses == dict.fromkeys(statuses, 200)


def test_a_buyer_is_sent_to_the_admin_login(client: Client, fx_history: FxRefresh, beat_task: PeriodicTask) -> None:
    # given
    assert client.login(username="buyer@example.com", password=DEMO_PASSWORD)

    # when
    responses = {url: client.get(url) for url in _pages(fx_history, beat_task)}

    # then
    login = reverse("admin:login")
    assert {url: (r.status_code, r["Location"]) for url, r in responses.items()} == {
        url: (302, f"{login}?next={url}") for url in responses
    }


@pytest.mark.parametrize("model", ["marketplace_fxrefresh", "marketplace_fxrate", "exchange_rate"])
def test_rate_history_and_current_rates_are_read_only(operator: Client, fx_history: FxRefresh, model: str) -> None:
    # given
    row = {
        "marketplace_fxrefresh": fx_history,
        "marketplace_fxrate": fx_history.rates.get(currency="VND"),
        "exchange_rate": Rate.objects.get(currency="VND"),
    }[model]
    before = (FxRefresh.objects.count(), FxRate.objects.count(), Rate.objects.count())
    vnd_rate = FxRate.objects.get(currency="VND").units_per_eur

    # when
    add = operator.post(reverse(f"admin:{model}_add"), {"currency": "VND", "units_per_eur": "1", "value": "1"})
    change = operator.post(
        reverse(f"admin:{model}_change", args=[row.pk]), {"currency": "VND", "units_per_eur": "1", "value": "1"}
    )
    delete = operator.post(reverse(f"admin:{model}_delete", args=[row.pk]), {"post": "yes"})
    viewed = operator.get(reverse(f"admin:{model}_change", args=[row.pk]))

    # then
    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert viewed.status_code == 200
    assert (FxRefresh.objects.count(), FxRate.objects.count(), Rate.objects.count()) == before
    assert FxRate.objects.get(currency="VND").units_per_eur == vnd_rate


def test_manual_rates_are_editable_and_record_who_entered_them(operator: Client) -> None:
    # given
    me = User.objects.get(email="operator@example.com")
    vnd = ManualRate.objects.get(currency="VND")
    assert vnd.entered_by is None

    # when
    added = operator.post(
        reverse("admin:marketplace_manualrate_add"),
        {"currency": "NZD", "units_per_eur": "1.812300", "source": "RBNZ, by hand"},
    )
    changed = operator.post(
        reverse("admin:marketplace_manualrate_change", args=[vnd.pk]),
        {"currency": "VND", "units_per_eur": "29999", "source": "SBV central rate"},
    )

    # then
    assert (added.status_code, changed.status_code) == (302, 302)
    nzd = ManualRate.objects.get(currency="NZD")
    assert (nzd.units_per_eur, nzd.source, nzd.entered_by) == (Decimal("1.8123"), "RBNZ, by hand", me)
    vnd.refresh_from_db()
    assert (vnd.units_per_eur, vnd.entered_by) == (Decimal("29999"), me)


def test_a_manual_rate_must_be_positive(operator: Client) -> None:
    # when
    response = operator.post(
        reverse("admin:marketplace_manualrate_add"), {"currency": "NZD", "units_per_eur": "0", "source": ""}
    )

    # then
    assert response.status_code == 200  # the form again, with its error
    assert response.context["adminform"].form.errors["units_per_eur"]
    assert not ManualRate.objects.filter(currency="NZD").exists()
