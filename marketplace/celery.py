"""The Celery app. Tasks are thin, take ids, and are safe to run twice (STYLE.md, 16)."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

app = Celery("marketplace")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _make_filesystem_broker_folders(sender: Celery, **kwargs: object) -> None:
    """The embedded default's file-system broker needs its folders before the first message."""
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


class Queue(StrEnum):
    DEFAULT = "default"
    FX = "fx"
    LOGISTICS = "logistics"
    PAYMENTS = "payments"
    NOTIFICATIONS = "notifications"


class TransientError(Exception):
    """A failure worth retrying: a provider timed out, answered 5xx, or sent a broken reply."""


# Shared retry policy: exponential backoff with jitter, capped at 10 minutes, 8 attempts.
RETRY_TRANSIENT = dict(
    autoretry_for=(TransientError,),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=8,
    acks_late=True,
)
