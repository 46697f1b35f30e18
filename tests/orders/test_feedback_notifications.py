"""Feedback threads, e-mails: one e-mail per burst of messages, in each recipient's language; a daily
reminder of conversations waiting over 48 hours; a published revision tells each buyer once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from orders.feedback import mark_read, open_thread, post_message, publish_revision
from orders.feedback_models import FeedbackThread, RevisionLink, Side
from orders.feedback_notify import send_digest
from orders.feedback_tasks import notify_revision, remind_waiting_sellers, send_message_digests
from orders.models import Order

from .feedback_world import build_feedback_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(settings):
    settings.SITE_URL = "https://shop.example"
    settings.FEEDBACK_EMAIL_QUIET_SECONDS = 120
    settings.FEEDBACK_EMAIL_MAX_DELAY_SECONDS = 900
    return build_feedback_world()


T0 = timezone.now().replace(microsecond=0) - timedelta(days=1)


def at(seconds: float):
    return T0 + timedelta(seconds=seconds)


def digests(now):
    from orders.feedback_notify import claim_due_digests

    claimed = claim_due_digests(now=now)
    return sum(send_digest(side, owner, now=now) for side, owner in claimed)


def open_at(w, seconds=0, buyer=None, **extra):
    return open_thread(
        buyer=buyer or w.buyer,
        subject="Cap size",
        category="question",
        body="Passt die Kappe bei 54 cm?",
        language="de",
        product_id=w.wig.pk,
        now=at(seconds),
        **extra,
    )


def test_a_burst_of_messages_is_one_email_in_the_recipients_language(w):
    # given: an earlier exchange, already e-mailed
    thread = open_at(w)
    post_message(thread, author=w.silk_user, side=Side.SELLER, body="看一下", language="zh-hans", now=at(10))
    assert digests(at(3600)) == 1  # the buyer (the answer); answering marked the question read
    mail.outbox.clear()

    # when: the producer sends three messages within a minute
    for i, seconds in enumerate((7200, 7230, 7260)):
        post_message(
            thread, author=w.silk_user, side=Side.SELLER, body=f"Nachricht {i + 1}", language="de", now=at(seconds)
        )

    # then: nothing during the quiet period, then exactly one e-mail to the buyer with all three
    assert digests(at(7260 + 60)) == 0
    assert digests(at(7260 + 121)) == 1
    assert digests(at(7260 + 600)) == 0  # sent once, even when run again
    [email] = mail.outbox
    assert email.to == ["buyer@example.com"]
    text, (html, _mime) = email.body, email.alternatives[0]
    assert all(f"Nachricht {i}" in text for i in (1, 2, 3)) and "看一下" not in text
    # in the buyer's language (German): the product's German name, German links, lang="de"
    assert "Spitzenperücke" in text and "Lace wig" not in text
    assert f"https://shop.example/de/messages/{thread.pk}/" in text and '<html lang="de"' in html
    thread.refresh_from_db()
    assert thread.buyer_notify_at is None and thread.buyer_pending_since is None


def test_each_seller_user_gets_the_email_in_their_own_language(w):
    thread = open_at(w)
    post_message(thread, author=w.buyer, side=Side.BUYER, body="Und die Farbe?", language="de", now=at(30))
    assert digests(at(30 + 121)) == 2
    by_recipient = {email.to[0]: email for email in mail.outbox}
    zh, en = by_recipient["silk@example.com"], by_recipient["silk2@example.com"]
    assert "蕾丝假发" in zh.body and f"/zh-hans/seller/messages/{thread.pk}/" in zh.body
    assert "Lace wig" in en.body and f"/en/seller/messages/{thread.pk}/" in en.body
    assert all("Passt die Kappe" in e.body and "Und die Farbe?" in e.body for e in (zh, en))
    assert "buyer@example.com" not in zh.body + en.body  # the buyer's address stays private


def test_a_long_conversation_is_emailed_at_most_every_max_delay(w):
    thread = open_at(w)
    mail.outbox.clear()
    for minute in range(0, 20):  # a message every minute for 20 minutes: never quiet for 2 minutes
        post_message(thread, author=w.buyer, side=Side.BUYER, body=f"m{minute}", language="de", now=at(60 * minute))
        digests(at(60 * minute + 1))
    # the first burst is e-mailed at the latest 15 minutes after its first message
    assert len([e for e in mail.outbox if e.to == ["silk@example.com"]]) == 1


def test_what_the_recipient_already_read_is_not_emailed(w):
    thread = open_at(w)
    answer = post_message(thread, author=w.silk_user, side=Side.SELLER, body="Ja", language="de", now=at(60))
    mark_read(thread, side=Side.BUYER, upto_id=answer.pk)
    digests(at(3600))
    assert [e.to for e in mail.outbox if e.to == ["buyer@example.com"]] == []
    thread.refresh_from_db()
    assert thread.buyer_notify_at is None


def test_hidden_messages_and_inactive_recipients_get_no_email(w):
    from orders.feedback import hide_message

    thread = open_at(w)
    message = thread.messages.get()
    hide_message(message, operator=w.operator, reason="spam")
    w.silk_colleague.is_active = False
    w.silk_colleague.save(update_fields=["is_active"])
    assert digests(at(3600)) == 0


def test_beat_task_queues_one_digest_per_inbox(w, settings):
    thread = open_at(w, seconds=-3600)
    open_at(w, seconds=-3590, buyer=w.other_buyer)
    post_message(thread, author=w.silk_user, side=Side.SELLER, body="Ja", language="de", now=at(-3500))
    due = timezone.now() - timedelta(minutes=1)
    FeedbackThread.objects.filter(buyer_notify_at__isnull=False).update(buyer_notify_at=due)
    FeedbackThread.objects.filter(seller_notify_at__isnull=False).update(seller_notify_at=due)
    assert send_message_digests() == 2  # the buyer with an answer, the silk shop (the unanswered question)
    recipients = sorted(e.to[0] for e in mail.outbox)
    assert recipients == ["buyer@example.com", "silk2@example.com", "silk@example.com"]
    assert sum("Passt die Kappe" in e.body for e in mail.outbox if e.to == ["silk@example.com"]) == 1
    assert send_message_digests() == 0


def test_daily_reminder_for_threads_waiting_more_than_48_hours(w):
    now = timezone.now()
    waiting = open_thread(
        buyer=w.buyer,
        subject="Still there?",
        category="question",
        body="?",
        language="de",
        product_id=w.wig.pk,
        now=now - timedelta(hours=50),
    )
    open_thread(
        buyer=w.other_buyer,
        subject="Recent",
        category="question",
        body="?",
        language="en",
        product_id=w.wig.pk,
        now=now - timedelta(hours=10),
    )
    answered = open_thread(
        buyer=w.other_buyer,
        subject="Answered",
        category="question",
        body="?",
        language="en",
        product_id=w.wig.pk,
        now=now - timedelta(hours=60),
    )
    post_message(
        answered, author=w.silk_user, side=Side.SELLER, body="ok", language="en", now=now - timedelta(hours=59)
    )
    open_thread(
        buyer=w.buyer,
        subject="Olive",
        category="question",
        body="?",
        language="de",
        product_id=w.olive_oil.pk,
        now=now - timedelta(hours=10),
    )
    mail.outbox.clear()

    assert remind_waiting_sellers() == 1  # silk only
    assert sorted(e.to[0] for e in mail.outbox) == ["silk2@example.com", "silk@example.com"]
    for email in mail.outbox:
        assert "Still there?" in email.body and "Recent" not in email.body and "Answered" not in email.body
        assert f"/seller/messages/{waiting.pk}/" in email.body
    assert "蕾丝假发" in next(e for e in mail.outbox if e.to == ["silk@example.com"]).body
    assert remind_waiting_sellers() == 0  # once a day
    assert len(mail.outbox) == 2


def test_publishing_a_revision_tells_each_buyer_once_in_their_language(w, django_capture_on_commit_callbacks):
    Order.objects.filter(pk=w.line.order_id).update(status=Order.Status.DELIVERED)
    first = open_at(w)
    second = open_thread(
        buyer=w.buyer, subject="Also sheds", category="quality", body="!", language="de", order_line_id=w.line.pk
    )
    theirs = open_thread(
        buyer=w.other_buyer, subject="Sheds too", category="quality", body="!", language="en", product_id=w.wig.pk
    )
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        revision = publish_revision(
            seller_id=w.silk.pk,
            author=w.silk_user,
            product_id=w.wig.pk,
            summaries={"en": "Waterproof glue", "de": "Wasserfester Kleber", "zh-hans": "防水胶"},
            bodies={"en": "Tested 30 times."},
            thread_ids=[first.pk, second.pk, theirs.pk],
        )

    # one e-mail per buyer (the first buyer has two linked threads), each in their language
    assert sorted(e.to[0] for e in mail.outbox) == ["buyer@example.com", "other@example.com"]
    german = next(e for e in mail.outbox if e.to == ["buyer@example.com"])
    assert (
        "Wasserfester Kleber" in german.body
        and "Spitzenperücke" in german.body
        and "Waterproof glue" not in german.body
    )
    assert german.body.count("/de/messages/") == 2
    english = next(e for e in mail.outbox if e.to == ["other@example.com"])
    assert "Waterproof glue" in english.body
    assert not RevisionLink.objects.filter(revision=revision, notified_at=None).exists()

    # the task again: nobody is told twice
    notify_revision(revision.pk)
    assert len(mail.outbox) == 2
