"""Reads of the feedback threads, each with its permission check (STYLE.md, 3).

Only the thread's buyer, the users of its seller, and operators (staff) may read a thread; for
anyone else a thread, its messages and its photos do not exist (404, exactly like a missing pk).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from django.core.cache import cache
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Count, F, Prefetch, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import ngettext

from catalog.models import Product, Seller, SellerMember
from marketplace.models import User

from .feedback_models import (
    REVISIONS_CACHE_KEY,
    FeedbackThread,
    Message,
    MessagePhoto,
    ProductRevision,
    RevisionLink,
    Side,
)

MIN_THREADS_FOR_STATS = 3  # fewer conversations than this: "not enough conversations yet"
STATS_CACHE_SECONDS = 600  # also cleared whenever one of the seller's threads changes
STATS_CACHE_KEY = "feedback:stats:v1:{seller_id}"


def acting_seller_id(user: User) -> int | None:
    """The seller ``user`` acts for, or None. Reads ``user.seller_membership`` (cached on the user,
    so the header's portal link and this share one query)."""
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        return user.seller_membership.seller_id
    except ObjectDoesNotExist:
        return None


def side_of(thread: FeedbackThread, user: User) -> str | None:
    """The side ``user`` reads ``thread`` from: buyer, seller (any of its users), operator, or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    if thread.buyer_id == user.pk:
        return Side.BUYER
    if acting_seller_id(user) == thread.seller_id:
        return Side.SELLER
    if user.is_staff:
        return Side.OPERATOR
    return None


def _threads() -> QuerySet[FeedbackThread]:
    return FeedbackThread.objects.select_related("product", "seller", "buyer", "order_line__order")


def thread_for_participant(thread_id: int, user: User) -> tuple[FeedbackThread, str]:
    """The thread and the side ``user`` reads it from; 404 for everyone else."""
    thread = _threads().filter(pk=thread_id).first()
    side = side_of(thread, user) if thread is not None else None
    if thread is None or side is None:
        raise Http404("No such thread")
    return thread, side


def thread_for_buyer(thread_id: int, *, buyer: User) -> FeedbackThread:
    return get_object_or_404(_threads(), pk=thread_id, buyer=buyer)


def thread_for_seller(thread_id: int, *, seller: Seller) -> FeedbackThread:
    return get_object_or_404(_threads(), pk=thread_id, seller=seller)


def _unread_filter(side: str) -> Q:
    marker = "buyer_last_read_id" if side == Side.BUYER else "seller_last_read_id"
    return Q(messages__hidden=False, messages__pk__gt=F(marker)) & ~Q(messages__side=side)


def _with_unread(threads: QuerySet[FeedbackThread], side: str) -> QuerySet[FeedbackThread]:
    return threads.annotate(unread=Count("messages", filter=_unread_filter(side)))


def _filtered(threads: QuerySet[FeedbackThread], status: str | None, product_id: int | None) -> QuerySet:
    if status:
        threads = threads.filter(status=status)
    if product_id:
        threads = threads.filter(product_id=product_id)
    return threads.order_by(F("last_message_at").desc(nulls_last=True), "-pk")


def buyer_threads(buyer: User, *, status: str | None = None, product_id: int | None = None) -> QuerySet:
    """The buyer's threads, newest activity first, each with ``unread`` (one query a page)."""
    threads = _with_unread(_threads().filter(buyer=buyer), Side.BUYER)
    return _filtered(threads, status, product_id)


def seller_threads(seller: Seller, *, status: str | None = None, product_id: int | None = None) -> QuerySet:
    threads = _with_unread(_threads().filter(seller=seller), Side.SELLER)
    return _filtered(threads, status, product_id)


def buyer_thread_products(buyer: User) -> QuerySet[Product]:
    return Product.objects.filter(feedback_threads__buyer=buyer).distinct().order_by("pk")


def seller_thread_products(seller: Seller) -> QuerySet[Product]:
    return Product.objects.filter(feedback_threads__seller=seller).distinct().order_by("pk")


def thread_messages(thread: FeedbackThread) -> list[Message]:
    """The thread's messages, oldest first, with their photos (two queries)."""
    photos = Prefetch("photos", queryset=MessagePhoto.objects.order_by("pk"), to_attr="photo_list")
    return list(thread.messages.select_related("author").prefetch_related(photos).order_by("pk"))


def thread_revisions(thread: FeedbackThread) -> list[ProductRevision]:
    return list(thread.revisions.order_by("-published_at", "-pk"))


def photo_of_thread(thread: FeedbackThread, photo_id: int) -> MessagePhoto:
    """A photo of a visible message of ``thread`` (hidden messages' photos are gone for participants)."""
    return get_object_or_404(
        MessagePhoto.objects.select_related("message"), pk=photo_id, message__thread=thread, message__hidden=False
    )


def unread_count(user: User) -> int:
    """Messages ``user`` has not read yet: as a buyer, and for the seller they act for. One query."""
    if not getattr(user, "is_authenticated", False):
        return 0
    seller_ids = SellerMember.objects.filter(user=user).values("seller_id")
    as_buyer = Q(thread__buyer=user, pk__gt=F("thread__buyer_last_read_id")) & ~Q(side=Side.BUYER)
    as_seller = Q(thread__seller_id__in=seller_ids, pk__gt=F("thread__seller_last_read_id")) & ~Q(side=Side.SELLER)
    return Message.objects.filter(as_buyer | as_seller, hidden=False).count()


def seller_unread_count(seller_id: int) -> int:
    """Messages to the shop nobody of the seller has read yet."""
    return (
        Message.objects.filter(thread__seller_id=seller_id, hidden=False, pk__gt=F("thread__seller_last_read_id"))
        .exclude(side=Side.SELLER)
        .count()
    )


# --- Revisions -------------------------------------------------------------------------------------


def product_revisions(product_id: int) -> list[ProductRevision]:
    """Published revisions of a product, newest first, each with ``answered`` (linked threads):
    one query, then cached (every language's texts are in the rows) until a revision or link of
    the product changes (``feedback_models``' receivers)."""
    key = REVISIONS_CACHE_KEY.format(product_id=product_id)
    revisions = cache.get(key)
    if revisions is None:
        revisions = list(
            ProductRevision.objects.filter(product_id=product_id)
            .annotate(answered=Count("links"))
            .order_by("-published_at", "-pk")
        )
        cache.set(key, revisions, STATS_CACHE_SECONDS)
    return revisions


def seller_recent_revisions(seller_id: int, *, limit: int = 5) -> list[ProductRevision]:
    return list(
        ProductRevision.objects.filter(seller_id=seller_id)
        .select_related("product")
        .annotate(answered=Count("links"))
        .order_by("-published_at", "-pk")[:limit]
    )


def seller_revisions(seller: Seller) -> QuerySet[ProductRevision]:
    links = Prefetch("links", queryset=RevisionLink.objects.select_related("thread").order_by("thread_id"))
    return (
        ProductRevision.objects.filter(seller=seller)
        .select_related("product")
        .prefetch_related(links)
        .order_by("-published_at", "-pk")
    )


def linkable_threads(seller: Seller, *, product_id: int | None) -> QuerySet[FeedbackThread]:
    """Threads a revision of ``product_id`` may answer: the seller's threads about that product."""
    threads = FeedbackThread.objects.filter(seller=seller).select_related("product", "buyer")
    if product_id:
        threads = threads.filter(product_id=product_id)
    return threads.order_by("-pk")


# --- Producer accountability -----------------------------------------------------------------------


@dataclass(frozen=True)
class ResponseStats:
    threads: int
    answered: int
    resolved: int
    median_first_response_seconds: int | None

    @property
    def enough(self) -> bool:
        return self.threads >= MIN_THREADS_FOR_STATS

    @property
    def share_resolved(self) -> int | None:
        """Percent of all threads resolved, rounded down; None below the minimum."""
        return self.resolved * 100 // self.threads if self.enough else None

    @property
    def median_minutes(self) -> int | None:
        if self.median_first_response_seconds is None or self.answered < MIN_THREADS_FOR_STATS:
            return None
        return max(1, -(-self.median_first_response_seconds // 60))

    @property
    def median_display(self) -> str:
        """ "35 minutes", "3 hours", "2 days": rounded up, in the active language."""
        minutes = self.median_minutes
        if minutes is None:
            return ""
        if minutes < 60:
            return ngettext("%(n)s minute", "%(n)s minutes", minutes) % {"n": minutes}
        hours = -(-minutes // 60)
        if hours < 48:
            return ngettext("%(n)s hour", "%(n)s hours", hours) % {"n": hours}
        days = -(-hours // 24)
        return ngettext("%(n)s day", "%(n)s days", days) % {"n": days}


def compute_response_stats(seller_id: int) -> ResponseStats:
    """One query over the seller's threads: how many, how many answered and resolved, the median
    time to the producer's first answer."""
    rows = list(FeedbackThread.objects.filter(seller_id=seller_id).values_list("status", "first_response_seconds"))
    answered = sorted(seconds for _status, seconds in rows if seconds is not None)
    median = int(statistics.median(answered)) if answered else None
    resolved = sum(1 for status, _seconds in rows if status == FeedbackThread.Status.RESOLVED)
    return ResponseStats(
        threads=len(rows), answered=len(answered), resolved=resolved, median_first_response_seconds=median
    )


def response_stats(seller_id: int) -> ResponseStats:
    """``compute_response_stats``, cached (pages show it on every product of the seller)."""
    key = STATS_CACHE_KEY.format(seller_id=seller_id)
    stats = cache.get(key)
    if stats is None:
        stats = compute_response_stats(seller_id)
        cache.set(key, stats, STATS_CACHE_SECONDS)
    return stats
