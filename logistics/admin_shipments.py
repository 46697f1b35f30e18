"""Operators' admin for shipments and their tracking events.

Status is never edited: an operator packs (action) or enters the tracking number of a pending or
packed shipment, which ships it through ``logistics.shipments.mark_shipped``. Carrier events are
read-only; "Poll the carrier now" queues the same task as the beat.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from marketplace.errors import DomainError

from .models import Shipment, TrackingEvent
from .shipments import declared_value, mark_packed, mark_shipped
from .tasks import poll_tracking_batch

EDITABLE_BEFORE_SHIPPING = (Shipment.Status.PENDING, Shipment.Status.PACKED)


class TrackingEventInline(admin.TabularInline):
    model = TrackingEvent
    extra = 0
    can_delete = False
    ordering = ["occurred_at", "pk"]
    fields = ["occurred_at", "status", "description", "location", "carrier_code", "source", "key"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ShipmentAdminForm(forms.ModelForm):
    class Meta:
        model = Shipment
        fields = [
            "order_number",
            "warehouse",
            "destination_country",
            "recipient_name",
            "recipient_address",
            "method",
            "incoterm",
            "shipping_cost",
            "carrier",
            "tracking_number",
            "customs_items",
        ]

    def clean_tracking_number(self) -> str:
        # Upper-case only; spaces and control characters inside stay and are refused by the
        # field's validator with a message that says which rule failed.
        return (self.cleaned_data.get("tracking_number") or "").upper()


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    form = ShipmentAdminForm
    list_display = [
        "pk",
        "order_number",
        "warehouse",
        "destination_country",
        "carrier",
        "tracking_number",
        "status",
        "shipped_at",
        "delivered_at",
        "poll_failures",
        "invoice_link",
    ]
    list_filter = ["status", "carrier", "incoterm", "destination_country", "warehouse"]
    list_select_related = ["warehouse"]
    search_fields = ["order_number", "tracking_number", "recipient_name"]
    date_hierarchy = "created_at"
    inlines = [TrackingEventInline]
    actions = ["pack_selected", "poll_selected"]
    fieldsets = [
        (None, {"fields": ["order_number", "warehouse", "status", "invoice_link"]}),
        (_("Delivery"), {"fields": ["destination_country", "recipient_name", "recipient_address"]}),
        (_("Carrier"), {"fields": ["method", "incoterm", "shipping_cost", "carrier", "tracking_number"]}),
        (_("Customs declaration"), {"fields": ["customs_items", "declared"]}),
        (
            _("Progress"),
            {
                "fields": [
                    "packed_at",
                    "shipped_at",
                    "delivered_at",
                    "last_polled_at",
                    "next_poll_at",
                    "poll_failures",
                    "last_poll_error",
                ]
            },
        ),
    ]
    readonly_fields = [
        "status",
        "invoice_link",
        "declared",
        "packed_at",
        "shipped_at",
        "delivered_at",
        "last_polled_at",
        "next_poll_at",
        "poll_failures",
        "last_poll_error",
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Shipment | None = None) -> list[str]:
        fields = list(self.readonly_fields)
        if obj is None:
            fields.append("tracking_number")  # ship after saving, from the change page
        elif obj.status not in EDITABLE_BEFORE_SHIPPING:
            fields += ["tracking_number", "carrier", "warehouse", "destination_country", "customs_items"]
        return fields

    def save_model(self, request: HttpRequest, obj: Shipment, form: forms.ModelForm, change: bool) -> None:
        number = form.cleaned_data.get("tracking_number") or ""
        ships_now = (
            change and "tracking_number" in form.changed_data and number and obj.status in EDITABLE_BEFORE_SHIPPING
        )
        if not ships_now:
            super().save_model(request, obj, form, change)
            return
        obj.tracking_number = form.initial.get("tracking_number") or ""
        super().save_model(request, obj, form, change)
        try:
            shipped = mark_shipped(obj, tracking_number=number, carrier=obj.carrier, acting_user=request.user)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        obj.refresh_from_db()
        self.message_user(request, _("Shipment %(pk)s shipped with %(number)s.") % {"pk": shipped.pk, "number": number})

    @admin.display(description=_("commercial invoice"))
    def invoice_link(self, obj: Shipment) -> str:
        if not obj.pk:
            return "—"
        url = reverse("logistics:commercial-invoice", kwargs={"pk": obj.pk})
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, _("Print"))

    @admin.display(description=_("declared value"))
    def declared(self, obj: Shipment) -> str:
        try:
            value = declared_value(obj)
        except Exception:  # noqa: BLE001 (an invalid declaration is shown, not raised, on a read-only line)
            return str(_("invalid declaration"))
        return str(value) if value is not None else "—"

    @admin.action(description=_("Mark selected shipments packed"))
    def pack_selected(self, request: HttpRequest, queryset: QuerySet[Shipment]) -> None:
        done, refused = 0, []
        for shipment in queryset.select_related("warehouse").order_by("pk"):
            try:
                mark_packed(shipment, acting_user=request.user)
                done += 1
            except DomainError as exc:
                refused.append(f"#{shipment.pk}: {exc.message}")
        self.message_user(request, _("%(n)s shipment(s) packed.") % {"n": done})
        for message in refused:
            self.message_user(request, message, messages.WARNING)

    @admin.action(description=_("Poll the carrier now"))
    def poll_selected(self, request: HttpRequest, queryset: QuerySet[Shipment]) -> None:
        ids = list(queryset.filter(status__in=Shipment.TRACKED).values_list("pk", flat=True))
        if ids:
            transaction.on_commit(lambda: poll_tracking_batch.delay(ids))
        self.message_user(request, _("Polling %(n)s shipment(s).") % {"n": len(ids)})
