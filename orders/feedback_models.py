"""Buyer-to-producer feedback threads, their messages and photos, abuse reports, and the product
revisions that answer them (issue 7). Imported at the bottom of ``orders/models.py``.

A thread is between one buyer and one seller (any of the seller's users answers for it) about one
product; opened from an order line it is a "verified purchase". Whose turn it is drives the status:

    open             new or reopened: the producer has not answered since
    awaiting_seller  the buyer wrote after the producer's answer
    awaiting_buyer   the producer answered
    resolved         either side closed it; the buyer may reopen it (-> open)

Read markers and notification markers are message ids per side (ids only grow), so "unread" is
``id > <side>_last_read_id`` and "not yet e-mailed" is ``id > <side>_notified_upto_id``.
"""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _

from catalog.models import Product
from marketplace.models import TimeStampedModel

MAX_MESSAGE_CHARS = 5000  # a long letter; a 20,000-character paste is refused
MAX_SUBJECT_CHARS = 150
MAX_PHOTOS_PER_MESSAGE = 4
LATE_ANSWER_HOURS = 48  # a producer's answer after this long is "late"; also the reminder threshold
REVISIONS_CACHE_KEY = "feedback:revisions:v1:{product_id}"  # a product's revision history (cached)


def photo_path(instance: MessagePhoto, filename: str) -> str:
    """Unguessable names: photos are private to the thread, served through a checked view."""
    suffix = PurePath(filename).suffix.lower()[:6] or ".jpg"
    return f"feedback/{uuid.uuid4().hex}{suffix}"


def thumbnail_path(instance: MessagePhoto, filename: str) -> str:
    return f"feedback/thumbs/{uuid.uuid4().hex}.webp"


class Side(models.TextChoices):
    BUYER = "buyer", _("buyer")
    SELLER = "seller", _("producer")
    OPERATOR = "operator", _("marketplace team")


class FeedbackThread(TimeStampedModel):
    class Category(models.TextChoices):
        QUESTION = "question", _("question")
        QUALITY = "quality", _("quality problem")
        DELIVERY = "delivery", _("delivery")
        SUGGESTION = "suggestion", _("suggestion")
        PRAISE = "praise", _("praise")

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        AWAITING_SELLER = "awaiting_seller", _("awaiting the producer")
        AWAITING_BUYER = "awaiting_buyer", _("awaiting the buyer")
        RESOLVED = "resolved", _("resolved")

    # Allowed status changes (STYLE.md, 6). A message from the side whose turn it already is
    # keeps the status; everything else is refused by ``can_become``.
    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.OPEN: frozenset({Status.AWAITING_BUYER, Status.RESOLVED}),
        Status.AWAITING_SELLER: frozenset({Status.AWAITING_BUYER, Status.RESOLVED}),
        Status.AWAITING_BUYER: frozenset({Status.AWAITING_SELLER, Status.RESOLVED}),
        Status.RESOLVED: frozenset({Status.OPEN}),
    }
    SELLER_TURN = frozenset({Status.OPEN, Status.AWAITING_SELLER})

    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feedback_threads", verbose_name=_("buyer")
    )
    seller = models.ForeignKey(
        "catalog.Seller", on_delete=models.PROTECT, related_name="feedback_threads", verbose_name=_("producer")
    )
    product = models.ForeignKey(
        "catalog.Product", on_delete=models.PROTECT, related_name="feedback_threads", verbose_name=_("product")
    )
    order_line = models.ForeignKey(
        "orders.OrderLine",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="feedback_threads",
        verbose_name=_("order line (verified purchase)"),
    )
    client_key = models.UUIDField(_("idempotency key"), null=True, blank=True, editable=False)
    subject = models.CharField(_("subject"), max_length=MAX_SUBJECT_CHARS)
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.OPEN)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.CharField(_("resolved by"), max_length=10, choices=Side.choices, blank=True)

    locked = models.BooleanField(_("locked"), default=False)
    locked_reason = models.TextField(_("reason for locking"), blank=True)
    locked_at = models.DateTimeField(_("locked at"), null=True, blank=True)
    locked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("locked by"),
    )

    last_message_at = models.DateTimeField(_("last message at"), null=True, blank=True)
    last_buyer_message_at = models.DateTimeField(_("last message from the buyer"), null=True, blank=True)
    last_seller_message_at = models.DateTimeField(_("last message from the producer"), null=True, blank=True)
    # Since when the producer owes an answer (None while it is the buyer's turn or resolved).
    seller_turn_since = models.DateTimeField(_("waiting for the producer since"), null=True, blank=True)
    first_seller_response_at = models.DateTimeField(_("first answer at"), null=True, blank=True)
    first_response_seconds = models.PositiveIntegerField(_("first answer after (seconds)"), null=True, blank=True)
    late_answers = models.PositiveIntegerField(
        _("late answers"), default=0, help_text=_("Answers the producer gave more than 48 hours after the buyer wrote.")
    )
    seller_reminded_at = models.DateTimeField(_("producer last reminded at"), null=True, blank=True)

    buyer_last_read_id = models.BigIntegerField(_("buyer read up to message"), default=0)
    seller_last_read_id = models.BigIntegerField(_("producer read up to message"), default=0)
    buyer_notified_upto_id = models.BigIntegerField(_("buyer e-mailed up to message"), default=0)
    seller_notified_upto_id = models.BigIntegerField(_("producer e-mailed up to message"), default=0)
    # A burst of messages is e-mailed once, when these fall due (see orders.feedback.post_message).
    buyer_pending_since = models.DateTimeField(_("buyer has news since"), null=True, blank=True)
    buyer_notify_at = models.DateTimeField(_("e-mail the buyer at"), null=True, blank=True)
    seller_pending_since = models.DateTimeField(_("producer has news since"), null=True, blank=True)
    seller_notify_at = models.DateTimeField(_("e-mail the producer at"), null=True, blank=True)

    class Meta:
        verbose_name = _("feedback thread")
        verbose_name_plural = _("feedback threads")
        ordering = ["-last_message_at", "-pk"]
        indexes = [
            models.Index(fields=["buyer", "-last_message_at"], name="thread_buyer_recent"),
            models.Index(fields=["seller", "status", "-last_message_at"], name="thread_seller_status"),
            models.Index(fields=["product", "status"], name="thread_product_status"),
            models.Index(fields=["buyer_notify_at"], name="thread_buyer_notify_at"),
            models.Index(fields=["seller_notify_at"], name="thread_seller_notify_at"),
            models.Index(fields=["seller_turn_since"], name="thread_seller_turn_since"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["buyer", "client_key"], condition=Q(client_key__isnull=False), name="thread_once_per_key"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "awaiting_seller", "awaiting_buyer", "resolved"]),
                name="thread_status_known",
            ),
            models.CheckConstraint(condition=~Q(subject=""), name="thread_subject_not_empty"),
            models.CheckConstraint(condition=Q(locked=False) | ~Q(locked_reason=""), name="thread_lock_has_reason"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    def can_become(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, frozenset())

    @property
    def verified_purchase(self) -> bool:
        return self.order_line_id is not None

    @property
    def seller_turn(self) -> bool:
        return self.status in self.SELLER_TURN


class Message(TimeStampedModel):
    thread = models.ForeignKey(
        FeedbackThread, on_delete=models.CASCADE, related_name="messages", verbose_name=_("thread")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="feedback_messages",
        verbose_name=_("author"),
    )
    side = models.CharField(_("side"), max_length=10, choices=Side.choices)
    body = models.TextField(_("message"))
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    client_key = models.UUIDField(_("idempotency key"), null=True, blank=True, editable=False)
    # Machine translations, filled on demand (orders.translator): {"de": "..."}.
    translations = models.JSONField(_("translations"), default=dict, blank=True, editable=False)
    hidden = models.BooleanField(_("hidden by the marketplace"), default=False)
    hidden_reason = models.TextField(_("reason for hiding"), blank=True)
    hidden_at = models.DateTimeField(_("hidden at"), null=True, blank=True)
    hidden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("hidden by"),
    )

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["thread", "side", "hidden"], name="message_thread_side")]
        constraints = [
            models.UniqueConstraint(
                fields=["thread", "client_key"], condition=Q(client_key__isnull=False), name="message_once_per_key"
            ),
            models.CheckConstraint(condition=~Q(body=""), name="message_body_not_empty"),
            models.CheckConstraint(condition=Q(hidden=False) | ~Q(hidden_reason=""), name="message_hidden_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.get_side_display()} #{self.pk}"


class MessagePhoto(TimeStampedModel):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="photos", verbose_name=_("message"))
    image = models.ImageField(_("photo"), upload_to=photo_path)
    thumbnail = models.ImageField(_("thumbnail"), upload_to=thumbnail_path, blank=True)

    class Meta:
        verbose_name = _("message photo")
        verbose_name_plural = _("message photos")
        ordering = ["message", "pk"]

    def __str__(self) -> str:
        return f"photo {self.pk} of message {self.message_id}"


class AbuseReport(TimeStampedModel):
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="abuse_reports", verbose_name=_("message")
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="abuse_reports", verbose_name=_("reported by")
    )
    reason = models.TextField(_("reason"), blank=True)
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("handled by"),
    )

    class Meta:
        verbose_name = _("abuse report")
        verbose_name_plural = _("abuse reports")
        ordering = ["handled_at", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["message", "reporter"], name="abuse_report_once_per_reporter"),
        ]

    def __str__(self) -> str:
        return f"report {self.pk} on message {self.message_id}"


class ProductRevision(TimeStampedModel):
    """What a producer changed in a product, in their languages (``summary``/``body`` are
    translated with modeltranslation, ``orders/translation.py``), and the threads it answers."""

    product = models.ForeignKey(
        "catalog.Product", on_delete=models.PROTECT, related_name="revisions", verbose_name=_("product")
    )
    seller = models.ForeignKey(
        "catalog.Seller", on_delete=models.PROTECT, related_name="product_revisions", verbose_name=_("producer")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("published by"),
    )
    client_key = models.UUIDField(_("idempotency key"), null=True, blank=True, editable=False)
    summary = models.CharField(_("what changed"), max_length=200)
    body = models.TextField(_("details"), blank=True)
    published_at = models.DateTimeField(_("published at"))
    threads = models.ManyToManyField(
        FeedbackThread, through="RevisionLink", related_name="revisions", blank=True, verbose_name=_("answers")
    )

    class Meta:
        verbose_name = _("product revision")
        verbose_name_plural = _("product revisions")
        ordering = ["-published_at", "-pk"]
        indexes = [models.Index(fields=["product", "-published_at"], name="revision_product_recent")]
        constraints = [
            models.UniqueConstraint(
                fields=["seller", "client_key"], condition=Q(client_key__isnull=False), name="revision_once_per_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.summary}"

    def text(self, field: str, language: str) -> tuple[str, str]:
        """(text, its language): the active language, then English, then any language written."""
        codes = [language, settings.MODELTRANSLATION_DEFAULT_LANGUAGE] + [c for c, _n in settings.LANGUAGES]
        for code in codes:
            value = getattr(self, f"{field}_{code.replace('-', '_')}", "") or ""
            if value:
                return value, code
        return "", language


class RevisionLink(TimeStampedModel):
    """A revision answers a thread; ``notified_at`` is when the thread's buyer was told."""

    revision = models.ForeignKey(
        ProductRevision, on_delete=models.CASCADE, related_name="links", verbose_name=_("revision")
    )
    thread = models.ForeignKey(
        FeedbackThread, on_delete=models.CASCADE, related_name="revision_links", verbose_name=_("thread")
    )
    notified_at = models.DateTimeField(_("buyer notified at"), null=True, blank=True)

    class Meta:
        verbose_name = _("revision link")
        verbose_name_plural = _("revision links")
        ordering = ["revision", "thread"]
        constraints = [models.UniqueConstraint(fields=["revision", "thread"], name="revision_link_once")]

    def __str__(self) -> str:
        return f"revision {self.revision_id} answers thread {self.thread_id}"


class ProductFeedback(Product):
    """Operators' per-product view (admin): the product's threads, revisions and their links."""

    class Meta:
        proxy = True
        verbose_name = _("feedback per product")
        verbose_name_plural = _("feedback per product")


def _forget_revisions(sender: type, instance: ProductRevision | RevisionLink, **kwargs: object) -> None:
    """A product's cached revision history (``feedback_selectors.product_revisions``) is dropped
    when one of its revisions or links is saved or deleted, now and again after the commit."""
    from django.core.cache import cache
    from django.db import transaction

    if isinstance(instance, ProductRevision):
        product_id = instance.product_id
    else:
        product_id = (
            ProductRevision.objects.filter(pk=instance.revision_id).values_list("product_id", flat=True).first()
        )
    if product_id is None:
        return
    key = REVISIONS_CACHE_KEY.format(product_id=product_id)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))


for _model in (ProductRevision, RevisionLink):
    post_save.connect(_forget_revisions, sender=_model, dispatch_uid=f"orders.forget_revisions.{_model.__name__}")
    post_delete.connect(_forget_revisions, sender=_model, dispatch_uid=f"orders.forget_revisions_del.{_model.__name__}")


__all__ = [
    "AbuseReport",
    "FeedbackThread",
    "Message",
    "MessagePhoto",
    "ProductFeedback",
    "ProductRevision",
    "RevisionLink",
    "Side",
]
