"""The FX refresh through the real broker: queued with ``.delay()`` into Redis, consumed by a Celery
worker this test starts (in a thread, same app and settings), never run eagerly."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from celery.app.trace import reset_worker_optimizations
from celery.contrib.testing.worker import start_worker
from celery.result import AsyncResult
from celery.signals import task_postrun, task_prerun
from django.db import connections

from marketplace.celery import Queue, app
from marketplace.models import FxRefresh, ManualRate
from marketplace.tasks import refresh_fx_rates

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

TASK = "marketplace.tasks.refresh_fx_rates"


@pytest.fixture
def real_broker() -> Iterator[None]:
    """The app as in production (not eager, root logger left alone), with an empty FX queue."""
    saved = {key: app.conf[key] for key in ("task_always_eager", "worker_hijack_root_logger")}
    app.conf.task_always_eager = False
    app.conf.worker_hijack_root_logger = False
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge(Queue.FX)
    yield
    app.conf.update(saved)
    reset_worker_optimizations(app)


@pytest.fixture
def executions() -> Iterator[list[dict[str, Any]]]:
    """Where and how each FX task ran; the worker thread's database connections close after each."""
    seen: list[dict[str, Any]] = []

    def before(sender: Any, task: Any, **kwargs: Any) -> None:
        if sender.name == TASK:
            seen.append(
                {
                    "thread": threading.get_ident(),
                    "eager": task.request.is_eager,
                    "queue": (task.request.delivery_info or {}).get("routing_key"),
                }
            )

    def after(sender: Any, **kwargs: Any) -> None:
        if sender.name == TASK:
            connections.close_all()  # else the test database cannot be flushed or dropped

    task_prerun.connect(before, weak=False)
    task_postrun.connect(after, weak=False)
    yield seen
    task_prerun.disconnect(before)
    task_postrun.disconnect(after)


def _wait_for(condition: Any, *, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_refresh_runs_on_a_worker_through_redis(
    settings: Any, real_broker: None, executions: list[dict[str, Any]]
) -> None:
    # given: offline providers, and a manual rate for what the ECB lacks
    settings.FX_PROVIDERS = ["marketplace.fx.providers.BundledEcb", "marketplace.fx.providers.Manual"]
    ManualRate.objects.create(currency="VND", units_per_eur=Decimal("29450"), source="test")
    assert not FxRefresh.objects.exists()

    # when
    with start_worker(app, pool="solo", perform_ping_check=False, queues=[Queue.FX], loglevel="WARNING"):
        result = refresh_fx_rates.delay()
        stored = _wait_for(lambda: FxRefresh.objects.filter(status=FxRefresh.Status.SUCCEEDED).exists(), seconds=30)

    # then: queued (not run in place), consumed from the FX queue in the worker's thread
    assert isinstance(result, AsyncResult)
    assert stored, "the worker stored no FX refresh within 30 s"
    assert executions == [{"thread": executions[0]["thread"], "eager": False, "queue": Queue.FX.value}]
    assert executions[0]["thread"] != threading.get_ident()
    refresh = FxRefresh.objects.get()
    assert refresh.providers == ["ecb-bundled", "manual"]
    assert refresh.rates.get(currency="VND").units_per_eur == Decimal("29450")
    assert refresh.rates.filter(provider="ecb-bundled", currency="USD").exists()
