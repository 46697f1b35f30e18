from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from djmoney.contrib.exchange.models import Rate

from .models import FxRate, FxRefresh, ManualRate, Market, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = [
        "email",
        "first_name",
        "last_name",
        "country",
        "preferred_language",
        "preferred_currency",
        "is_staff",
    ]
    list_filter = ["is_staff", "is_superuser", "is_active", "country", "preferred_language"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (
            _("Personal info"),
            {"fields": ("first_name", "last_name", "country", "preferred_language", "preferred_currency")},
        ),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(Market)
class MarketAdmin(admin.ModelAdmin):
    list_display = [
        "country",
        "region",
        "currency",
        "language",
        "vat_rate",
        "duty_de_minimis",
        "tax_de_minimis",
        "cod_enabled",
        "fx_margin",
        "active",
    ]
    list_filter = ["region", "active", "cod_enabled", "currency"]
    search_fields = ["country", "currency"]
    fieldsets = (
        (None, {"fields": ("country", "region", "currency", "language", "active")}),
        (
            _("Taxes and duties"),
            {
                "fields": (
                    "vat_rate",
                    ("duty_de_minimis", "duty_de_minimis_verified_on"),
                    ("tax_de_minimis", "tax_de_minimis_verified_on"),
                )
            },
        ),
        (_("Payments"), {"fields": ("payment_methods", "cod_enabled", "cod_max", "fx_margin")}),
    )


@admin.register(ManualRate)
class ManualRateAdmin(admin.ModelAdmin):
    list_display = ["currency", "units_per_eur", "source", "entered_by", "updated_at"]
    readonly_fields = ["entered_by", "created_at", "updated_at"]
    search_fields = ["currency"]

    def save_model(self, request: HttpRequest, obj: ManualRate, form: Any, change: bool) -> None:
        obj.entered_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rate history is evidence: operators read it, nobody edits or deletes it."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class FxRateInline(admin.TabularInline):
    model = FxRate
    fields = ["currency", "units_per_eur", "provider", "as_of", "offline"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(FxRefresh)
class FxRefreshAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "status", "rate_count", "checked_at", "providers", "error"]
    list_filter = ["status"]
    inlines = [FxRateInline]


@admin.register(FxRate)
class FxRateAdmin(ReadOnlyAdmin):
    list_display = ["currency", "units_per_eur", "provider", "as_of", "refresh"]
    list_filter = ["currency", "provider"]
    list_select_related = ["refresh"]


# django-money registers its current ``Rate`` rows as editable; ours are written only by a refresh,
# with history, so operators see them read-only and enter figures as manual rates instead.
admin.site.unregister(Rate)


@admin.register(Rate)
class CurrentRateAdmin(ReadOnlyAdmin):
    list_display = ["currency", "value", "backend"]
    list_filter = ["backend"]
    ordering = ["currency"]
