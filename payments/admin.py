"""Operators' admin for payments, refunds, provider events, the seller ledger and payouts.

Nothing here edits money directly: a payment and its event log are read-only (the log is
append-only: no add, change or delete), refunds go through ``payments.services.refund_payment``
(the refund page: whole or part, per order line and quantity or by amount, with a reason and
optionally the units back in stock), payouts through ``payments.payouts``. A refund form that is
wrong (above what can be refunded, zero or negative, another currency, more units than are left)
says so and changes nothing; the form's one-time key makes a double submit one refund.
"""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from djmoney.money import Money

from marketplace.money import round_money

from .exceptions import PaymentError
from .models import LedgerEntry, Payment, PaymentEvent, Payout, ProviderEvent, Refund
from .payouts import mark_paid, run_payouts, send_payout, write_payout_report
from .services import refund_payment


class ReadOnlyMixin:
    """Rows written by services only: listed and viewed, never added, changed or deleted here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PaymentEventInline(ReadOnlyMixin, admin.TabularInline):
    model = PaymentEvent
    extra = 0
    can_delete = False
    ordering = ["created_at", "pk"]
    fields = ["created_at", "kind", "from_state", "to_state", "amount", "provider_reference", "idempotency_key"]
    readonly_fields = fields
    verbose_name_plural = gettext_lazy("event log (append-only)")


class RefundInline(ReadOnlyMixin, admin.TabularInline):
    model = Refund
    extra = 0
    can_delete = False
    fields = ["created_at", "amount", "state", "reason", "lines", "restock", "restocked_at", "created_by"]
    readonly_fields = fields


class LedgerEntryInline(ReadOnlyMixin, admin.TabularInline):
    model = LedgerEntry
    fk_name = "payment"
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "seller", "amount", "buyer_amount", "fx_rate", "payable_at", "refund"]
    readonly_fields = fields


class ReconciliationFilter(admin.SimpleListFilter):
    """Payments the buyer or the provider left open: recently (may still move) or for too long."""

    title = gettext_lazy("reconciliation")
    parameter_name = "reconciliation"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("stale", gettext_lazy("pending for too long")),
            ("open", gettext_lazy("pending, recent")),
            ("settled", gettext_lazy("settled")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Payment]) -> QuerySet[Payment]:
        cutoff = timezone.now() - timedelta(minutes=settings.PAYMENT_RECONCILE_AFTER_MINUTES)
        if self.value() == "stale":
            return queryset.filter(state__in=Payment.OPEN_STATES, updated_at__lt=cutoff)
        if self.value() == "open":
            return queryset.filter(state__in=Payment.OPEN_STATES, updated_at__gte=cutoff)
        if self.value() == "settled":
            return queryset.exclude(state__in=Payment.OPEN_STATES)
        return queryset


def reconciliation_status(payment: Payment) -> str:
    if payment.state not in Payment.OPEN_STATES:
        return str(_("settled"))
    cutoff = timezone.now() - timedelta(minutes=settings.PAYMENT_RECONCILE_AFTER_MINUTES)
    return str(_("pending for too long")) if payment.updated_at < cutoff else str(_("pending, recent"))


# --- Refund form ------------------------------------------------------------------------------------


def refundable_quantities(payment: Payment) -> dict[int, int]:
    """Per order line, the units not yet refunded (refunds that did not fail count)."""
    lines = dict(payment.order.lines.values_list("pk", "quantity"))
    refunds = Refund.objects.filter(payment__order_id=payment.order_id).exclude(state=Refund.State.FAILED)
    for refunded_lines in refunds.values_list("lines", flat=True):
        for item in refunded_lines or []:
            line_id = int(item["id"])
            if line_id in lines:
                lines[line_id] -= int(item.get("quantity", 0))
    return {line_id: max(left, 0) for line_id, left in lines.items()}


class RefundForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=255)
    amount = forms.DecimalField(
        label=gettext_lazy("Amount"),
        required=False,
        max_digits=14,
        decimal_places=3,
        help_text=gettext_lazy("Leave empty to refund the value of the units chosen below."),
    )
    currency = forms.CharField(label=gettext_lazy("Currency"), max_length=3)
    restock = forms.BooleanField(label=gettext_lazy("Put the units back in stock"), required=False)
    key = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, payment: Payment, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.payment = payment
        self.lines = list(payment.order.lines.order_by("pk"))
        self.left = refundable_quantities(payment)
        for line in self.lines:
            self.fields[f"line_{line.pk}"] = forms.IntegerField(
                label=f"{line.sku} — {line.name}",
                required=False,
                min_value=0,
                initial=0,
                help_text=_("%(left)s of %(quantity)s units can be refunded, %(price)s each.")
                % {"left": self.left.get(line.pk, 0), "quantity": line.quantity, "price": line.unit_price},
            )

    def line_fields(self) -> list[forms.BoundField]:
        return [self[f"line_{line.pk}"] for line in self.lines]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        payment = self.payment
        code = payment.amount.currency.code
        quantities: dict[int, int] = {}
        for line in self.lines:
            quantity = data.get(f"line_{line.pk}") or 0
            if quantity > self.left.get(line.pk, 0):
                self.add_error(
                    f"line_{line.pk}",
                    _("Only %(left)s units of this line can still be refunded.") % {"left": self.left.get(line.pk, 0)},
                )
            elif quantity > 0:
                quantities[line.pk] = quantity
        currency = (data.get("currency") or "").upper()
        if currency and currency != code:
            self.add_error("currency", _("The refund must be in %(currency)s.") % {"currency": code})
            return data
        amount = data.get("amount")
        if amount is None:
            if not quantities and not self.errors:
                raise forms.ValidationError(_("Give an amount, or choose the units to refund."))
            amount = sum(
                (
                    round_money(line.unit_price * quantities[line.pk]).amount
                    for line in self.lines
                    if line.pk in quantities
                ),
                Decimal(0),
            )
        money = round_money(Money(amount, code))
        if money.amount <= 0:
            self.add_error("amount", _("The refund must be more than zero."))
        elif money > payment.refundable:
            self.add_error(
                "amount", _("At most %(amount)s can still be refunded.") % {"amount": round_money(payment.refundable)}
            )
        if data.get("restock") and not quantities:
            self.add_error("restock", _("Choose the units to put back in stock."))
        data["money"] = money
        data["lines"] = [{"id": line_id, "quantity": quantity} for line_id, quantity in sorted(quantities.items())]
        return data


# --- Payments -----------------------------------------------------------------------------------------


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "order_link",
        "method",
        "state",
        "amount",
        "captured",
        "refunded",
        "reconciliation",
        "created_at",
    ]
    list_filter = ["state", "method", ReconciliationFilter]
    search_fields = ["order__number", "order__email", "provider_reference"]
    list_select_related = ["order"]
    date_hierarchy = "created_at"
    fields = [
        "order_link",
        "method",
        "state",
        "amount",
        "captured",
        "refunded",
        "refund_link",
        "provider_reference",
        "next_action",
        "failure_code",
        "failure_message",
        "attempt",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields
    inlines = [PaymentEventInline, RefundInline, LedgerEntryInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # read-only: payments change through payments.services

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=gettext_lazy("order"), ordering="order__number")
    def order_link(self, payment: Payment) -> str:
        url = reverse("admin:orders_order_change", args=[payment.order_id])
        return format_html('<a href="{}">{}</a>', url, payment.order.number)

    @admin.display(description=gettext_lazy("reconciliation"))
    def reconciliation(self, payment: Payment) -> str:
        return reconciliation_status(payment)

    @admin.display(description=gettext_lazy("refund"))
    def refund_link(self, payment: Payment) -> str:
        if payment.state not in (Payment.State.CAPTURED, Payment.State.PARTIALLY_REFUNDED):
            return "—"
        url = reverse("admin:payments_payment_refund", args=[payment.pk])
        return format_html('<a class="button" href="{}" data-testid="refund-link">{}</a>', url, _("Refund…"))

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:payment_id>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="payments_payment_refund",
            ),
            *super().get_urls(),
        ]

    def refund_view(self, request: HttpRequest, payment_id: int) -> HttpResponse:
        if not request.user.has_perm("payments.add_refund"):
            raise PermissionDenied
        payment = get_object_or_404(Payment.objects.select_related("order"), pk=payment_id)
        status = 200
        if request.method == "POST":
            form = RefundForm(request.POST, payment=payment)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    refund = refund_payment(
                        payment.pk,
                        data["money"],
                        reason=data["reason"],
                        idempotency_key=f"admin:{data['key']}",
                        lines=data["lines"],
                        restock=bool(data["restock"]),
                        created_by=request.user,
                    )
                except PaymentError as exc:
                    form.add_error(None, exc.message)
                else:
                    if refund.state == Refund.State.FAILED:
                        messages.error(request, _("The provider refused the refund; nothing was refunded."))
                    else:
                        messages.success(
                            request, _("Refund of %(amount)s recorded.") % {"amount": round_money(refund.amount)}
                        )
                    return HttpResponseRedirect(reverse("admin:payments_payment_change", args=[payment.pk]))
            status = 400
        else:
            form = RefundForm(
                payment=payment,
                initial={"currency": payment.amount.currency.code, "key": uuid.uuid4().hex},
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Refund payment %(pk)s of order %(number)s")
            % {"pk": payment.pk, "number": payment.order.number},
            "payment": payment,
            "form": form,
            "refundable": round_money(payment.refundable),
        }
        return TemplateResponse(request, "payments/admin/refund_form.html", context, status=status)


@admin.register(Refund)
class RefundAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["pk", "payment", "amount", "state", "reason", "restock", "created_by", "created_at"]
    list_filter = ["state", "restock"]
    search_fields = ["payment__order__number", "reason", "provider_reference"]
    list_select_related = ["payment", "created_by"]


@admin.register(ProviderEvent)
class ProviderEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["provider", "event_id", "type", "received_at", "processed_at", "outcome"]
    list_filter = ["provider", "type"]
    search_fields = ["event_id", "type"]


# --- Ledger and payouts --------------------------------------------------------------------------------


class PayableFilter(admin.SimpleListFilter):
    title = gettext_lazy("payable")
    parameter_name = "payable"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("yes", gettext_lazy("payable now")),
            ("later", gettext_lazy("later")),
            ("waiting", gettext_lazy("waiting for delivery")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[LedgerEntry]) -> QuerySet[LedgerEntry]:
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(payable_at__lte=now)
        if self.value() == "later":
            return queryset.filter(payable_at__gt=now)
        if self.value() == "waiting":
            return queryset.filter(payable_at__isnull=True)
        return queryset


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "kind",
        "seller",
        "order",
        "amount",
        "buyer_amount",
        "fx_rate",
        "payable_at",
        "payout",
    ]
    list_filter = ["kind", PayableFilter, "seller"]
    search_fields = ["order__number", "seller__name", "key"]
    list_select_related = ["seller", "order", "payout"]


@admin.action(description=gettext_lazy("Mark selected manual payouts as paid"))
def mark_selected_paid(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Payout]) -> None:
    paid = 0
    for payout in queryset.filter(state=Payout.State.MANUAL).order_by("pk"):
        mark_paid(payout.pk)
        paid += 1
    messages.success(request, _("%(n)s payouts marked as paid.") % {"n": paid})


@admin.action(description=gettext_lazy("Retry the Stripe transfer of selected pending payouts"))
def retry_transfers(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Payout]) -> None:
    for payout in queryset.filter(state=Payout.State.PENDING).order_by("pk"):
        send_payout(payout.pk)
    messages.info(request, _("Transfers retried."))


@admin.register(Payout)
class PayoutAdmin(admin.ModelAdmin):
    list_display = ["pk", "seller", "amount", "method", "state", "transfer_reference", "created_at", "paid_at"]
    list_filter = ["state", "method", "seller"]
    search_fields = ["seller__name", "seller__slug", "transfer_reference"]
    list_select_related = ["seller"]
    readonly_fields = [
        "seller",
        "amount",
        "method",
        "state",
        "transfer_reference",
        "failure_message",
        "paid_at",
        "created_by",
        "created_at",
    ]
    actions = [mark_selected_paid, retry_transfers]
    change_list_template = "payments/admin/payout_change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[Any]:
        return [
            path("run/", self.admin_site.admin_view(self.run_view), name="payments_payout_run"),
            path("report.csv", self.admin_site.admin_view(self.report_view), name="payments_payout_report"),
            *super().get_urls(),
        ]

    def run_view(self, request: HttpRequest) -> HttpResponse:
        """POST: one payout run now (the payable balance of every seller)."""
        if request.method != "POST" or not request.user.has_perm("payments.add_payout"):
            raise PermissionDenied
        payouts = run_payouts(acting_user=request.user)
        messages.success(request, _("%(n)s payouts created.") % {"n": len(payouts)})
        return HttpResponseRedirect(reverse("admin:payments_payout_changelist"))

    def report_view(self, request: HttpRequest) -> HttpResponse:
        """The payout report as CSV (optionally ``?since=YYYY-MM-DD&until=YYYY-MM-DD``, by creation)."""
        if not request.user.has_perm("payments.view_payout"):
            raise PermissionDenied
        payouts = Payout.objects.select_related("seller").order_by("created_at", "pk")
        form = ReportPeriodForm(request.GET)
        if form.is_valid():
            if since := form.cleaned_data.get("since"):
                payouts = payouts.filter(created_at__date__gte=since)
            if until := form.cleaned_data.get("until"):
                payouts = payouts.filter(created_at__date__lte=until)
        buffer = io.StringIO()
        write_payout_report(buffer, payouts)
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="payouts.csv"'
        return response


class ReportPeriodForm(forms.Form):
    since = forms.DateField(required=False)
    until = forms.DateField(required=False)
