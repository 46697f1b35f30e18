"""E-mails of the feedback threads, each in its recipient's language (called by ``feedback_tasks``).

* New messages: one e-mail per recipient for a burst. ``claim_due_digests`` finds the inboxes
  whose ``<side>_notify_at`` fell due and pushes it ``CLAIM_SECONDS`` ahead (so a second beat does
  not queue them twice); ``send_digest`` sends one e-mail covering every message the recipient has
  neither read nor been e-mailed about, then moves ``<side>_notified_upto_id``. If sending fails,
  the claim runs out and the next beat tries again (at least once; a resend covers the same
  messages, never fewer).
* A daily reminder to producers with conversations waiting more than 48 hours.
* A published revision: each buyer of a linked thread once (``RevisionLink.notified_at``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Max, Q
from django.db.models.functions import Greatest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from catalog.models import Seller
from marketplace.models import User

from .feedback_models import LATE_ANSWER_HOURS, FeedbackThread, Message, RevisionLink, Side

CLAIM_SECONDS = 600  # a claimed inbox is retried after this long if its e-mail was not sent
DIGEST_BATCH = 500  # threads claimed per beat run and side
REMINDER_EVERY_HOURS = 20  # at most one reminder a day per thread (beat runs daily)
LANGUAGE_CODES = {code for code, _name in settings.LANGUAGES}


def recipient_language(user: User) -> str:
    """The user's chosen language, else the language they last wrote in, else the site default."""
    if user.preferred_language in LANGUAGE_CODES:
        return user.preferred_language
    last = Message.objects.filter(author=user).order_by("-pk").values_list("language", flat=True).first()
    return last if last in LANGUAGE_CODES else settings.LANGUAGE_CODE


def absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def thread_url(thread: FeedbackThread, side: str) -> str:
    """The thread's page for ``side``, in the active language."""
    if side == Side.SELLER:
        return absolute(reverse("seller-messages:thread", kwargs={"pk": thread.pk}))
    return absolute(reverse("orders:thread-detail", kwargs={"pk": thread.pk}))


def buyer_name(user: User) -> str:
    return user.first_name or _("A buyer")


def _email(
    template: str, context: dict[str, Any], *, to: User, language: str, subject: Callable[[], str]
) -> EmailMultiAlternatives:
    with translation.override(language):
        context = {**context, "language": language, "recipient": to}
        text = render_to_string(f"orders/email/{template}.txt", context)
        html = render_to_string(f"orders/email/{template}.html", context)
        message = EmailMultiAlternatives(subject(), text, settings.DEFAULT_FROM_EMAIL, [to.email])
    message.attach_alternative(html, "text/html")
    return message


def _send(messages: list[EmailMultiAlternatives]) -> int:
    if not messages:
        return 0
    with get_connection() as connection:
        return connection.send_messages(messages) or 0


def _recipients(side: str, owner_id: int) -> list[User]:
    if side == Side.BUYER:
        return list(User.objects.filter(pk=owner_id, is_active=True))
    return list(User.objects.filter(seller_membership__seller_id=owner_id, is_active=True).order_by("pk"))


# --- New messages -----------------------------------------------------------------------------------


def claim_due_digests(*, now: datetime | None = None) -> list[tuple[str, int]]:
    """(side, owner id) of every inbox with an e-mail due; their threads are claimed for a while."""
    now = now or timezone.now()
    owners: list[tuple[str, int]] = []
    for side, owner_field in ((Side.BUYER, "buyer_id"), (Side.SELLER, "seller_id")):
        notify_at = f"{side}_notify_at"
        with transaction.atomic():
            rows = list(
                FeedbackThread.objects.select_for_update(of=("self",), no_key=True)
                .filter(**{f"{notify_at}__lte": now})
                .order_by("pk")
                .values_list("pk", owner_field)[:DIGEST_BATCH]
            )
            FeedbackThread.objects.filter(pk__in=[pk for pk, _owner in rows]).update(
                **{notify_at: now + timedelta(seconds=CLAIM_SECONDS)}
            )
        owners.extend((side, owner) for owner in sorted({owner for _pk, owner in rows}))
    return owners


@dataclass
class DigestThread:
    thread: FeedbackThread
    messages: list[Message] = field(default_factory=list)


def _pending_messages(side: str, threads: list[FeedbackThread]) -> list[Message]:
    notified, read = f"thread__{side}_notified_upto_id", f"thread__{side}_last_read_id"
    return list(
        Message.objects.filter(thread__in=[t.pk for t in threads], hidden=False)
        .exclude(side=side)
        .filter(pk__gt=Greatest(F(notified), F(read)))
        .order_by("thread_id", "pk")
    )


def send_digest(side: str, owner_id: int, *, now: datetime | None = None) -> int:
    """One e-mail to each recipient of an inbox (the buyer, or each user of the seller) covering
    every message they have neither read nor been told about. Returns the number of e-mails."""
    now = now or timezone.now()
    owner_field = "buyer_id" if side == Side.BUYER else "seller_id"
    threads = list(
        FeedbackThread.objects.filter(**{owner_field: owner_id, f"{side}_notify_at__isnull": False})
        .select_related("product", "seller", "buyer")
        .order_by("pk")
    )
    if not threads:
        return 0
    pending = _pending_messages(side, threads)
    by_thread = {t.pk: DigestThread(t) for t in threads}
    for message in pending:
        by_thread[message.thread_id].messages.append(message)
    groups = [group for group in by_thread.values() if group.messages]
    emails = []
    for user in _recipients(side, owner_id) if groups else []:
        language = recipient_language(user)
        count = len(pending)
        with translation.override(language):
            items = [
                {
                    "thread": g.thread,
                    "product_name": g.thread.product.name,
                    "url": thread_url(g.thread, side),
                    "messages": g.messages,
                    "sender": g.thread.seller.name if side == Side.BUYER else buyer_name(g.thread.buyer),
                }
                for g in groups
            ]
            inbox = absolute(reverse("seller-messages:inbox" if side == Side.SELLER else "orders:thread-list"))
        emails.append(
            _email(
                "feedback_digest",
                {"items": items, "count": count, "inbox_url": inbox, "side": side},
                to=user,
                language=language,
                subject=lambda count=count: (
                    ngettext(
                        "You have %(n)s new message on Borderless Market",
                        "You have %(n)s new messages on Borderless Market",
                        count,
                    )
                    % {"n": count}
                ),
            )
        )
    sent = _send(emails)
    sent_upto = {g.thread.pk: max(m.pk for m in g.messages) for g in groups}
    _finish_digest(side, [t.pk for t in threads], sent_upto)
    return sent


@transaction.atomic
def _finish_digest(side: str, thread_ids: list[int], sent_upto: dict[int, int]) -> None:
    """Record what was e-mailed; a thread with nothing newer left stops being "pending"."""
    notified, pending, notify_at = f"{side}_notified_upto_id", f"{side}_pending_since", f"{side}_notify_at"
    rows = list(
        FeedbackThread.objects.select_for_update(of=("self",), no_key=True).filter(pk__in=thread_ids).order_by("pk")
    )
    latest = dict(
        Message.objects.filter(thread_id__in=thread_ids, hidden=False)
        .exclude(side=side)
        .values("thread_id")
        .annotate(last=Max("pk"))
        .values_list("thread_id", "last")
    )
    for thread in rows:
        upto = max(getattr(thread, notified), sent_upto.get(thread.pk, 0))
        fields = {notified: upto}
        newest_seen = max(upto, getattr(thread, f"{side}_last_read_id"))
        if latest.get(thread.pk, 0) <= newest_seen:
            fields.update({pending: None, notify_at: None})
        FeedbackThread.objects.filter(pk=thread.pk).update(**fields)


# --- Reminders to producers -------------------------------------------------------------------------


def _waiting(now: datetime) -> Q:
    reminded_recently = Q(seller_reminded_at__gt=now - timedelta(hours=REMINDER_EVERY_HOURS))
    return (
        Q(
            status__in=FeedbackThread.SELLER_TURN,
            locked=False,
            seller_turn_since__lte=now - timedelta(hours=LATE_ANSWER_HOURS),
        )
        & ~reminded_recently
    )


def sellers_to_remind(*, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return sorted(set(FeedbackThread.objects.filter(_waiting(now)).values_list("seller_id", flat=True)))


def send_reminder(seller_id: int, *, now: datetime | None = None) -> int:
    """One e-mail to each user of the seller listing the conversations waiting over 48 hours; a
    thread is in at most one reminder a day. Returns the number of e-mails."""
    now = now or timezone.now()
    with transaction.atomic():
        threads = list(
            FeedbackThread.objects.select_for_update(of=("self",), no_key=True)
            .filter(_waiting(now), seller_id=seller_id)
            .order_by("pk")
        )
        if not threads:
            return 0
        FeedbackThread.objects.filter(pk__in=[t.pk for t in threads]).update(seller_reminded_at=now)
    threads = list(
        FeedbackThread.objects.filter(pk__in=[t.pk for t in threads])
        .select_related("product", "buyer")
        .order_by("seller_turn_since", "pk")
    )
    seller = Seller.objects.get(pk=seller_id)
    emails = []
    for user in _recipients(Side.SELLER, seller_id):
        language = recipient_language(user)
        with translation.override(language):
            items = [
                {
                    "thread": t,
                    "product_name": t.product.name,
                    "url": thread_url(t, Side.SELLER),
                    "hours": int((now - t.seller_turn_since).total_seconds() // 3600),
                    "sender": buyer_name(t.buyer),
                }
                for t in threads
            ]
        count = len(items)
        emails.append(
            _email(
                "feedback_reminder",
                {"items": items, "seller": seller, "count": count},
                to=user,
                language=language,
                subject=lambda n=count: (
                    ngettext(
                        "%(n)s buyer has waited more than 48 hours for your answer",
                        "%(n)s buyers have waited more than 48 hours for your answer",
                        n,
                    )
                    % {"n": n}
                ),
            )
        )
    return _send(emails)


# --- Revisions --------------------------------------------------------------------------------------


@transaction.atomic
def send_revision_notices(revision_id: int, *, now: datetime | None = None) -> int:
    """Each buyer of a thread the revision answers gets one e-mail (however many of their threads
    it answers); links already notified are skipped, so running twice sends nothing more."""
    now = now or timezone.now()
    links = list(
        RevisionLink.objects.select_for_update(of=("self",), no_key=True)
        .filter(revision_id=revision_id, notified_at=None)
        .select_related("revision__product", "revision__seller", "thread__buyer")
        .order_by("pk")
    )
    by_buyer: dict[int, list[RevisionLink]] = defaultdict(list)
    for link in links:
        by_buyer[link.thread.buyer_id].append(link)
    emails = []
    for buyer_links in by_buyer.values():
        buyer = buyer_links[0].thread.buyer
        if not buyer.is_active:
            continue
        revision = buyer_links[0].revision
        language = recipient_language(buyer)
        with translation.override(language):
            summary, summary_language = revision.text("summary", language)
            body, body_language = revision.text("body", language)
            context = {
                "revision": revision,
                "product_name": revision.product.name,
                "seller": revision.seller,
                "summary": summary,
                "summary_language": summary_language,
                "body": body,
                "body_language": body_language,
                "product_url": absolute(revision.product.get_absolute_url()),
                "threads": [
                    {"thread": link.thread, "url": thread_url(link.thread, Side.BUYER)} for link in buyer_links
                ],
            }
        emails.append(
            _email(
                "feedback_revision",
                context,
                to=buyer,
                language=language,
                subject=lambda name=context["product_name"], seller=revision.seller.name: (
                    _("%(seller)s improved %(product)s after your feedback") % {"seller": seller, "product": name}
                ),
            )
        )
    RevisionLink.objects.filter(pk__in=[link.pk for link in links]).update(notified_at=now)
    return _send(emails)
