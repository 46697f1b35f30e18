"""The buyer's e-mails about an order: confirmed, shipped, delivered, cancelled.

Each is written in the order's language (``Order.language``), with every amount in the order's
currency formatted for that language (``marketplace.money.format_money``), as HTML (with the
language's direction) and plain text (``EmailMultiAlternatives``).

Each goes out once per (order, kind), through ``OrderNotification``:

1. claim the row under a lock (skip it when already sent, or when another worker claimed it less
   than ``CLAIM_FOR`` ago) and commit;
2. send, outside any transaction (STYLE.md, 7: never call out while holding a lock);
3. stamp ``sent_at``; on failure, drop the claim and raise, so the task retries with backoff.

A worker that dies between 2 and 3 leaves a claim that runs out after ``CLAIM_FOR``; the e-mail
may then go out twice, never zero times (at least once, and once in every other case).

An e-mail is only sent once the order has reached its status (its timeline has the event): a
task queued early, or for an order that never got there, sends nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_countries import countries
from djmoney.money import Money

from logistics.models import Shipment
from marketplace.money import format_money

from .fulfilment import record_event
from .models import Order, OrderEvent, OrderNotification

Kind = OrderNotification.Kind
Status = Order.Status

CLAIM_FOR = timedelta(minutes=15)  # longer than any SMTP timeout: a live claim means "being sent"
NOTIFICATION_FOR_STATUS: dict[str, str] = {
    Status.CONFIRMED: Kind.CONFIRMATION,
    Status.SHIPPED: Kind.SHIPPED,
    Status.DELIVERED: Kind.DELIVERED,
    Status.CANCELLED: Kind.CANCELLED,
}
STATUS_FOR_NOTIFICATION = {kind: status for status, kind in NOTIFICATION_FOR_STATUS.items()}
EVENT_FOR_NOTIFICATION: dict[str, str] = {
    Kind.CONFIRMATION: OrderEvent.Kind.CONFIRMED,
    Kind.SHIPPED: OrderEvent.Kind.SHIPPED,
    Kind.DELIVERED: OrderEvent.Kind.DELIVERED,
    Kind.CANCELLED: OrderEvent.Kind.CANCELLED,
}
MONEY_ROWS = (
    ("goods", gettext_lazy("Goods")),
    ("shipping", gettext_lazy("Shipping")),
    ("duties", gettext_lazy("Duties")),
    ("taxes", gettext_lazy("Taxes")),
    ("fees", gettext_lazy("Fees")),
)


def send_notification(order_id: int, kind: str, *, again: bool = False) -> bool:
    """Send the e-mail ``kind`` about the order unless it was sent (``again``: an operator sends it
    once more). True when this call sent it."""
    if kind not in EVENT_FOR_NOTIFICATION:
        raise ValueError(f"Unknown order e-mail {kind!r}.")
    claim = _claim(order_id, kind, again=again)
    if claim is None:
        return False
    try:
        order = Order.objects.prefetch_related("lines").get(pk=order_id)
        build_message(order, kind).send()
    except Exception as exc:
        OrderNotification.objects.filter(pk=claim.pk).update(
            claimed_at=None, last_error=(str(exc) or exc.__class__.__name__)[:300], updated_at=timezone.now()
        )
        raise
    now = timezone.now()
    OrderNotification.objects.filter(pk=claim.pk).update(
        sent_at=now, claimed_at=None, last_error="", updated_at=now, **({"resent": F("resent") + 1} if again else {})
    )
    return True


def resend_notification(order: Order, kind: str) -> bool:
    """An operator sends the e-mail again (admin action). Refused (False) before the order reached
    the status, or while another worker is sending it."""
    return send_notification(order.pk, kind, again=True)


@transaction.atomic
def _claim(order_id: int, kind: str, *, again: bool) -> OrderNotification | None:
    order = Order.objects.filter(pk=order_id).only("pk", "status", "email", "language").first()
    if order is None or not _reached(order, kind):
        return None
    OrderNotification.objects.bulk_create([OrderNotification(order_id=order_id, kind=kind)], ignore_conflicts=True)
    row = OrderNotification.objects.select_for_update().get(order_id=order_id, kind=kind)
    now = timezone.now()
    if row.sent_at is not None and not again:
        return None
    if row.claimed_at is not None and row.claimed_at > now - CLAIM_FOR:
        return None
    row.claimed_at, row.attempts = now, row.attempts + 1
    row.recipient, row.language = order.email, order.language
    row.save(update_fields=["claimed_at", "attempts", "recipient", "language", "updated_at"])
    return row


def _reached(order: Order, kind: str) -> bool:
    """The order's timeline has the event for ``kind``; or the order is in that status now (an
    update that bypassed ``save``), which is then recorded."""
    event = EVENT_FOR_NOTIFICATION[kind]
    if OrderEvent.objects.filter(order_id=order.pk, kind=event, key="").exists():
        return True
    if order.status == STATUS_FOR_NOTIFICATION[kind]:
        record_event(order.pk, event)
        return True
    return False


# --- The message ------------------------------------------------------------------------------------


def build_message(order: Order, kind: str) -> EmailMultiAlternatives:
    """The e-mail, rendered in the order's language: subject, text body, HTML alternative."""
    with translation.override(order.language):
        context = message_context(order, kind)
        text = render_to_string(f"orders/email/{kind}.txt", context)
        html = render_to_string(f"orders/email/{kind}.html", context)
    message = EmailMultiAlternatives(
        subject=context["subject"],
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[order.email],
        headers={"Content-Language": order.language, "X-Order-Number": order.number},
    )
    message.attach_alternative(html, "text/html")
    return message


def _subject(kind: str, number: str) -> str:
    subjects = {
        Kind.CONFIRMATION: _("Your order %(number)s is confirmed"),
        Kind.SHIPPED: _("Your order %(number)s is on its way"),
        Kind.DELIVERED: _("Your order %(number)s was delivered"),
        Kind.CANCELLED: _("Your order %(number)s was cancelled"),
    }
    return subjects[kind] % {"number": number}


def order_url(order: Order) -> str:
    """The order page in the buyer's language, absolute (``SITE_URL``, default the local server)."""
    base = getattr(settings, "SITE_URL", "") or "http://127.0.0.1:8000"
    with translation.override(order.language):
        path = reverse("orders:order-detail", kwargs={"number": order.number})
    return base.rstrip("/") + path


def message_context(order: Order, kind: str) -> dict[str, Any]:
    """Everything the templates show, amounts already formatted (call under the order's language)."""
    language = order.language

    def money(value: Money) -> str:
        return format_money(value, language)

    lines = [
        {
            "name": line.name,
            "sku": line.sku,
            "quantity": line.quantity,
            "unit_price": money(line.unit_price),
            "total": money(line.line_total),
        }
        for line in order.lines.all()
    ]
    totals = [
        (str(label), money(getattr(order, field)))
        for field, label in MONEY_ROWS
        if getattr(order, field).amount != 0 or field == "goods"
    ]
    shipments = []
    if kind in (Kind.SHIPPED, Kind.DELIVERED):
        shipments = [
            {
                "from_city": s.warehouse.city,
                "carrier": s.carrier,
                "tracking_number": s.tracking_number,
                "status": s.get_status_display(),
            }
            for s in Shipment.objects.filter(order_number=order.number).select_related("warehouse").order_by("pk")
        ]
    address = order.shipping_address or {}
    city = " ".join(part for part in (address.get("postal_code", ""), address.get("city", "")) if part)
    return {
        "kind": kind,
        "subject": _subject(kind, order.number),
        "language": language,
        "direction": "rtl" if translation.get_language_bidi() else "ltr",
        "order": order,
        "name": address.get("name", ""),
        "number": order.number,
        "placed_at": order.created_at,
        "order_url": order_url(order),
        "lines": lines,
        "totals": totals,
        "total": money(order.total),
        "due_at_door": money(order.due_at_door) if order.due_at_door.amount > 0 else "",
        "address_lines": [
            part
            for part in (
                address.get("name"),
                address.get("line1"),
                address.get("line2"),
                city,
                countries.name(address.get("country", "")),
            )
            if part
        ],
        "shipments": shipments,
    }
