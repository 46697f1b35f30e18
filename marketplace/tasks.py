from __future__ import annotations

from celery import shared_task

from .celery import RETRY_TRANSIENT, Queue
from .fx import services


@shared_task(queue=Queue.FX, **RETRY_TRANSIENT)
def refresh_fx_rates() -> int:
    """Hourly (beat). Safe to run twice: an unchanged set is only confirmed, never duplicated."""
    return services.refresh_fx_rates().pk
