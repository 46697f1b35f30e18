"""Feedback threads for operators: hide a message and lock a thread in admin with the reason logged,
the late-answer filter, the per-product view; and the demo threads (idempotent, the wig story)."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.admin.models import LogEntry
from django.utils import timezone

from orders.feedback import open_thread, post_message, publish_revision
from orders.feedback_models import FeedbackThread, Message, ProductRevision, RevisionLink, Side

from .feedback_world import build_feedback_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def w():
    return build_feedback_world()


@pytest.fixture
def operator_client(client, w):
    w.operator.is_superuser = True
    w.operator.save(update_fields=["is_superuser"])
    client.force_login(w.operator)
    return client


def ask(w, subject="Question", hours_ago=0, buyer=None):
    return open_thread(
        buyer=buyer or w.buyer,
        subject=subject,
        category="question",
        body=f"{subject}?",
        language="en",
        product_id=w.wig.pk,
        now=timezone.now() - timedelta(hours=hours_ago),
    )


def test_hiding_a_message_asks_for_a_reason_and_logs_it(operator_client, client, w):
    thread = ask(w, "Rude")
    message = thread.messages.get()
    url = "/admin/orders/message/"
    data = {"action": "hide_messages", "_selected_action": [message.pk]}

    # the action first asks for the reason; without one nothing changes
    page = operator_client.post(url, data)
    assert page.status_code == 200 and b'name="reason"' in page.content
    page = operator_client.post(url, {**data, "apply": "1", "reason": ""})
    assert b'data-testid="form-error"' in page.content
    assert not Message.objects.get(pk=message.pk).hidden

    operator_client.post(url, {**data, "apply": "1", "reason": "Insulting the producer"})
    message.refresh_from_db()
    assert message.hidden and message.hidden_reason == "Insulting the producer" and message.hidden_by == w.operator
    entry = LogEntry.objects.get(object_id=str(message.pk))
    assert "Insulting the producer" in entry.get_change_message()

    # participants see that it was hidden, never its text
    client.force_login(w.silk_user)
    html = client.get(f"/en/seller/messages/{thread.pk}/").content.decode()
    assert "Rude?" not in html and 'data-testid="message-hidden"' in html


def test_locking_a_thread_asks_for_a_reason_logs_it_and_stops_replies(operator_client, client, w):
    thread = ask(w)
    operator_client.post(
        "/admin/orders/feedbackthread/",
        {"action": "lock_threads", "_selected_action": [thread.pk], "apply": "1", "reason": "Off-platform payment"},
    )
    thread.refresh_from_db()
    assert thread.locked and thread.locked_reason == "Off-platform payment"
    assert "Off-platform payment" in LogEntry.objects.get(object_id=str(thread.pk)).get_change_message()
    client.force_login(w.buyer)
    html = client.get(f"/en/messages/{thread.pk}/").content.decode()
    assert 'data-testid="thread-locked"' in html and 'data-testid="reply-form"' not in html
    assert "Off-platform payment" not in html  # the reason is for operators
    response = client.post(f"/en/messages/{thread.pk}/reply/", {"body": "hello?", "language": "en"})
    assert response.status_code == 400 and b'data-testid="form-error"' in response.content
    assert thread.messages.count() == 1


def test_late_answer_filter_shows_threads_a_seller_answered_late_or_leaves_waiting(operator_client, w):
    on_time = ask(w, "On time", hours_ago=80)
    post_message(
        on_time,
        author=w.silk_user,
        side=Side.SELLER,
        body="ok",
        language="en",
        now=timezone.now() - timedelta(hours=79),
    )
    late = ask(w, "Late", hours_ago=80)
    post_message(late, author=w.silk_user, side=Side.SELLER, body="sorry", language="en")
    waiting = ask(w, "Waiting", hours_ago=50)
    fresh = ask(w, "Fresh", hours_ago=1)

    def listed(value: str) -> set[int]:
        html = operator_client.get(f"/admin/orders/feedbackthread/?answers={value}").content.decode()
        return {t.pk for t in (on_time, late, waiting, fresh) if f"/admin/orders/feedbackthread/{t.pk}/change/" in html}

    assert listed("late") == {late.pk}
    assert listed("waiting") == {waiting.pk}
    assert listed("on_time") == {on_time.pk}
    html = operator_client.get(f"/admin/orders/feedbackthread/{late.pk}/change/").content.decode()
    assert "sorry" in html  # the messages inline


def test_per_product_view_shows_threads_revisions_and_links(operator_client, w):
    linked, other = ask(w, "Sheds"), ask(w, "Colour")
    revision = publish_revision(
        seller_id=w.silk.pk,
        author=w.silk_user,
        product_id=w.wig.pk,
        summaries={"en": "Waterproof glue"},
        thread_ids=[linked.pk],
    )
    html = operator_client.get("/admin/orders/productfeedback/").content.decode()
    assert "Lace wig" in html and "Olive oil" not in html  # products with feedback only
    html = operator_client.get(f"/admin/orders/productfeedback/{w.wig.pk}/change/").content.decode()
    assert "Sheds" in html and "Colour" in html and "Waterproof glue" in html
    assert f"/admin/orders/feedbackthread/{linked.pk}/change/" in html
    assert f"/admin/orders/productrevision/{revision.pk}/change/" in html
    assert operator_client.get(f"/admin/orders/productrevision/{revision.pk}/change/").status_code == 200
    assert other.pk != linked.pk


def test_admin_pages_need_staff(client, w):
    client.force_login(w.buyer)
    response = client.get("/admin/orders/feedbackthread/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


# --- Demo -------------------------------------------------------------------------------------------


def test_demo_threads_are_idempotent_and_tell_the_wig_story(settings):
    from catalog import demo as catalog_demo
    from logistics import demo as logistics_demo
    from marketplace import demo as marketplace_demo
    from orders import demo_threads

    settings.DEBUG = True
    for module in (marketplace_demo, catalog_demo, logistics_demo):
        module.seed(StringIO())
    demo_threads.seed(StringIO())
    tables = (FeedbackThread, Message, ProductRevision, RevisionLink)
    first = [m.objects.count() for m in tables]
    demo_threads.seed(StringIO())
    assert [m.objects.count() for m in tables] == first
    assert first[0] >= 6

    threads = FeedbackThread.objects.all()
    assert {m.language for m in Message.objects.all()} >= {"en", "ja", "es", "ar"}
    assert set(threads.values_list("status", flat=True)) == set(FeedbackThread.Status.values)
    wig = threads.get(subject="The wig sheds when wet")
    assert wig.verified_purchase and wig.product.slug == "lace-front-human-hair-wig"
    assert wig.messages.filter(side=Side.SELLER).exists() and wig.messages.filter(photos__isnull=False).exists()
    revision = wig.revisions.get()
    for field in ("summary", "body"):
        assert all(getattr(revision, f"{field}_{code.replace('-', '_')}") for code, _n in settings.LANGUAGES)
    assert "Waterproof glue" in revision.summary_en
    assert not threads.filter(buyer_notify_at__isnull=False).exists()  # seeding sends no e-mail
