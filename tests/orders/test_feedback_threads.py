"""Feedback threads, services: the status machine and unread counts through a whole conversation,
idempotent submits, who may write when, and bad input that saves nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from orders.feedback import (
    check_rate_limit,
    lock_thread_for_moderation,
    mark_read,
    open_thread,
    post_message,
    reopen_thread,
    resolve_thread,
)
from orders.feedback_exceptions import (
    EmptyMessage,
    InvalidPhoto,
    MessageTooLong,
    NotYourPurchase,
    OwnProduct,
    ProductNotAvailable,
    RateLimited,
    ThreadLocked,
    ThreadResolved,
    TooManyPhotos,
)
from orders.feedback_models import FeedbackThread, Message, MessagePhoto, Side
from orders.feedback_selectors import compute_response_stats, unread_count
from orders.models import Order

from .feedback_world import build_feedback_world, png

pytestmark = pytest.mark.django_db
S = FeedbackThread.Status


@pytest.fixture
def w():
    return build_feedback_world()


def ask(w, **overrides):
    values = {
        "buyer": w.buyer,
        "subject": "Cap size?",
        "category": FeedbackThread.Category.QUESTION,
        "body": "Does the cap fit 54 cm?",
        "language": "de",
        "product_id": w.wig.pk,
    }
    return open_thread(**{**values, **overrides})


def reload(thread):
    return FeedbackThread.objects.get(pk=thread.pk)


def test_full_conversation_moves_status_and_unread_counts_both_ways(w):
    t0 = timezone.now() - timedelta(days=3)

    # given: the buyer asks; the thread is open and the shop (both its users) has one unread
    thread = ask(w, now=t0)
    assert thread.status == S.OPEN and thread.seller_turn
    assert (unread_count(w.buyer), unread_count(w.silk_user), unread_count(w.silk_colleague)) == (0, 1, 1)
    assert unread_count(w.olive_user) == 0 and unread_count(w.other_buyer) == 0

    # when: the buyer adds a second message before any answer: still open, two unread
    post_message(thread, author=w.buyer, side=Side.BUYER, body="And the colour?", language="de", now=t0)
    assert reload(thread).status == S.OPEN
    assert unread_count(w.silk_user) == 2

    # when: a seller user answers 3 hours later
    answer = post_message(
        thread, author=w.silk_user, side=Side.SELLER, body="是的", language="zh-hans", now=t0 + timedelta(hours=3)
    )
    thread = reload(thread)
    # then: the buyer's turn; the answer marks the shop's side read; the buyer has one unread
    assert thread.status == S.AWAITING_BUYER and not thread.seller_turn
    assert thread.first_response_seconds == 3 * 3600 and thread.late_answers == 0
    assert (unread_count(w.buyer), unread_count(w.silk_user), unread_count(w.silk_colleague)) == (1, 0, 0)

    # when: the buyer reads, then replies
    mark_read(thread, side=Side.BUYER, upto_id=answer.pk)
    assert unread_count(w.buyer) == 0
    post_message(thread, author=w.buyer, side=Side.BUYER, body="Danke!", language="de", now=t0 + timedelta(hours=4))
    thread = reload(thread)
    assert thread.status == S.AWAITING_SELLER and thread.seller_turn
    assert thread.seller_turn_since == t0 + timedelta(hours=4)
    assert unread_count(w.silk_colleague) == 1

    # when: the producer answers after 50 hours: a late answer, the first response unchanged
    post_message(
        thread, author=w.silk_colleague, side=Side.SELLER, body="Gern.", language="de", now=t0 + timedelta(hours=54)
    )
    thread = reload(thread)
    assert thread.status == S.AWAITING_BUYER
    assert thread.late_answers == 1 and thread.first_response_seconds == 3 * 3600

    # when: the seller resolves; resolving again changes nothing
    resolve_thread(thread, actor=w.silk_user, side=Side.SELLER)
    resolved_at = reload(thread).resolved_at
    resolve_thread(thread, actor=w.buyer, side=Side.BUYER)
    thread = reload(thread)
    assert (thread.status, thread.resolved_by, thread.resolved_at) == (S.RESOLVED, Side.SELLER, resolved_at)

    # then: the seller can no longer write; the buyer reopens by writing
    with pytest.raises(ThreadResolved):
        post_message(thread, author=w.silk_user, side=Side.SELLER, body="P.S.", language="en")
    assert Message.objects.filter(thread=thread).count() == 5
    post_message(thread, author=w.buyer, side=Side.BUYER, body="It broke again.", language="de")
    thread = reload(thread)
    assert thread.status == S.OPEN and thread.resolved_at is None and thread.seller_turn
    assert unread_count(w.silk_user) == 1


def test_only_the_buyer_reopens_and_reopening_an_open_thread_changes_nothing(w):
    thread = ask(w)
    resolve_thread(thread, actor=w.buyer, side=Side.BUYER)
    with pytest.raises(PermissionDenied):
        reopen_thread(thread, buyer=w.silk_user)
    assert reload(thread).status == S.RESOLVED
    reopen_thread(thread, buyer=w.buyer)
    reopen_thread(thread, buyer=w.buyer)
    assert reload(thread).status == S.OPEN


def test_status_table_refuses_what_it_does_not_list(w):
    thread = ask(w)
    assert thread.can_become(S.AWAITING_BUYER) and thread.can_become(S.RESOLVED)
    assert not thread.can_become(S.AWAITING_SELLER)
    thread.status = S.RESOLVED
    assert thread.can_become(S.OPEN) and not thread.can_become(S.AWAITING_BUYER)


def test_acting_for_the_wrong_side_is_refused(w):
    thread = ask(w)
    for user, side in [
        (w.olive_user, Side.SELLER),
        (w.other_buyer, Side.BUYER),
        (w.silk_user, Side.BUYER),
        (w.buyer, Side.SELLER),
        (w.operator, Side.SELLER),
    ]:
        with pytest.raises(PermissionDenied):
            post_message(thread, author=user, side=side, body="hi", language="en")
        with pytest.raises(PermissionDenied):
            resolve_thread(thread, actor=user, side=side)
    assert Message.objects.filter(thread=thread).count() == 1
    assert reload(thread).status == S.OPEN


def test_double_submits_with_the_same_key_save_once(w):
    key = uuid.uuid4()
    first = ask(w, client_key=key)
    again = ask(w, client_key=key, body="something else")
    assert again.pk == first.pk and FeedbackThread.objects.count() == 1
    reply_key = uuid.uuid4()
    m1 = post_message(first, author=w.silk_user, side=Side.SELLER, body="Yes", language="en", client_key=reply_key)
    m2 = post_message(first, author=w.silk_user, side=Side.SELLER, body="Yes", language="en", client_key=reply_key)
    assert m1.pk == m2.pk and Message.objects.filter(thread=first).count() == 2


def test_locked_thread_takes_no_messages_and_keeps_its_reason(w):
    thread = ask(w)
    with pytest.raises(PermissionDenied):
        lock_thread_for_moderation(thread, operator=w.buyer, reason="spam")
    lock_thread_for_moderation(thread, operator=w.operator, reason="Insults")
    thread = reload(thread)
    assert thread.locked and thread.locked_reason == "Insults" and thread.locked_by == w.operator
    for user, side in [(w.buyer, Side.BUYER), (w.silk_user, Side.SELLER)]:
        with pytest.raises(ThreadLocked):
            post_message(thread, author=user, side=side, body="hello?", language="en")
    assert Message.objects.filter(thread=thread).count() == 1


@pytest.mark.parametrize(
    ("body", "error"),
    [("", EmptyMessage), ("   \n\t ", EmptyMessage), ("x" * 20_000, MessageTooLong)],
    ids=["empty", "blank", "20000-chars"],
)
def test_bad_message_saves_nothing(w, body, error):
    thread = ask(w)
    before = (FeedbackThread.objects.count(), Message.objects.count(), unread_count(w.silk_user))
    with pytest.raises(error):
        ask(w, body=body)
    with pytest.raises(error):
        post_message(thread, author=w.silk_user, side=Side.SELLER, body=body, language="en")
    assert (FeedbackThread.objects.count(), Message.objects.count(), unread_count(w.silk_user)) == before
    assert reload(thread).status == S.OPEN


def test_message_at_the_limit_is_accepted(w):
    thread = ask(w, body="y" * 5000)
    assert len(thread.messages.get().body) == 5000


def test_photos_are_validated_like_catalog_images(w):
    thread = ask(w, photos=[png(), png(400, 300, "b.png")])
    photos = MessagePhoto.objects.filter(message__thread=thread)
    assert photos.count() == 2 and all(p.thumbnail for p in photos)

    from django.core.files.uploadedfile import SimpleUploadedFile

    not_image = SimpleUploadedFile("invoice.png", b"%PDF-1.4 not an image", content_type="image/png")
    oversized = SimpleUploadedFile("big.png", b"\x89PNG" + b"0" * (5 * 1024 * 1024 + 10), content_type="image/png")
    tiny = png(50, 50)
    for bad in (not_image, oversized, tiny):
        with pytest.raises(InvalidPhoto):
            post_message(thread, author=w.buyer, side=Side.BUYER, body="see", language="en", photos=[bad])
    with pytest.raises(TooManyPhotos):
        post_message(
            thread, author=w.buyer, side=Side.BUYER, body="see", language="en", photos=[png() for _ in range(5)]
        )
    assert Message.objects.filter(thread=thread).count() == 1 and photos.count() == 2


def test_a_product_the_buyer_cannot_see_is_refused(w):
    with pytest.raises(ProductNotAvailable):
        ask(w, product_id=w.draft.pk)
    with pytest.raises(ProductNotAvailable):
        ask(w, product_id=999_999)
    with pytest.raises(OwnProduct):
        ask(w, buyer=w.silk_user)
    assert FeedbackThread.objects.count() == 0


def test_verified_purchase_needs_the_buyers_own_paid_order_line(w):
    # someone else's line, or the buyer's unpaid line, is refused
    with pytest.raises(NotYourPurchase):
        ask(w, buyer=w.other_buyer, product_id=None, order_line_id=w.line.pk)
    Order.objects.filter(pk=w.line.order_id).update(status=Order.Status.PENDING_PAYMENT)
    with pytest.raises(NotYourPurchase):
        ask(w, product_id=None, order_line_id=w.line.pk)
    assert FeedbackThread.objects.count() == 0

    # the buyer's delivered line: a verified purchase about the line's product
    Order.objects.filter(pk=w.line.order_id).update(status=Order.Status.DELIVERED)
    thread = ask(w, product_id=None, order_line_id=w.line.pk, category=FeedbackThread.Category.QUALITY)
    assert thread.verified_purchase and thread.product == w.wig and thread.seller == w.silk


def test_rate_limit_refuses_beyond_the_window(w, settings):
    settings.FEEDBACK_RATE_LIMITS = {**settings.FEEDBACK_RATE_LIMITS, "message": (2, 600)}
    check_rate_limit(w.buyer, "message")
    check_rate_limit(w.buyer, "message")
    with pytest.raises(RateLimited) as refused:
        check_rate_limit(w.buyer, "message")
    assert "minute" in refused.value.message
    check_rate_limit(w.other_buyer, "message")  # per user


def test_response_stats_median_and_share_resolved(w):
    t0 = timezone.now() - timedelta(days=10)
    hours = [1, 3, 10]
    for i, h in enumerate(hours):
        thread = ask(w, subject=f"Q{i}", now=t0)
        post_message(thread, author=w.silk_user, side=Side.SELLER, body="A", language="en", now=t0 + timedelta(hours=h))
        if i == 0:
            resolve_thread(thread, actor=w.buyer, side=Side.BUYER)
    ask(w, subject="unanswered", now=t0)
    stats = compute_response_stats(w.silk.pk)
    assert (stats.threads, stats.answered, stats.resolved) == (4, 3, 1)
    assert stats.median_first_response_seconds == 3 * 3600 and stats.median_minutes == 180
    assert stats.share_resolved == 25
    assert stats.median_display == "3 hours"
    assert compute_response_stats(w.olive.pk).share_resolved is None  # not enough conversations


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_double_submit_opens_one_thread_and_posts_one_message():
    import threading

    from django.db import connection

    w = build_feedback_world()
    key, reply_key = uuid.uuid4(), uuid.uuid4()
    barrier = threading.Barrier(2, timeout=20)
    threads, messages, failures = [], [], []

    def submit() -> None:
        try:
            barrier.wait()
            threads.append(ask(w, client_key=key).pk)
            barrier.wait()
            thread = FeedbackThread.objects.get(pk=threads[0])
            messages.append(
                post_message(
                    thread, author=w.silk_user, side=Side.SELLER, body="Yes", language="en", client_key=reply_key
                ).pk
            )
        except Exception as exc:  # noqa: BLE001  (reported by the assertion below)
            failures.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=submit) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    assert len(set(threads)) == 1 and FeedbackThread.objects.count() == 1
    assert len(set(messages)) == 1 and Message.objects.count() == 2
    thread = FeedbackThread.objects.get()
    assert thread.status == S.AWAITING_BUYER and unread_count(w.buyer) == 1
