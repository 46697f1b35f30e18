"""Writes of the feedback threads (STYLE.md, 2): open a thread, post a message, resolve, reopen,
mark read, publish a product revision, and the operators' hide / lock, plus abuse reports.

Every write is atomic, locks the thread row (``lock_thread``) before a read-then-write, and is
idempotent: a form's ``client_key`` makes a double submit return the first result, and resolving
a resolved thread or reading a read thread changes nothing. Permission to *see* a thread is checked
by the selectors (``orders.feedback_selectors``); the services check again that the acting user is
the side they act for.

E-mail is never sent from here: a message marks the other side "has news" (``<side>_pending_since``)
and when to tell them (``<side>_notify_at``: a quiet period after the latest message, at most
``FEEDBACK_EMAIL_MAX_DELAY_SECONDS`` after the first), and ``orders.feedback_tasks`` sends one
e-mail per recipient for the whole burst.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import PurePath

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.images import make_thumbnail, validate_image
from catalog.models import Product
from catalog.selectors import visible_products
from marketplace.models import User

from .feedback_exceptions import (
    CannotReport,
    EmptyMessage,
    InvalidPhoto,
    InvalidRevision,
    InvalidThread,
    InvalidTransition,
    MessageTooLong,
    NotYourPurchase,
    OwnProduct,
    ProductNotAvailable,
    RateLimited,
    ThreadLocked,
    ThreadResolved,
    TooManyPhotos,
)
from .feedback_models import (
    LATE_ANSWER_HOURS,
    MAX_MESSAGE_CHARS,
    MAX_PHOTOS_PER_MESSAGE,
    MAX_SUBJECT_CHARS,
    AbuseReport,
    FeedbackThread,
    Message,
    MessagePhoto,
    ProductRevision,
    RevisionLink,
    Side,
)
from .feedback_selectors import STATS_CACHE_KEY, acting_seller_id, side_of
from .models import Order, OrderLine

Status = FeedbackThread.Status
LANGUAGE_CODES = [code for code, _name in settings.LANGUAGES]
MAX_REVISION_SUMMARY = 200
# Orders whose lines a buyer may give "verified purchase" feedback on: paid (or COD accepted) onwards.
FEEDBACK_ORDER_STATUSES = (
    Order.Status.CONFIRMED,
    Order.Status.FULFILLING,
    Order.Status.SHIPPED,
    Order.Status.DELIVERED,
    Order.Status.REFUNDED,
)
# Every thread column a message, resolve or reopen may change (saved together, STYLE.md 6).
_THREAD_STATE_FIELDS = [
    "status",
    "resolved_at",
    "resolved_by",
    "last_message_at",
    "last_buyer_message_at",
    "last_seller_message_at",
    "seller_turn_since",
    "first_seller_response_at",
    "first_response_seconds",
    "late_answers",
    "seller_reminded_at",
    "buyer_last_read_id",
    "seller_last_read_id",
    "buyer_pending_since",
    "buyer_notify_at",
    "seller_pending_since",
    "seller_notify_at",
    "updated_at",
]


def lock_thread(thread_id: int) -> FeedbackThread:
    return FeedbackThread.objects.select_for_update(of=("self",), no_key=True).get(pk=thread_id)


# --- Input checks (the forms check too; the services never trust a caller) -------------------------


def clean_body(body: str | None) -> str:
    text = (body or "").replace("\x00", "").replace("\r\n", "\n").strip()
    if not text:
        raise EmptyMessage()
    if len(text) > MAX_MESSAGE_CHARS:
        raise MessageTooLong(length=len(text))
    return text


def clean_subject(subject: str | None) -> str:
    text = " ".join((subject or "").split())
    if not text or len(text) > MAX_SUBJECT_CHARS:
        raise InvalidThread(_("Write a subject of at most %(n)s characters.") % {"n": MAX_SUBJECT_CHARS})
    return text


def clean_language(language: str | None) -> str:
    return language if language in LANGUAGE_CODES else settings.LANGUAGE_CODE


def check_photos(photos: Iterable[UploadedFile]) -> list[UploadedFile]:
    """JPEG, PNG or WebP within the catalog's image limits (``catalog.images``), at most four."""
    uploads = [p for p in photos if p]
    if len(uploads) > MAX_PHOTOS_PER_MESSAGE:
        raise TooManyPhotos()
    for upload in uploads:
        try:
            validate_image(upload)
        except ValidationError as exc:
            raise InvalidPhoto(" ".join(exc.messages)) from exc
    return uploads


def check_rate_limit(user: User, action: str) -> None:
    """A fixed-window counter in the cache per user and action (``settings.FEEDBACK_RATE_LIMITS``:
    action -> (how many, per seconds)). Raises ``RateLimited`` beyond the limit."""
    limit, window = settings.FEEDBACK_RATE_LIMITS[action]
    now = time.time()
    key = f"feedback:rate:{action}:{user.pk}:{int(now // window)}"
    cache.add(key, 0, timeout=window)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window)
        count = 1
    if count > limit:
        raise RateLimited(minutes=max(1, math.ceil((window - now % window) / 60)))


# --- Threads and messages ---------------------------------------------------------------------------


def _save_photos(message: Message, uploads: Sequence[UploadedFile]) -> None:
    for upload in uploads:
        photo = MessagePhoto(message=message)
        suffix = PurePath(upload.name or "photo.jpg").suffix.lower() or ".jpg"
        photo.image.save(f"photo{suffix}", upload, save=False)
        photo.thumbnail.save("thumb.webp", make_thumbnail(upload, uuid.uuid4().hex), save=False)
        photo.save()


def _notify_later(thread: FeedbackThread, recipient: str, now: datetime) -> None:
    """The recipient side has news: e-mail them after a quiet period, or at the latest
    ``FEEDBACK_EMAIL_MAX_DELAY_SECONDS`` after the burst's first message."""
    since = getattr(thread, f"{recipient}_pending_since") or now
    quiet = now + timedelta(seconds=settings.FEEDBACK_EMAIL_QUIET_SECONDS)
    latest = since + timedelta(seconds=settings.FEEDBACK_EMAIL_MAX_DELAY_SECONDS)
    setattr(thread, f"{recipient}_pending_since", since)
    setattr(thread, f"{recipient}_notify_at", min(quiet, latest))


def _append(
    thread: FeedbackThread,
    *,
    side: str,
    author: User,
    body: str,
    language: str,
    uploads: Sequence[UploadedFile],
    client_key: uuid.UUID | None,
    now: datetime,
) -> Message:
    """Add a message to a locked thread and move its status, timers and markers."""
    message = Message.objects.create(
        thread=thread, author=author, side=side, body=body, language=language, client_key=client_key
    )
    _save_photos(message, uploads)
    thread.last_message_at = now
    if side == Side.BUYER:
        thread.last_buyer_message_at = now
        if thread.status == Status.AWAITING_BUYER:
            thread.status = Status.AWAITING_SELLER
        thread.seller_turn_since = thread.seller_turn_since or now
        thread.buyer_last_read_id = max(thread.buyer_last_read_id, message.pk)
        _notify_later(thread, Side.SELLER, now)
    else:
        waited_since = thread.seller_turn_since
        thread.last_seller_message_at = now
        if thread.status in FeedbackThread.SELLER_TURN:
            thread.status = Status.AWAITING_BUYER
        if waited_since is not None and now - waited_since > timedelta(hours=LATE_ANSWER_HOURS):
            thread.late_answers += 1
        if thread.first_seller_response_at is None:
            thread.first_seller_response_at = now
            start = waited_since or thread.created_at
            thread.first_response_seconds = max(0, int((now - start).total_seconds()))
        thread.seller_turn_since = None
        thread.seller_reminded_at = None
        thread.seller_last_read_id = max(thread.seller_last_read_id, message.pk)
        _notify_later(thread, Side.BUYER, now)
    thread.save(update_fields=_THREAD_STATE_FIELDS)
    return message


def _after_change(thread: FeedbackThread, *, first_answer: bool = False) -> None:
    seller_id = thread.seller_id

    def run() -> None:
        cache.delete(STATS_CACHE_KEY.format(seller_id=seller_id))
        if first_answer:
            from .feedback_tasks import refresh_seller_response_time

            refresh_seller_response_time.delay(seller_id)

    transaction.on_commit(run)


def _check_side(thread: FeedbackThread, user: User, side: str) -> None:
    if side not in (Side.BUYER, Side.SELLER) or side_of(thread, user) != side:
        raise PermissionDenied


def open_thread(
    *,
    buyer: User,
    subject: str,
    category: str,
    body: str,
    language: str,
    product_id: int | None = None,
    order_line_id: int | None = None,
    photos: Iterable[UploadedFile] = (),
    client_key: uuid.UUID | None = None,
    now: datetime | None = None,
) -> FeedbackThread:
    """A buyer writes to the producer of a product they can see (a question), or of an item of
    one of their paid orders (feedback, "verified purchase"). Returns the new thread; the same
    ``client_key`` again returns the same thread."""
    now = now or timezone.now()
    if client_key and (done := FeedbackThread.objects.filter(buyer=buyer, client_key=client_key).first()):
        return done
    subject = clean_subject(subject)
    if category not in FeedbackThread.Category.values:
        raise InvalidThread(_("Choose what your message is about."))
    text = clean_body(body)
    uploads = check_photos(photos)
    line = None
    if order_line_id is not None:
        line = (
            OrderLine.objects.select_related("variant__product__seller")
            .filter(pk=order_line_id, order__buyer=buyer, order__status__in=FEEDBACK_ORDER_STATUSES)
            .first()
        )
        if line is None or line.variant is None:
            raise NotYourPurchase()
        product = line.variant.product
        if product_id is not None and product_id != product.pk:
            raise NotYourPurchase()
    else:
        product = visible_products().select_related("seller").filter(pk=product_id).first() if product_id else None
        if product is None:
            raise ProductNotAvailable()
    if acting_seller_id(buyer) == product.seller_id:
        raise OwnProduct()
    try:
        with transaction.atomic():
            thread = FeedbackThread.objects.create(
                buyer=buyer,
                seller_id=product.seller_id,
                product=product,
                order_line=line,
                client_key=client_key,
                subject=subject,
                category=category,
                status=Status.OPEN,
            )
            _append(
                thread,
                side=Side.BUYER,
                author=buyer,
                body=text,
                language=clean_language(language),
                uploads=uploads,
                client_key=None,
                now=now,
            )
            _after_change(thread)
    except IntegrityError:  # a concurrent double submit with the same key won
        if client_key and (done := FeedbackThread.objects.filter(buyer=buyer, client_key=client_key).first()):
            return done
        raise
    return thread


def post_message(
    thread: FeedbackThread,
    *,
    author: User,
    side: str,
    body: str,
    language: str,
    photos: Iterable[UploadedFile] = (),
    client_key: uuid.UUID | None = None,
    now: datetime | None = None,
) -> Message:
    """Add a message from ``side`` (``author`` must act for it). A buyer writing in a resolved
    thread reopens it; the producer cannot write there. Nobody writes in a locked thread."""
    now = now or timezone.now()
    _check_side(thread, author, side)
    if client_key and (done := Message.objects.filter(thread=thread, client_key=client_key).first()):
        return done
    text = clean_body(body)
    uploads = check_photos(photos)
    try:
        with transaction.atomic():
            locked = lock_thread(thread.pk)
            if locked.locked:
                raise ThreadLocked()
            if locked.status == Status.RESOLVED:
                if side != Side.BUYER:
                    raise ThreadResolved()
                _reopen(locked, now)
            first_answer = side == Side.SELLER and locked.first_seller_response_at is None
            message = _append(
                locked,
                side=side,
                author=author,
                body=text,
                language=clean_language(language),
                uploads=uploads,
                client_key=client_key,
                now=now,
            )
            _after_change(locked, first_answer=first_answer)
    except IntegrityError:
        if client_key and (done := Message.objects.filter(thread=thread, client_key=client_key).first()):
            return done
        raise
    _copy_state(locked, thread)
    return message


def _copy_state(source: FeedbackThread, target: FeedbackThread) -> None:
    if source is not target:
        for field in _THREAD_STATE_FIELDS:
            setattr(target, field, getattr(source, field))


def _reopen(thread: FeedbackThread, now: datetime) -> None:
    if not thread.can_become(Status.OPEN):
        raise InvalidTransition()
    thread.status = Status.OPEN
    thread.resolved_at = None
    thread.resolved_by = ""
    thread.seller_turn_since = now


@transaction.atomic
def resolve_thread(thread: FeedbackThread, *, actor: User, side: str, now: datetime | None = None) -> FeedbackThread:
    """Either side closes the conversation. Resolving a resolved thread changes nothing."""
    _check_side(thread, actor, side)
    now = now or timezone.now()
    locked = lock_thread(thread.pk)
    if locked.status == Status.RESOLVED:
        _copy_state(locked, thread)
        return thread
    if locked.locked:
        raise ThreadLocked()
    if not locked.can_become(Status.RESOLVED):
        raise InvalidTransition()
    locked.status = Status.RESOLVED
    locked.resolved_at = now
    locked.resolved_by = side
    locked.seller_turn_since = None
    locked.save(update_fields=_THREAD_STATE_FIELDS)
    _after_change(locked)
    _copy_state(locked, thread)
    return thread


@transaction.atomic
def reopen_thread(thread: FeedbackThread, *, buyer: User, now: datetime | None = None) -> FeedbackThread:
    """Only the buyer reopens a resolved conversation (-> open: the producer's turn again)."""
    _check_side(thread, buyer, Side.BUYER)
    now = now or timezone.now()
    locked = lock_thread(thread.pk)
    if locked.status != Status.RESOLVED:
        _copy_state(locked, thread)
        return thread
    if locked.locked:
        raise ThreadLocked()
    _reopen(locked, now)
    locked.save(update_fields=_THREAD_STATE_FIELDS)
    _after_change(locked)
    _copy_state(locked, thread)
    return thread


def mark_read(thread: FeedbackThread, *, side: str, upto_id: int) -> None:
    """``side`` has read the thread up to message ``upto_id`` (one UPDATE; never moves backwards)."""
    if side not in (Side.BUYER, Side.SELLER) or not upto_id:
        return
    field = f"{side}_last_read_id"
    FeedbackThread.objects.filter(pk=thread.pk, **{f"{field}__lt": upto_id}).update(**{field: upto_id})
    setattr(thread, field, max(getattr(thread, field), upto_id))


# --- Abuse and moderation ---------------------------------------------------------------------------


def report_abuse(message: Message, *, reporter: User, reason: str = "") -> AbuseReport:
    """A participant reports a message the other side wrote. Reporting twice keeps one report."""
    side = side_of(message.thread, reporter)
    if side not in (Side.BUYER, Side.SELLER):
        raise PermissionDenied
    if message.side == side:
        raise CannotReport()
    report, _created = AbuseReport.objects.get_or_create(
        message=message, reporter=reporter, defaults={"reason": (reason or "").strip()[:2000]}
    )
    return report


@transaction.atomic
def hide_message(message: Message, *, operator: User, reason: str, hidden: bool = True) -> Message:
    """An operator hides (or shows again) a message; participants then see only that it was hidden."""
    if not operator.is_staff:
        raise PermissionDenied
    reason = (reason or "").strip()
    if hidden and not reason:
        raise InvalidThread(_("Give the reason for hiding the message."))
    locked = Message.objects.select_for_update(of=("self",), no_key=True).get(pk=message.pk)
    if locked.hidden == hidden and (not hidden or locked.hidden_reason == reason):
        return locked
    locked.hidden = hidden
    locked.hidden_reason = reason if hidden else ""
    locked.hidden_at = timezone.now() if hidden else None
    locked.hidden_by = operator if hidden else None
    locked.save(update_fields=["hidden", "hidden_reason", "hidden_at", "hidden_by", "updated_at"])
    return locked


@transaction.atomic
def lock_thread_for_moderation(
    thread: FeedbackThread, *, operator: User, reason: str, locked: bool = True
) -> FeedbackThread:
    """An operator locks a conversation (no one can write in it any more) or unlocks it."""
    if not operator.is_staff:
        raise PermissionDenied
    reason = (reason or "").strip()
    if locked and not reason:
        raise InvalidThread(_("Give the reason for locking the conversation."))
    row = lock_thread(thread.pk)
    if row.locked == locked and (not locked or row.locked_reason == reason):
        return row
    row.locked = locked
    row.locked_reason = reason if locked else ""
    row.locked_at = timezone.now() if locked else None
    row.locked_by = operator if locked else None
    row.save(update_fields=["locked", "locked_reason", "locked_at", "locked_by", "updated_at"])
    _after_change(row)
    return row


# --- Product revisions ------------------------------------------------------------------------------


def _column(field: str, language: str) -> str:
    return f"{field}_{language.replace('-', '_')}"


def publish_revision(
    *,
    seller_id: int,
    author: User,
    product_id: int,
    summaries: Mapping[str, str],
    bodies: Mapping[str, str] | None = None,
    thread_ids: Sequence[int] = (),
    client_key: uuid.UUID | None = None,
    now: datetime | None = None,
) -> ProductRevision:
    """A producer publishes what changed in one of their products, in any of the ten languages,
    and links the threads (about that product) it answers. Each linked thread's buyer is e-mailed
    once (``notify_revision``). The same ``client_key`` again returns the same revision."""
    if acting_seller_id(author) != seller_id:
        raise PermissionDenied
    now = now or timezone.now()
    if client_key and (done := ProductRevision.objects.filter(seller_id=seller_id, client_key=client_key).first()):
        return done
    product = Product.objects.filter(pk=product_id, seller_id=seller_id).first()
    if product is None:
        raise InvalidRevision(_("Choose one of your own products."))
    texts = {lang: " ".join((summaries.get(lang) or "").split()) for lang in LANGUAGE_CODES}
    details = {lang: ((bodies or {}).get(lang) or "").replace("\r\n", "\n").strip() for lang in LANGUAGE_CODES}
    if not any(texts.values()):
        raise InvalidRevision(_("Say what changed, in at least one language."))
    if any(len(text) > MAX_REVISION_SUMMARY for text in texts.values()):
        raise InvalidRevision(_("Keep “what changed” to %(n)s characters.") % {"n": MAX_REVISION_SUMMARY})
    if any(len(text) > MAX_MESSAGE_CHARS for text in details.values()):
        raise InvalidRevision(_("Keep the details to %(n)s characters.") % {"n": MAX_MESSAGE_CHARS})
    wanted = sorted(set(thread_ids))
    threads = list(
        FeedbackThread.objects.filter(pk__in=wanted, seller_id=seller_id, product_id=product.pk).order_by("pk")
    )
    if len(threads) != len(wanted):
        raise InvalidRevision(_("A revision can answer only your conversations about this product."))
    try:
        with transaction.atomic():
            revision = ProductRevision(
                product=product, seller_id=seller_id, author=author, client_key=client_key, published_at=now
            )
            for lang in LANGUAGE_CODES:
                setattr(revision, _column("summary", lang), texts[lang])
                setattr(revision, _column("body", lang), details[lang])
            revision.save()
            RevisionLink.objects.bulk_create([RevisionLink(revision=revision, thread=t) for t in threads])
            revision_id = revision.pk

            def notify() -> None:
                from .feedback_tasks import notify_revision

                notify_revision.delay(revision_id)

            transaction.on_commit(notify)
    except IntegrityError:
        if client_key and (done := ProductRevision.objects.filter(seller_id=seller_id, client_key=client_key).first()):
            return done
        raise
    return revision
