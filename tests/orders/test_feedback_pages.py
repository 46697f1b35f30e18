"""Feedback threads, pages: who may see threads, messages, photos and inboxes (both ways), escaped
messages, bad input shown with data-testid="form-error" and nothing saved, the header's unread
count, translations, and what the product and seller pages show."""

from __future__ import annotations

import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders.feedback import hide_message, open_thread, post_message, publish_revision, resolve_thread
from orders.feedback_models import AbuseReport, FeedbackThread, Message, MessagePhoto, ProductRevision, Side

from .feedback_world import build_feedback_world, png

pytestmark = pytest.mark.django_db


@pytest.fixture
def w():
    return build_feedback_world()


@pytest.fixture
def thread(w):
    """The buyer's verified-purchase thread with a photo, and the producer's answer."""
    thread = open_thread(
        buyer=w.buyer,
        subject="Sheds when wet",
        category=FeedbackThread.Category.QUALITY,
        body="It sheds after swimming.",
        language="en",
        order_line_id=w.line.pk,
        photos=[png()],
    )
    post_message(thread, author=w.silk_user, side=Side.SELLER, body="我们会改进。", language="zh-hans")
    return thread


def as_user(client, user):
    client.logout()
    if user is not None:
        client.force_login(user)
    return client


def counts():
    return (FeedbackThread.objects.count(), Message.objects.count(), MessagePhoto.objects.count())


def errors(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", e).strip() for e in re.findall(r'data-testid="form-error"[^>]*>(.*?)</', html, re.S)]


# --- Permissions -----------------------------------------------------------------------------------


def test_thread_page_is_for_its_participants_and_operators_only(client, w, thread):
    buyer_url, portal_url = f"/en/messages/{thread.pk}/", f"/en/seller/messages/{thread.pk}/"

    # the buyer and both users of the shop read it; the operator reads it without a reply form
    html = as_user(client, w.buyer).get(buyer_url).content.decode()
    assert "It sheds after swimming." in html and 'data-testid="reply-form"' in html
    for user in (w.silk_user, w.silk_colleague):
        assert as_user(client, user).get(portal_url).status_code == 200
        response = client.get(buyer_url)  # a seller user on the buyer URL goes to the portal's page
        assert response.status_code == 302 and response["Location"] == portal_url
    html = as_user(client, w.operator).get(buyer_url).content.decode()
    assert "It sheds after swimming." in html and 'data-testid="reply-form"' not in html

    # everyone else: 404 (the thread does not exist for them), anonymous: sign in first
    for user in (w.olive_user, w.other_buyer):
        assert as_user(client, user).get(buyer_url).status_code == 404
        assert client.get(portal_url).status_code in (403, 404)
    assert as_user(client, w.olive_user).get(portal_url).status_code == 404
    assert as_user(client, w.buyer).get(portal_url).status_code == 403  # not a seller user at all
    for url in (buyer_url, portal_url):
        response = as_user(client, None).get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
        assert b"swimming" not in response.content


def test_writing_resolving_and_reporting_are_for_participants_only(client, w, thread):
    before = counts()
    for user in (w.other_buyer, w.olive_user, w.silk_user, w.operator):
        as_user(client, user)
        assert client.post(f"/en/messages/{thread.pk}/reply/", {"body": "x", "language": "en"}).status_code == 404
        assert client.post(f"/en/messages/{thread.pk}/resolve/").status_code == 404
    for user in (w.other_buyer, w.olive_user):
        as_user(client, user)
        assert client.post(f"/en/seller/messages/{thread.pk}/reply/", {"body": "x", "language": "en"}).status_code in (
            403,
            404,
        )
        assert client.post(f"/en/seller/messages/{thread.pk}/resolve/").status_code in (403, 404)
        message = thread.messages.first()
        assert client.post(f"/en/messages/{thread.pk}/report/{message.pk}/").status_code == 404
    response = as_user(client, None).post(f"/en/messages/{thread.pk}/reply/", {"body": "x", "language": "en"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert counts() == before and AbuseReport.objects.count() == 0
    assert FeedbackThread.objects.get(pk=thread.pk).status == FeedbackThread.Status.AWAITING_BUYER

    # the participants can
    as_user(client, w.buyer).post(f"/en/messages/{thread.pk}/reply/", {"body": "Thanks", "language": "en"})
    as_user(client, w.silk_colleague).post(f"/en/seller/messages/{thread.pk}/reply/", {"body": "OK", "language": "en"})
    assert Message.objects.filter(thread=thread).count() == 4
    as_user(client, w.silk_user).post(f"/en/seller/messages/{thread.pk}/resolve/")
    assert FeedbackThread.objects.get(pk=thread.pk).status == FeedbackThread.Status.RESOLVED


def test_photos_are_served_only_to_participants(client, w, thread):
    photo = MessagePhoto.objects.get(message__thread=thread)
    url = f"/en/messages/{thread.pk}/photos/{photo.pk}/"
    for user in (w.buyer, w.silk_user, w.silk_colleague, w.operator):
        response = as_user(client, user).get(url)
        assert response.status_code == 200 and response["Content-Type"] == "image/png"
        assert b"".join(response.streaming_content)[:4] == b"\x89PNG"
        assert as_user(client, user).get(url + "thumbnail/").status_code == 200
    for user in (w.other_buyer, w.olive_user):
        assert as_user(client, user).get(url).status_code == 404
    response = as_user(client, None).get(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    # the photo is reached only through its own thread, and not once its message is hidden
    other = open_thread(
        buyer=w.other_buyer, subject="Q", category="question", body="?", language="en", product_id=w.wig.pk
    )
    assert as_user(client, w.other_buyer).get(f"/en/messages/{other.pk}/photos/{photo.pk}/").status_code == 404
    hide_message(photo.message, operator=w.operator, reason="personal data")
    assert as_user(client, w.buyer).get(url).status_code == 404
    # and the stored file's name reveals nothing (not the upload's name, not guessable)
    assert "photo.png" not in photo.image.name and len(photo.image.name) > 30


def test_inboxes_list_only_ones_own_threads(client, w, thread):
    other = open_thread(
        buyer=w.other_buyer,
        subject="Olive question",
        category="question",
        body="?",
        language="en",
        product_id=w.olive_oil.pk,
    )
    html = as_user(client, w.buyer).get("/en/messages/").content.decode()
    assert f'data-thread="{thread.pk}"' in html and f'data-thread="{other.pk}"' not in html
    for user in (w.silk_user, w.silk_colleague):
        html = as_user(client, user).get("/en/seller/messages/").content.decode()
        assert f'data-thread="{thread.pk}"' in html and f'data-thread="{other.pk}"' not in html
    html = as_user(client, w.olive_user).get("/en/seller/messages/").content.decode()
    assert f'data-thread="{other.pk}"' in html and f'data-thread="{thread.pk}"' not in html
    html = as_user(client, w.other_buyer).get("/en/messages/").content.decode()
    assert f'data-thread="{other.pk}"' in html and f'data-thread="{thread.pk}"' not in html
    assert as_user(client, w.other_buyer).get("/en/seller/messages/").status_code == 403
    for url in ("/en/messages/", "/en/seller/messages/"):
        assert as_user(client, None).get(url).status_code == 302


def test_inbox_filters_by_status_and_product(client, w, thread):
    second = open_thread(
        buyer=w.buyer, subject="Oil?", category="question", body="?", language="en", product_id=w.olive_oil.pk
    )
    as_user(client, w.buyer)
    html = client.get("/en/messages/?status=awaiting_buyer").content.decode()
    assert f'data-thread="{thread.pk}"' in html and f'data-thread="{second.pk}"' not in html
    html = client.get(f"/en/messages/?product={w.olive_oil.pk}").content.decode()
    assert f'data-thread="{second.pk}"' in html and f'data-thread="{thread.pk}"' not in html
    html = as_user(client, w.silk_user).get("/en/seller/messages/?status=resolved").content.decode()
    assert 'data-testid="no-threads"' in html


def test_report_abuse_once_and_only_the_other_sides_messages(client, w, thread):
    answer = thread.messages.get(side=Side.SELLER)
    as_user(client, w.buyer)
    client.post(f"/en/messages/{thread.pk}/report/{answer.pk}/", {"reason": "rude"})
    client.post(f"/en/messages/{thread.pk}/report/{answer.pk}/", {"reason": "rude"})
    assert AbuseReport.objects.filter(message=answer, reporter=w.buyer).count() == 1
    own = thread.messages.get(side=Side.BUYER)
    response = client.post(f"/en/messages/{thread.pk}/report/{own.pk}/", follow=True)
    assert errors(response.content.decode()) and AbuseReport.objects.count() == 1


# --- Escaping, bad input -----------------------------------------------------------------------------


def test_message_bodies_are_escaped_text_and_links_are_not_live(client, w):
    body = '<script>alert("x")</script> see https://evil.example/win <a href="https://evil.example">here</a>'
    thread = open_thread(
        buyer=w.buyer, subject="<b>Hi</b>", category="question", body=body, language="en", product_id=w.wig.pk
    )
    for user, url in [(w.buyer, f"/en/messages/{thread.pk}/"), (w.silk_user, f"/en/seller/messages/{thread.pk}/")]:
        html = as_user(client, user).get(url).content.decode()
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
        assert '<script>alert("x")' not in html and "<b>Hi</b>" not in html and "&lt;b&gt;Hi&lt;/b&gt;" in html
        assert 'href="https://evil.example' not in html and "https://evil.example/win" in html


def post_new(client, **data):
    values = {"subject": "Cap", "category": "question", "body": "Fits 54 cm?", "language": "en", "product": "lace-wig"}
    return client.post("/en/messages/new/", {**values, **data})


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"body": ""}, "Write a message before sending."),
        ({"body": "x" * 20_000}, "20000 characters"),
        ({"subject": ""}, "This field is required."),
        ({"product": "draft-wig"}, "not available"),
        ({"product": "no-such-product"}, "not available"),
        ({"photos": SimpleUploadedFile("cv.png", b"%PDF-1.4", content_type="image/png")}, "not an image"),
        ({"photos": SimpleUploadedFile("big.jpg", b"\xff\xd8" + b"0" * (5 * 1024 * 1024 + 1))}, "larger than 5 MB"),
    ],
    ids=["empty", "20000-chars", "no-subject", "draft-product", "unknown-product", "not-an-image", "oversized"],
)
def test_bad_new_thread_shows_a_clear_error_and_saves_nothing(client, w, data, expected):
    as_user(client, w.buyer)
    before = counts()
    response = post_new(client, **data)
    assert response.status_code == 400
    assert any(expected in e for e in errors(response.content.decode())), errors(response.content.decode())
    assert counts() == before


def test_a_product_the_buyer_cannot_see_has_no_ask_page(client, w):
    as_user(client, w.buyer)
    assert client.get("/en/messages/new/?product=draft-wig").status_code == 404
    assert client.get(f"/en/messages/new/?line={w.line.pk}").status_code == 200
    assert as_user(client, w.other_buyer).get(f"/en/messages/new/?line={w.line.pk}").status_code == 404
    html = as_user(client, w.silk_user).get("/en/messages/new/?product=lace-wig").content.decode()
    assert errors(html) and "your own shop" in errors(html)[0]


@pytest.mark.parametrize(
    ("data", "expected"),
    [({"body": " "}, "Write a message before sending."), ({"body": "y" * 20_000}, "20000 characters")],
    ids=["empty", "20000-chars"],
)
def test_bad_reply_shows_a_clear_error_and_saves_nothing(client, w, thread, data, expected):
    before = counts()
    response = as_user(client, w.buyer).post(f"/en/messages/{thread.pk}/reply/", {"language": "en", **data})
    assert response.status_code == 400 and any(expected in e for e in errors(response.content.decode()))
    response = as_user(client, w.silk_user).post(f"/en/seller/messages/{thread.pk}/reply/", {"language": "en", **data})
    assert response.status_code == 400 and any(expected in e for e in errors(response.content.decode()))
    assert counts() == before


def test_new_thread_with_a_photo_from_an_order_line(client, w):
    as_user(client, w.buyer)
    response = client.post(
        "/en/messages/new/",
        {
            "subject": "Sheds",
            "category": "quality",
            "body": "Look",
            "language": "en",
            "line": w.line.pk,
            "photos": [png(), png(name="second.png")],
            "key": str(uuid.uuid4()),
        },
    )
    thread = FeedbackThread.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/en/messages/{thread.pk}/"
    assert thread.verified_purchase and thread.order_line == w.line
    assert MessagePhoto.objects.filter(message__thread=thread).count() == 2
    html = client.get(response["Location"]).content.decode()
    assert html.count('data-testid="message-photo"') == 2 and 'data-testid="verified-purchase"' in html


def test_rate_limit_on_opening_threads_is_a_clear_error(client, w, settings):
    settings.FEEDBACK_RATE_LIMITS = {**settings.FEEDBACK_RATE_LIMITS, "open_thread": (1, 3600)}
    as_user(client, w.buyer)
    assert post_new(client).status_code == 302
    response = post_new(client, subject="Again")
    assert response.status_code == 429 and "faster than we allow" in errors(response.content.decode())[0]
    assert FeedbackThread.objects.count() == 1


# --- Header unread count, translations ---------------------------------------------------------------


def unread_in_header(html: str) -> int:
    return int(re.search(r'data-testid="unread-count">(\d+)<', html).group(1))


def test_header_unread_count_follows_reading(client, w, thread):
    as_user(client, w.buyer)
    assert unread_in_header(client.get("/en/").content.decode()) == 1
    assert unread_in_header(client.get(f"/en/messages/{thread.pk}/").content.decode()) == 0  # read as shown
    assert unread_in_header(client.get("/en/").content.decode()) == 0
    post_message(thread, author=w.silk_colleague, side=Side.SELLER, body="One more thing", language="en")
    html = client.get("/en/messages/").content.decode()
    assert unread_in_header(html) == 1 and 'data-unread="1"' in html
    as_user(client, w.silk_user)
    html = client.get("/en/seller/messages/").content.decode()
    assert unread_in_header(html) == 0 and 'data-testid="portal-unread-count">0<' in html
    post_message(thread, author=w.buyer, side=Side.BUYER, body="ok", language="en")
    assert 'data-testid="portal-unread-count">1<' in client.get("/en/seller/messages/").content.decode()


def test_with_a_translator_each_side_reads_the_other_in_its_language_with_the_original_at_hand(
    client, w, thread, settings
):
    # without a translator: the original only
    html = as_user(client, w.buyer).get(f"/en/messages/{thread.pk}/").content.decode()
    assert "我们会改进。" in html and "[zh-hans→en]" not in html

    settings.MESSAGE_TRANSLATOR = "orders.translator.BracketTranslator"
    html = client.get(f"/en/messages/{thread.pk}/").content.decode()
    assert "[zh-hans→en] 我们会改进。" in html
    assert 'data-testid="message-original"' in html and 'lang="zh-hans">我们会改进。' in html
    html = as_user(client, w.silk_user).get(f"/zh-hans/seller/messages/{thread.pk}/").content.decode()
    assert "[en→zh-hans] It sheds after swimming." in html
    assert "[zh-hans→zh-hans]" not in html  # one's own messages are never translated
    assert Message.objects.get(side=Side.SELLER).translations == {"en": "[zh-hans→en] 我们会改进。"}


# --- Product and seller pages ------------------------------------------------------------------------


def publish(w, thread_ids=(), **summaries):
    return publish_revision(
        seller_id=w.silk.pk,
        author=w.silk_user,
        product_id=w.wig.pk,
        summaries=summaries,
        bodies={"en": "Every weft is glued with a waterproof glue."},
        thread_ids=list(thread_ids),
    )


def test_product_page_history_is_in_the_active_language(client, w, thread):
    publish(w, [thread.pk], en="Waterproof glue", de="Wasserfester Kleber", **{"zh-hans": "防水胶"})
    publish(w, **{"zh-hans": "新的发帽"})  # written in Chinese only
    html = client.get("/en/products/lace-wig/").content.decode()
    assert html.count('data-testid="revision"') == 2 and "Improved after buyer feedback" in html
    assert '<strong lang="en" data-testid="revision-summary">Waterproof glue</strong>' in html
    assert '<strong lang="zh-hans" data-testid="revision-summary">新的发帽</strong>' in html  # any language written
    assert 'data-testid="revision-answers"' in html
    html = client.get("/de/products/lace-wig/").content.decode()
    assert "Wasserfester Kleber" in html and "Waterproof glue" not in html
    html = client.get("/zh-hans/products/lace-wig/").content.decode()
    assert "防水胶" in html and "Waterproof glue" not in html
    assert 'href="/en/messages/new/?product=lace-wig"' in client.get("/en/products/lace-wig/").content.decode()


def test_product_page_query_count_does_not_grow_with_revisions_or_threads(client, w):
    def queries() -> int:
        client.get("/en/products/lace-wig/")  # warm caches
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/en/products/lace-wig/").status_code == 200
        return len(captured.captured_queries)

    without = queries()
    for i in range(4):
        t = open_thread(
            buyer=w.buyer, subject=f"Q{i}", category="question", body="?", language="en", product_id=w.wig.pk
        )
        post_message(t, author=w.silk_user, side=Side.SELLER, body="A", language="en")
    publish(w, en="One")
    one = queries()
    publish(w, en="Two")
    publish(w, en="Three")
    assert queries() == one == without  # warm: the history and the record come from the cache
    html = client.get("/en/products/lace-wig/").content.decode()  # and a new revision shows at once
    assert html.count('data-testid="revision"') == 3 and "Three" in html


def test_product_and_seller_pages_show_the_producers_record(client, w, django_capture_on_commit_callbacks):
    start = timezone.now() - timezone.timedelta(days=5)
    with django_capture_on_commit_callbacks(execute=True):
        for i, hours in enumerate([1, 2, 30]):
            t = open_thread(
                buyer=w.buyer,
                subject=f"Q{i}",
                category="question",
                body="?",
                language="en",
                product_id=w.wig.pk,
                now=start,
            )
            post_message(
                t,
                author=w.silk_user,
                side=Side.SELLER,
                body="A",
                language="en",
                now=start + timezone.timedelta(hours=hours),
            )
            if i < 2:
                resolve_thread(t, actor=w.buyer, side=Side.BUYER)
    html = client.get("/en/products/lace-wig/").content.decode()
    assert 'data-testid="response-median" data-minutes="120"' in html and "2 hours" in html
    assert 'data-testid="share-resolved" data-percent="66"' in html and "66% of 3 buyer conversations resolved" in html
    html = client.get("/en/sellers/silk/").content.decode()
    assert 'data-testid="share-resolved" data-percent="66"' in html
    assert "Usually answers within" in html and "2 hours" in html  # catalog's own line, filled by the threads
    html = client.get("/en/sellers/olive/").content.decode()
    assert "Not enough conversations yet" in html and 'data-testid="share-resolved"' not in html


def test_seller_publishes_a_revision_linked_to_its_threads_only(client, w, thread):
    other = open_thread(
        buyer=w.other_buyer, subject="Oil", category="question", body="?", language="en", product_id=w.olive_oil.pk
    )
    as_user(client, w.silk_user)
    html = client.get(f"/zh-hans/seller/messages/revisions/new/?product={w.wig.pk}&thread={thread.pk}").content.decode()
    boxes = re.findall(r'<input type="checkbox" name="threads" value="(\d+)"[^>]*?( checked)?>', html)
    assert boxes == [(str(thread.pk), " checked")]  # the product's threads only, this one ticked

    # another seller's product or thread, no text at all: a clear error, nothing saved
    for data in (
        {"product": w.olive_oil.pk, "summary_en": "x"},
        {"product": w.wig.pk, "summary_en": "x", "threads": [other.pk]},
        {"product": w.wig.pk},
    ):
        response = client.post("/zh-hans/seller/messages/revisions/new/", data)
        assert response.status_code == 400 and errors(response.content.decode())
    assert ProductRevision.objects.count() == 0

    response = client.post(
        "/zh-hans/seller/messages/revisions/new/",
        {"product": w.wig.pk, "summary_zh-hans": "防水胶", "summary_en": "Waterproof glue", "threads": [thread.pk]},
    )
    assert response.status_code == 302
    revision = ProductRevision.objects.get()
    assert (revision.summary_zh_hans, revision.summary_en) == ("防水胶", "Waterproof glue")
    assert list(revision.threads.all()) == [thread]
    assert (
        as_user(client, w.olive_user)
        .get("/en/seller/messages/revisions/")
        .content.decode()
        .count('data-testid="portal-revision"')
        == 0
    )
    html = as_user(client, w.buyer).get(f"/en/messages/{thread.pk}/").content.decode()
    assert 'data-testid="thread-revision"' in html and "Waterproof glue" in html


def test_order_page_offers_feedback_on_each_line(client, w):
    html = as_user(client, w.buyer).get(f"/en/orders/{w.line.order.number}/").content.decode()
    assert f'href="/en/messages/new/?line={w.line.pk}" data-testid="line-feedback"' in html
