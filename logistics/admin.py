"""Operators' admin for logistics.

Warehouses, stock and shipping: stock is never edited as a number; an operator records a change
(add, remove, set the count) with a reason, which goes through ``logistics.stock.change_stock``
and lands in the adjustment log. The log itself is read-only.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .models import ShippingMethod, ShippingRate, ShippingZone, Stock, StockAdjustment, Warehouse
from .stock import Operation, change_stock

# --- Warehouses and stock ------------------------------------------------------------------------


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "country", "city", "handling_days", "active"]
    list_filter = ["kind", "active", "country"]
    search_fields = ["code", "name", "city"]
    filter_horizontal = ["sellers"]
    fieldsets = [
        (None, {"fields": ["code", "name", "kind", "active"]}),
        (_("Location"), {"fields": ["country", "city", "address", "operator", "handling_days"]}),
        (_("Sellers"), {"fields": ["sellers"]}),
    ]


class StockAdminForm(forms.ModelForm):
    """The row's identity plus a change to record; on hand and allocated are read-only."""

    operation = forms.ChoiceField(
        label=_("Change"),
        choices=[
            (Operation.ADD, _("Add units")),
            (Operation.REMOVE, _("Remove units")),
            (Operation.SET, _("Set count to")),
        ],
        initial=Operation.ADD,
    )
    quantity = forms.IntegerField(
        label=_("Units"),
        min_value=0,
        max_value=1_000_000,
        required=False,
        help_text=_("Leave empty to change nothing."),
        error_messages={"min_value": _("Stock cannot be negative: enter a number of units, zero or more.")},
    )
    reason = forms.ChoiceField(label=_("Reason"), choices=StockAdjustment.Reason.choices)
    note = forms.CharField(label=_("Note"), max_length=300, required=False)

    class Meta:
        model = Stock
        fields = ["variant", "warehouse"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        quantity, operation = data.get("quantity"), data.get("operation")
        variant = data.get("variant") or getattr(self.instance, "variant", None)
        warehouse = data.get("warehouse") or getattr(self.instance, "warehouse", None)
        if self.instance.pk is None and quantity is None:
            self.add_error("quantity", _("Enter the units on hand to start with."))
        if (
            variant is not None
            and warehouse is not None
            and not self.errors
            and not warehouse.sellers.filter(pk=variant.product.seller_id).exists()
        ):
            self.add_error(
                "warehouse",
                _("%(seller)s may not use this warehouse: add them to its sellers first.")
                % {"seller": variant.product.seller},
            )
        if quantity is not None and operation is not None and not self.errors:
            on_hand, allocated = self.instance.on_hand or 0, self.instance.allocated or 0
            after = {Operation.ADD: on_hand + quantity, Operation.REMOVE: on_hand - quantity}.get(operation, quantity)
            if after < 0:
                self.add_error("quantity", _("Stock cannot be negative: only %(n)s on hand.") % {"n": on_hand})
            elif after < allocated:
                self.add_error(
                    "quantity",
                    _("%(n)s units are allocated to orders: on hand cannot go below that.") % {"n": allocated},
                )
            elif quantity == 0 and operation != Operation.SET:
                self.add_error("quantity", _("Enter how many units to add or remove."))
        return data


class StockAdjustmentInline(admin.TabularInline):
    model = StockAdjustment
    extra = 0
    fields = ["created_at", "quantity", "on_hand_after", "reason", "note", "actor"]
    readonly_fields = fields
    can_delete = False
    ordering = ["-created_at", "-pk"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[StockAdjustment]:
        return super().get_queryset(request).select_related("actor")


@admin.register(Stock)
class StockAdmin(admin.ModelAdmin):
    form = StockAdminForm
    list_display = ["variant", "warehouse", "on_hand", "allocated", "available_units", "updated_at"]
    list_filter = ["warehouse"]
    list_select_related = ["variant", "warehouse"]
    search_fields = ["variant__sku", "warehouse__code"]
    autocomplete_fields = ["variant"]

    @admin.display(description=_("available"))
    def available_units(self, obj: Stock) -> int:
        return obj.available

    def get_fieldsets(self, request: HttpRequest, obj: Stock | None = None) -> Any:
        change = [(_("Record a change"), {"fields": ["operation", "quantity", "reason", "note"]})]
        if obj is None:
            return [(None, {"fields": ["variant", "warehouse"]}), *change]
        return [(None, {"fields": ["variant", "warehouse", "on_hand", "allocated"]}), *change]

    def get_inlines(self, request: HttpRequest, obj: Stock | None) -> list[type[admin.TabularInline]]:
        return [StockAdjustmentInline] if obj is not None else []

    def get_readonly_fields(self, request: HttpRequest, obj: Stock | None = None) -> list[str]:
        return ["variant", "warehouse", "on_hand", "allocated"] if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: Stock | None = None) -> bool:
        return False  # the log would lose its row; set the count to zero instead

    def save_model(self, request: HttpRequest, obj: Stock, form: forms.ModelForm, change: bool) -> None:
        data = form.cleaned_data
        if data.get("quantity") is None:
            return
        stock = change_stock(
            obj.variant,
            obj.warehouse,
            operation=data["operation"],
            quantity=data["quantity"],
            reason=data["reason"],
            actor=request.user,  # type: ignore[arg-type]
            note=data.get("note") or "",
        )
        # The admin goes on with ``obj`` (log entry, redirect): make it the saved row.
        obj.pk, obj.on_hand, obj.allocated = stock.pk, stock.on_hand, stock.allocated
        obj.created_at, obj.updated_at = stock.created_at, stock.updated_at
        obj._state.adding = False
        obj._state.db = stock._state.db


@admin.register(StockAdjustment)
class StockAdjustmentAdmin(admin.ModelAdmin):
    list_display = ["created_at", "stock", "quantity", "on_hand_after", "reason", "actor"]
    list_filter = ["reason", "stock__warehouse"]
    list_select_related = ["stock", "actor"]
    search_fields = ["stock__variant__sku", "note"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Shipping ------------------------------------------------------------------------------------


@admin.register(ShippingZone)
class ShippingZoneAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "country_count"]
    search_fields = ["code", "name"]

    @admin.display(description=_("countries"))
    def country_count(self, obj: ShippingZone) -> int:
        return len(obj.countries)


@admin.register(ShippingMethod)
class ShippingMethodAdmin(admin.ModelAdmin):
    list_display = [
        "code", "name", "carrier", "service_level", "incoterm", "transit_days_min", "transit_days_max", "active"
    ]  # fmt: skip
    list_filter = ["service_level", "incoterm", "carrier", "active"]
    search_fields = ["code", "name"]


@admin.register(ShippingRate)
class ShippingRateAdmin(admin.ModelAdmin):
    list_display = ["method", "warehouse", "zone", "min_weight_grams", "max_weight_grams", "price"]
    list_filter = ["warehouse", "zone", "method"]
    list_select_related = ["method", "warehouse", "zone"]
    search_fields = ["method__code", "warehouse__code", "zone__code"]


# Customs (duty tables, market rules) and shipments (with their tracking events) have their own modules.
from . import admin_customs, admin_shipments  # noqa: E402, F401
