"""Buyer pages of the feedback threads (``/<lang>/messages/...``) and the pages both sides share
(photos, abuse reports). Views only translate: request -> selector / service, domain error ->
the form again with status 400 and ``data-testid="form-error"`` (STYLE.md, 4).

Anyone who is not a participant gets 404 for a thread, its messages and its photos; anonymous
visitors are sent to sign in first. A producer's user opening a buyer URL of their own thread is
sent to the same thread in the seller portal.
"""

from __future__ import annotations

import mimetypes
import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from catalog.models import Product
from catalog.selectors import visible_products

from .feedback import (
    FEEDBACK_ORDER_STATUSES,
    check_rate_limit,
    mark_read,
    open_thread,
    post_message,
    reopen_thread,
    report_abuse,
    resolve_thread,
)
from .feedback_exceptions import FeedbackError, NotYourPurchase, OwnProduct
from .feedback_forms import ReplyForm, ReportForm, ThreadFilterForm, ThreadForm
from .feedback_models import FeedbackThread, Message, Side
from .feedback_notify import buyer_name
from .feedback_selectors import (
    acting_seller_id,
    buyer_thread_products,
    buyer_threads,
    photo_of_thread,
    seller_unread_count,
    thread_for_participant,
    thread_messages,
    thread_revisions,
)
from .feedback_storefront import revision_rows
from .models import OrderLine
from .translator import translate

PAGE_SIZE = 25


# --- Shared by the buyer and seller pages ----------------------------------------------------------


def thread_url(thread: FeedbackThread, side: str) -> str:
    if side == Side.SELLER:
        return reverse("seller-messages:thread", kwargs={"pk": thread.pk})
    return reverse("orders:thread-detail", kwargs={"pk": thread.pk})


def _translated(message: Message, language: str) -> str | None:
    """The message in ``language`` from the configured translator, stored on the message."""
    if language in message.translations:
        return message.translations[language] or None
    text = translate(message.body, source=message.language, target=language)
    if text is None:
        return None
    message.translations = {**message.translations, language: text}
    Message.objects.filter(pk=message.pk).update(translations=message.translations)
    return text


def conversation(thread: FeedbackThread, side: str, messages_: list[Message]) -> list[dict[str, Any]]:
    """What the thread page shows of each message, read from ``side``, in the active language."""
    language = get_language() or "en"
    rows = []
    for message in messages_:
        mine = message.side == side
        if message.side == Side.SELLER:
            author = thread.seller.name
        elif message.side == Side.BUYER:
            author = buyer_name(thread.buyer)
        else:
            author = _("Marketplace team")
        translated = None
        if not mine and not message.hidden and message.language != language:
            translated = _translated(message, language)
        rows.append(
            {
                "message": message,
                "mine": mine,
                "author": author,
                "hidden": message.hidden,
                "translated": translated,
                "photos": [] if message.hidden else message.photo_list,
                "can_report": side in (Side.BUYER, Side.SELLER) and not mine and message.side != Side.OPERATOR,
            }
        )
    return rows


def render_thread(
    request: HttpRequest,
    thread: FeedbackThread,
    side: str,
    *,
    template: str,
    form: ReplyForm | None = None,
    status: int = 200,
    extra: dict[str, Any] | None = None,
) -> HttpResponse:
    """The thread page for ``side``; marks what it shows as read (operators read without marking)."""
    messages_ = thread_messages(thread)
    if messages_ and status == 200:
        mark_read(thread, side=side, upto_id=messages_[-1].pk)
    can_write = side in (Side.BUYER, Side.SELLER) and not thread.locked
    if side == Side.SELLER and thread.status == FeedbackThread.Status.RESOLVED:
        can_write = False
    seller_side = side == Side.SELLER
    context = {
        "thread": thread,
        "side": side,
        "rows": conversation(thread, side, messages_),
        "revisions": revision_rows(thread_revisions(thread)),
        "reply_url": reverse("seller-messages:reply" if seller_side else "orders:thread-reply", args=[thread.pk]),
        "resolve_url": reverse("seller-messages:resolve" if seller_side else "orders:thread-resolve", args=[thread.pk]),
        "inbox_url": reverse("seller-messages:inbox" if seller_side else "orders:thread-list"),
        "form": form or ReplyForm(),
        "reply_key": uuid.uuid4(),
        "report_form": ReportForm(),
        "can_write": can_write,
        "can_resolve": can_write and thread.status != FeedbackThread.Status.RESOLVED,
        "can_reopen": side == Side.BUYER and not thread.locked and thread.status == FeedbackThread.Status.RESOLVED,
        **(extra or {}),
    }
    return render(request, template, context, status=status)


def handle_reply(request: HttpRequest, thread: FeedbackThread, side: str, *, render_page: Any) -> HttpResponse:
    """POST of the reply form, from either side. ``render_page(form, status)`` shows it again."""
    form = ReplyForm(request.POST, request.FILES)
    if not form.is_valid():
        return render_page(form, 400)
    data = form.cleaned_data
    try:
        check_rate_limit(request.user, "message")  # type: ignore[arg-type]
        post_message(
            thread,
            author=request.user,  # type: ignore[arg-type]
            side=side,
            body=data["body"],
            language=data["language"],
            photos=data["photos"],
            client_key=data["key"],
        )
    except FeedbackError as exc:
        form.add_error(None, exc.message)
        return render_page(form, 400 if exc.code != "rate_limited" else 429)
    messages.success(request, _("Your message was sent."))
    return redirect(thread_url(thread, side))


def handle_resolve(request: HttpRequest, thread: FeedbackThread, side: str) -> HttpResponse:
    try:
        resolve_thread(thread, actor=request.user, side=side)  # type: ignore[arg-type]
    except FeedbackError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The conversation is marked resolved."))
    return redirect(thread_url(thread, side))


# --- Buyer pages -----------------------------------------------------------------------------------


@login_required
@require_GET
def thread_list(request: HttpRequest) -> HttpResponse:
    filters = ThreadFilterForm(request.GET or None, products=buyer_thread_products(request.user))  # type: ignore[arg-type]
    status, product_id = filters.values()
    page = Paginator(
        buyer_threads(request.user, status=status, product_id=product_id),  # type: ignore[arg-type]
        PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    seller_id = acting_seller_id(request.user)  # type: ignore[arg-type]
    shop_unread = seller_unread_count(seller_id) if seller_id else 0
    return render(
        request,
        "orders/feedback/inbox.html",
        {
            "filters": filters,
            "page": page,
            "status": status or "",
            "shop_unread": shop_unread,
            "is_seller": bool(seller_id),
        },
    )


def _line_for_buyer(request: HttpRequest, line_id: int) -> OrderLine:
    return get_object_or_404(
        OrderLine.objects.select_related("order", "variant__product__seller"), pk=line_id, order__buyer=request.user
    )


@login_required
@require_http_methods(["GET", "POST"])
def thread_create(request: HttpRequest) -> HttpResponse:
    """ "Ask the producer" (``?product=<slug>``) or feedback on an order line (``?line=<id>``)."""
    source = request.POST if request.method == "POST" else request.GET
    product: Product | None = None
    line: OrderLine | None = None
    problem = None
    if source.get("line"):
        try:
            line = _line_for_buyer(request, int(source["line"]))
        except ValueError as exc:
            raise Http404 from exc
        product = line.variant.product if line.variant else None
        if product is None or line.order.status not in FEEDBACK_ORDER_STATUSES:
            problem = NotYourPurchase().message
    elif source.get("product"):
        product = visible_products().select_related("seller").filter(slug=source["product"]).first()
        if product is None and request.method == "GET":
            raise Http404("No such product")
    else:
        raise Http404("Say which product or order line")
    if product is not None and acting_seller_id(request.user) == product.seller_id:  # type: ignore[arg-type]
        problem = OwnProduct().message

    def page(form: ThreadForm, status: int = 200) -> HttpResponse:
        context = {"form": form, "product": product, "line": line, "problem": problem, "new_key": uuid.uuid4()}
        return render(request, "orders/feedback/thread_create.html", context, status=status)

    if request.method == "GET":
        initial = {"product": product.slug if product and not line else "", "line": line.pk if line else None}
        if line is not None:
            initial["category"] = FeedbackThread.Category.QUALITY
        return page(ThreadForm(initial=initial), 200 if not problem else 400)
    form = ThreadForm(request.POST, request.FILES)
    if not form.is_valid():
        return page(form, 400)
    data = form.cleaned_data
    product_id = None
    if not data["line"]:
        product_id = Product.objects.filter(slug=data["product"]).values_list("pk", flat=True).first() or 0
    try:
        check_rate_limit(request.user, "open_thread")  # type: ignore[arg-type]
        thread = open_thread(
            buyer=request.user,  # type: ignore[arg-type]
            subject=data["subject"],
            category=data["category"],
            body=data["body"],
            language=data["language"],
            product_id=product_id,
            order_line_id=data["line"],
            photos=data["photos"],
            client_key=data["key"],
        )
    except FeedbackError as exc:
        form.add_error(None, exc.message)
        return page(form, 429 if exc.code == "rate_limited" else 400)
    messages.success(request, _("Your message was sent to %(seller)s.") % {"seller": thread.seller.name})
    return redirect(thread_url(thread, Side.BUYER))


@login_required
@require_GET
def thread_detail(request: HttpRequest, pk: int) -> HttpResponse:
    thread, side = thread_for_participant(pk, request.user)  # type: ignore[arg-type]
    if side == Side.SELLER:
        return redirect(thread_url(thread, Side.SELLER))
    return render_thread(request, thread, side, template="orders/feedback/thread.html")


def _buyer_thread(request: HttpRequest, pk: int) -> FeedbackThread:
    thread, side = thread_for_participant(pk, request.user)  # type: ignore[arg-type]
    if side != Side.BUYER:
        raise Http404("Not the buyer of this thread")
    return thread


@login_required
@require_POST
def thread_reply(request: HttpRequest, pk: int) -> HttpResponse:
    thread = _buyer_thread(request, pk)

    def page(form: ReplyForm, status: int) -> HttpResponse:
        return render_thread(
            request, thread, Side.BUYER, template="orders/feedback/thread.html", form=form, status=status
        )

    return handle_reply(request, thread, Side.BUYER, render_page=page)


@login_required
@require_POST
def thread_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    return handle_resolve(request, _buyer_thread(request, pk), Side.BUYER)


@login_required
@require_POST
def thread_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    thread = _buyer_thread(request, pk)
    try:
        reopen_thread(thread, buyer=request.user)  # type: ignore[arg-type]
    except FeedbackError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The conversation is open again."))
    return redirect(thread_url(thread, Side.BUYER))


@login_required
@require_POST
def message_report(request: HttpRequest, pk: int, message_pk: int) -> HttpResponse:
    thread, side = thread_for_participant(pk, request.user)  # type: ignore[arg-type]
    message = get_object_or_404(Message, pk=message_pk, thread=thread)
    form = ReportForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        report_abuse(message, reporter=request.user, reason=reason)  # type: ignore[arg-type]
    except FeedbackError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Thank you. The marketplace team will look at this message."))
    return redirect(thread_url(thread, side))


@login_required
@require_GET
def photo(request: HttpRequest, pk: int, photo_pk: int, thumbnail: bool = False) -> HttpResponse:
    """A message photo, only for the thread's participants and operators (never a public URL)."""
    thread, _side = thread_for_participant(pk, request.user)  # type: ignore[arg-type]
    item = photo_of_thread(thread, photo_pk)
    file = item.thumbnail if thumbnail and item.thumbnail else item.image
    content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    response = FileResponse(file.open("rb"), content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response
