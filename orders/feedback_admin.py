"""Operators' admin for the feedback threads (imported by ``orders/admin.py``).

Threads with their messages; hiding a message and locking a thread ask for a reason, which is
stored on the row and written to the admin log; a filter for producers who answered late (or not
yet, after 48 hours); abuse reports; revisions with their linked threads; and "feedback per
product": one product's threads, revisions and links on one page.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from modeltranslation.admin import TranslationAdmin

from .feedback import hide_message, lock_thread_for_moderation
from .feedback_exceptions import FeedbackError
from .feedback_forms import ReasonForm
from .feedback_models import (
    LATE_ANSWER_HOURS,
    AbuseReport,
    FeedbackThread,
    Message,
    MessagePhoto,
    ProductFeedback,
    ProductRevision,
    RevisionLink,
)


def _with_reason(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, *, action: str, title: str, apply: Any
) -> HttpResponse | None:
    """An action's intermediate page asking for the reason; then ``apply(obj, reason)`` for each
    selected object, each change logged with its reason."""
    form = ReasonForm(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        reason = form.cleaned_data["reason"]
        done = 0
        for obj in queryset.order_by("pk"):
            try:
                apply(obj, reason)
            except FeedbackError as exc:
                modeladmin.message_user(request, exc.message, messages.ERROR)
                continue
            modeladmin.log_change(request, obj, f"{title}: {reason}")
            done += 1
        modeladmin.message_user(request, ngettext("%(n)s item changed.", "%(n)s items changed.", done) % {"n": done})
        return None
    return TemplateResponse(
        request,
        "orders/feedback/admin_reason.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "objects": queryset,
            "form": form,
            "action": action,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "opts": modeladmin.model._meta,
        },
    )


class AnsweredLateFilter(admin.SimpleListFilter):
    title = _("producer's answers")
    parameter_name = "answers"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, Any]]:
        return [
            ("late", _("answered late (after 48 hours) at least once")),
            ("waiting", _("waiting more than 48 hours now")),
            ("on_time", _("always answered within 48 hours")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        late_since = timezone.now() - timedelta(hours=LATE_ANSWER_HOURS)
        waiting = Q(status__in=FeedbackThread.SELLER_TURN, seller_turn_since__lte=late_since)
        if self.value() == "late":
            return queryset.filter(late_answers__gt=0)
        if self.value() == "waiting":
            return queryset.filter(waiting)
        if self.value() == "on_time":
            return queryset.filter(late_answers=0, first_seller_response_at__isnull=False).exclude(waiting)
        return queryset


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    fields = ("created_at", "side", "author", "language", "body", "hidden", "hidden_reason", "photo_count")
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("author").annotate(photos_n=Count("photos"))

    @admin.display(description=_("photos"))
    def photo_count(self, obj: Message) -> int:
        return getattr(obj, "photos_n", 0)


class RevisionLinkInline(admin.TabularInline):
    model = RevisionLink
    extra = 0
    raw_id_fields = ("revision", "thread")
    readonly_fields = ("notified_at",)


@admin.register(FeedbackThread)
class FeedbackThreadAdmin(admin.ModelAdmin):
    list_display = (
        "pk",
        "subject",
        "seller",
        "product",
        "buyer",
        "category",
        "status",
        "verified_purchase",
        "first_answer_hours",
        "late_answers",
        "locked",
        "last_message_at",
    )
    list_filter = (AnsweredLateFilter, "status", "category", "locked", "seller")
    search_fields = ("subject", "buyer__email", "product__slug", "seller__name")
    list_select_related = ("seller", "product", "buyer")
    raw_id_fields = ("buyer", "seller", "product", "order_line", "locked_by")
    readonly_fields = (
        "status",
        "resolved_at",
        "resolved_by",
        "locked",
        "locked_reason",
        "locked_at",
        "locked_by",
        "last_message_at",
        "seller_turn_since",
        "first_seller_response_at",
        "first_response_seconds",
        "late_answers",
        "seller_reminded_at",
    )
    exclude = (
        "client_key",
        "buyer_last_read_id",
        "seller_last_read_id",
        "buyer_notified_upto_id",
        "seller_notified_upto_id",
        "buyer_pending_since",
        "buyer_notify_at",
        "seller_pending_since",
        "seller_notify_at",
    )
    inlines = [MessageInline, RevisionLinkInline]
    actions = ["lock_threads", "unlock_threads"]
    date_hierarchy = "created_at"

    @admin.display(description=_("verified purchase"), boolean=True)
    def verified_purchase(self, obj: FeedbackThread) -> bool:
        return obj.order_line_id is not None

    @admin.display(description=_("first answer (hours)"), ordering="first_response_seconds")
    def first_answer_hours(self, obj: FeedbackThread) -> str:
        if obj.first_response_seconds is None:
            return "—"
        return f"{obj.first_response_seconds / 3600:.1f}"

    @admin.action(description=_("Lock selected conversations (asks for the reason)"))
    def lock_threads(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return _with_reason(
            self,
            request,
            queryset,
            action="lock_threads",
            title=str(_("Locked")),
            apply=lambda obj, reason: lock_thread_for_moderation(obj, operator=request.user, reason=reason),
        )

    @admin.action(description=_("Unlock selected conversations (asks for the reason)"))
    def unlock_threads(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return _with_reason(
            self,
            request,
            queryset,
            action="unlock_threads",
            title=str(_("Unlocked")),
            apply=lambda obj, reason: lock_thread_for_moderation(
                obj, operator=request.user, reason=reason, locked=False
            ),
        )


class MessagePhotoInline(admin.TabularInline):
    model = MessagePhoto
    extra = 0
    can_delete = False
    fields = ("preview",)
    readonly_fields = ("preview",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("photo"))
    def preview(self, obj: MessagePhoto) -> str:
        url = reverse("orders:thread-photo", kwargs={"pk": obj.message.thread_id, "photo_pk": obj.pk})
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, _("open"))


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("pk", "thread", "side", "author", "language", "excerpt", "hidden", "report_count", "created_at")
    list_filter = ("hidden", "side", "language")
    search_fields = ("body", "author__email", "thread__subject")
    list_select_related = ("thread", "author")
    raw_id_fields = ("thread", "author", "hidden_by")
    readonly_fields = (
        "thread",
        "author",
        "side",
        "language",
        "body",
        "hidden",
        "hidden_reason",
        "hidden_at",
        "hidden_by",
    )
    exclude = ("client_key", "translations")
    inlines = [MessagePhotoInline]
    actions = ["hide_messages", "show_messages"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(reports_n=Count("abuse_reports"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("message"))
    def excerpt(self, obj: Message) -> str:
        return obj.body[:80]

    @admin.display(description=_("reports"), ordering="reports_n")
    def report_count(self, obj: Message) -> int:
        return getattr(obj, "reports_n", 0)

    @admin.action(description=_("Hide selected messages (asks for the reason)"))
    def hide_messages(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return _with_reason(
            self,
            request,
            queryset,
            action="hide_messages",
            title=str(_("Hidden")),
            apply=lambda obj, reason: hide_message(obj, operator=request.user, reason=reason),
        )

    @admin.action(description=_("Show selected messages again (asks for the reason)"))
    def show_messages(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        return _with_reason(
            self,
            request,
            queryset,
            action="show_messages",
            title=str(_("Shown again")),
            apply=lambda obj, reason: hide_message(obj, operator=request.user, reason=reason, hidden=False),
        )


@admin.register(AbuseReport)
class AbuseReportAdmin(admin.ModelAdmin):
    list_display = ("pk", "message_link", "reporter", "reason", "created_at", "handled_at")
    list_filter = (("handled_at", admin.EmptyFieldListFilter),)
    search_fields = ("reason", "reporter__email", "message__body")
    list_select_related = ("reporter", "message")
    raw_id_fields = ("message", "reporter", "handled_by")
    readonly_fields = ("message", "reporter", "reason", "handled_at", "handled_by")
    actions = ["mark_handled"]

    @admin.display(description=_("message"))
    def message_link(self, obj: AbuseReport) -> str:
        url = reverse("admin:orders_message_change", args=[obj.message_id])
        return format_html('<a href="{}">#{} {}</a>', url, obj.message_id, obj.message.body[:60])

    @admin.action(description=_("Mark selected reports handled"))
    def mark_handled(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = queryset.filter(handled_at=None).update(handled_at=timezone.now(), handled_by=request.user)
        self.message_user(request, ngettext("%(n)s report handled.", "%(n)s reports handled.", count) % {"n": count})


@admin.register(ProductRevision)
class ProductRevisionAdmin(TranslationAdmin):
    list_display = ("pk", "product", "seller", "summary", "published_at", "link_count")
    list_filter = ("seller",)
    search_fields = ("product__slug", "summary_en")
    list_select_related = ("product", "seller")
    raw_id_fields = ("product", "seller", "author")
    exclude = ("client_key",)
    inlines = [RevisionLinkInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(links_n=Count("links"))

    @admin.display(description=_("answers"), ordering="links_n")
    def link_count(self, obj: ProductRevision) -> int:
        return getattr(obj, "links_n", 0)


class ThreadOfProductInline(admin.TabularInline):
    model = FeedbackThread
    fk_name = "product"
    extra = 0
    can_delete = False
    fields = (
        "thread_link",
        "buyer",
        "category",
        "status",
        "verified",
        "first_response_seconds",
        "late_answers",
        "locked",
    )
    readonly_fields = fields
    verbose_name_plural = _("feedback threads")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("buyer")

    @admin.display(description=_("thread"))
    def thread_link(self, obj: FeedbackThread) -> str:
        url = reverse("admin:orders_feedbackthread_change", args=[obj.pk])
        return format_html('<a href="{}">#{} {}</a>', url, obj.pk, obj.subject)

    @admin.display(description=_("verified purchase"), boolean=True)
    def verified(self, obj: FeedbackThread) -> bool:
        return obj.order_line_id is not None


class RevisionOfProductInline(admin.TabularInline):
    model = ProductRevision
    fk_name = "product"
    extra = 0
    can_delete = False
    fields = ("revision_link", "published_at", "answers")
    readonly_fields = fields
    verbose_name_plural = _("product revisions and the threads they answer")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("links__thread")

    @admin.display(description=_("revision"))
    def revision_link(self, obj: ProductRevision) -> str:
        url = reverse("admin:orders_productrevision_change", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.summary_en or obj.text("summary", "en")[0])

    @admin.display(description=_("answers"))
    def answers(self, obj: ProductRevision) -> str:
        links = [
            (reverse("admin:orders_feedbackthread_change", args=[link.thread_id]), link.thread_id, link.thread.subject)
            for link in obj.links.all()
        ]
        return format_html_join(", ", '<a href="{}">#{} {}</a>', links) or "—"


@admin.register(ProductFeedback)
class ProductFeedbackAdmin(admin.ModelAdmin):
    """Per product: its threads, its revisions and which threads each revision answers."""

    list_display = ("name", "seller", "thread_count", "open_count", "revision_count")
    list_select_related = ("seller",)
    list_filter = ("seller",)
    search_fields = ("slug", "name_en")
    fields = ("name", "slug", "seller", "status")
    readonly_fields = fields
    inlines = [ThreadOfProductInline, RevisionOfProductInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                threads_n=Count("feedback_threads", distinct=True),
                open_n=Count(
                    "feedback_threads",
                    filter=~Q(feedback_threads__status=FeedbackThread.Status.RESOLVED),
                    distinct=True,
                ),
                revisions_n=Count("revisions", distinct=True),
            )
            .filter(Q(threads_n__gt=0) | Q(revisions_n__gt=0))
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("threads"), ordering="threads_n")
    def thread_count(self, obj: Any) -> int:
        return obj.threads_n

    @admin.display(description=_("not resolved"), ordering="open_n")
    def open_count(self, obj: Any) -> int:
        return obj.open_n

    @admin.display(description=_("revisions"), ordering="revisions_n")
    def revision_count(self, obj: Any) -> int:
        return obj.revisions_n
