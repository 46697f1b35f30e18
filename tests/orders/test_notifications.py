"""The buyer's e-mails (orders.notifications): confirmed, shipped, delivered, cancelled; each once,
in the order's language and currency, HTML (with the language's direction) and text."""

from __future__ import annotations

from datetime import timedelta
from smtplib import SMTPServerDisconnected
from unittest import mock

import pytest
from django.core import mail
from django.utils import timezone, translation

from orders.cancellation import cancel_order
from orders.fulfilment import advance_order
from orders.models import Order, OrderNotification
from orders.notifications import send_notification
from orders.tasks import send_order_notification

from .fulfilment_helpers import confirm, deliver, parcel, place, ship

pytestmark = pytest.mark.django_db


def subject(text: str, order) -> str:
    """The e-mail subject as the buyer reads it: in the order's language."""
    with translation.override(order.language):
        return translation.gettext(text) % {"number": order.number}


def html_of(message) -> str:
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html"
    return html


def test_confirmation_in_japanese_and_yen_once(shop, buyer, mailoutbox, django_capture_on_commit_callbacks):
    # given: a Japanese buyer paying in yen
    order = place(buyer, (shop["oil"], 2), currency="JPY", language="ja")
    assert order.total.amount == order.total.amount.to_integral_value() and order.total.amount > 1000

    # when: the payment confirms it (and a retry saves the status again)
    with django_capture_on_commit_callbacks(execute=True):
        confirm(order)
    with django_capture_on_commit_callbacks(execute=True):
        confirm(order)
    send_order_notification.delay(order.pk, OrderNotification.Kind.CONFIRMATION)

    # then: one e-mail, to the order's address, both parts in yen formatted the Japanese way
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [order.email] and order.number in message.subject
    yen = f"￥{int(order.total.amount):,}"  # full-width yen sign, no decimals, comma groups
    line = f"￥{int(order.lines.get().line_total.amount):,}"
    html = html_of(message)
    assert yen in message.body and yen in html and line in message.body and line in html
    assert "¥" not in message.body  # not the half-width sign English uses
    assert '<html lang="ja" dir="ltr">' in html
    assert "Product oil" in message.body and "Hauptstrasse 1" in message.body
    assert f"/ja/orders/{order.number}/" in message.body and f"/ja/orders/{order.number}/" in html
    assert message.extra_headers["Content-Language"] == "ja"
    row = OrderNotification.objects.get(order=order)
    assert (row.kind, row.recipient, row.language, row.attempts) == ("confirmation", order.email, "ja", 1)
    assert row.sent_at is not None and row.claimed_at is None


def test_arabic_email_reads_right_to_left(shop, buyer, mailoutbox, django_capture_on_commit_callbacks):
    order = place(buyer, (shop["oil"], 1), currency="EUR", language="ar")
    with django_capture_on_commit_callbacks(execute=True):
        confirm(order)

    (message,) = mailoutbox
    html = html_of(message)
    assert '<html lang="ar" dir="rtl">' in html and 'dir="rtl"' in html.split("<body", 1)[1]
    total = f"\u200f{order.total.amount:,.2f}\u00a0€"  # right-to-left mark, Latin digits, € after
    assert total in message.body and total in html
    assert f"/ar/orders/{order.number}/" in message.body


def test_shipped_and_delivered_once_each_with_tracking(shop, buyer, mailoutbox, django_capture_on_commit_callbacks):
    world = shop["world"]
    order = place(buyer, (shop["wig"], 1), (shop["oil"], 1), currency="JPY", language="ja")
    with django_capture_on_commit_callbacks(execute=True):
        confirm(order)
        ship(parcel(order, world.it_origin), "MILAN00001")
    assert [m.subject for m in mailoutbox] == [
        subject("Your order %(number)s is confirmed", order)
    ]  # half shipped: no mail

    with django_capture_on_commit_callbacks(execute=True):
        ship(parcel(order, world.de_fra), "FRANKFURT1")
    with django_capture_on_commit_callbacks(execute=True):
        advance_order(order.pk)  # a repeated signal
    assert len(mailoutbox) == 2
    shipped = mailoutbox[1]
    assert shipped.subject == subject("Your order %(number)s is on its way", order)
    for number in ("MILAN00001", "FRANKFURT1"):
        assert number in shipped.body and number in html_of(shipped)
    assert f"￥{int(order.total.amount):,}" in shipped.body

    with django_capture_on_commit_callbacks(execute=True):
        deliver(parcel(order, world.it_origin))
        deliver(parcel(order, world.de_fra))
    send_order_notification.delay(order.pk, OrderNotification.Kind.DELIVERED)
    send_order_notification.delay(order.pk, OrderNotification.Kind.SHIPPED)

    assert [m.subject for m in mailoutbox] == [
        subject("Your order %(number)s is confirmed", order),
        subject("Your order %(number)s is on its way", order),
        subject("Your order %(number)s was delivered", order),
    ]
    assert OrderNotification.objects.filter(order=order, sent_at__isnull=False).count() == 3


def test_cancelled_once_although_two_receivers_hear_it(shop, buyer, mailoutbox, django_capture_on_commit_callbacks):
    order = place(buyer, (shop["oil"], 1), currency="EUR", language="ar")
    with django_capture_on_commit_callbacks(execute=True):
        confirm(order)
    with django_capture_on_commit_callbacks(execute=True):
        cancel_order(order, reason="buyer")
        cancel_order(order, reason="buyer")

    assert [m.subject for m in mailoutbox][1:] == [subject("Your order %(number)s was cancelled", order)]
    cancelled = mailoutbox[1]
    assert f"\u200f{order.total.amount:,.2f}\u00a0€" in cancelled.body
    assert 'dir="rtl"' in html_of(cancelled)


def test_no_email_before_the_order_gets_there(shop, buyer, mailoutbox):
    order = place(buyer, (shop["oil"], 1))
    for kind in OrderNotification.Kind.values:
        assert send_notification(order.pk, kind) is False
    assert mailoutbox == [] and not OrderNotification.objects.exists()
    assert send_notification(order.pk + 1000, "confirmation") is False  # no such order


def test_a_failed_send_is_retried_and_sent_once(shop, buyer, mailoutbox, django_capture_on_commit_callbacks):
    order = place(buyer, (shop["oil"], 1))
    real_send = mail.backends.locmem.EmailBackend.send_messages
    calls = []

    def flaky(self, messages):
        calls.append(len(messages))
        if len(calls) == 1:
            raise SMTPServerDisconnected("Connection unexpectedly closed")
        return real_send(self, messages)

    with (
        mock.patch.object(mail.backends.locmem.EmailBackend, "send_messages", flaky),
        django_capture_on_commit_callbacks(execute=True),
    ):
        confirm(order)

    assert len(calls) == 2 and len(mailoutbox) == 1  # Celery retried the task (eager: at once)
    row = OrderNotification.objects.get(order=order)
    assert (row.attempts, row.last_error, row.claimed_at) == (2, "", None)


def test_a_live_claim_is_left_alone_a_stale_one_is_taken_over(shop, buyer, mailoutbox):
    order = place(buyer, (shop["oil"], 1))
    Order.objects.filter(pk=order.pk).update(status=Order.Status.CONFIRMED)  # bypassing save: no receiver
    OrderNotification.objects.create(order=order, kind="confirmation", claimed_at=timezone.now())

    assert send_notification(order.pk, "confirmation") is False  # another worker is sending it
    OrderNotification.objects.update(claimed_at=timezone.now() - timedelta(hours=1))  # that worker died
    assert send_notification(order.pk, "confirmation") is True
    assert send_notification(order.pk, "confirmation") is False
    assert len(mailoutbox) == 1
    assert order.events.filter(kind="confirmed").count() == 1  # recorded from the status it found
