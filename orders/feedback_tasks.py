"""Celery tasks of the feedback threads: thin, take ids, safe to run twice (STYLE.md, 16).
Registered through ``orders/tasks.py`` (Celery autodiscovers ``<app>.tasks``); beat entries in
``settings.CELERY_BEAT_SCHEDULE``."""

from __future__ import annotations

from celery import shared_task

from marketplace.celery import Queue


@shared_task(queue=Queue.NOTIFICATIONS, ignore_result=True)
def send_message_digests() -> int:
    """Every minute (beat): queue one e-mail per inbox whose burst of new messages fell due."""
    from .feedback_notify import claim_due_digests

    owners = claim_due_digests()
    for side, owner_id in owners:
        send_message_digest.delay(side, owner_id)
    return len(owners)


@shared_task(queue=Queue.NOTIFICATIONS, ignore_result=True)
def send_message_digest(side: str, owner_id: int) -> int:
    from .feedback_notify import send_digest

    return send_digest(side, owner_id)


@shared_task(queue=Queue.NOTIFICATIONS, ignore_result=True)
def remind_waiting_sellers() -> int:
    """Daily (beat): each producer with conversations waiting more than 48 hours gets a reminder."""
    from .feedback_notify import sellers_to_remind

    seller_ids = sellers_to_remind()
    for seller_id in seller_ids:
        remind_waiting_seller.delay(seller_id)
    return len(seller_ids)


@shared_task(queue=Queue.NOTIFICATIONS, ignore_result=True)
def remind_waiting_seller(seller_id: int) -> int:
    from .feedback_notify import send_reminder

    return send_reminder(seller_id)


@shared_task(queue=Queue.NOTIFICATIONS, ignore_result=True)
def notify_revision(revision_id: int) -> int:
    """After a revision is published: each buyer of a linked thread is told once."""
    from .feedback_notify import send_revision_notices

    return send_revision_notices(revision_id)


@shared_task(queue=Queue.DEFAULT, ignore_result=True)
def refresh_seller_response_time(seller_id: int) -> None:
    """After a producer's first answer in a thread: the seller page's "usually answers within"."""
    from catalog.services import set_response_time

    from .feedback_selectors import compute_response_stats

    set_response_time(seller_id, median_minutes=compute_response_stats(seller_id).median_minutes)


__all__ = [
    "notify_revision",
    "refresh_seller_response_time",
    "remind_waiting_seller",
    "remind_waiting_sellers",
    "send_message_digest",
    "send_message_digests",
]
