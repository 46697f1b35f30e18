from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from modeltranslation.admin import TabbedTranslationAdmin, TranslationAdmin

from . import services
from .models import Category, Product, ProductImage, Seller, SellerMember, Variant, VariantPrice


class SellerMemberInline(admin.TabularInline):
    model = SellerMember
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Seller)
class SellerAdmin(TabbedTranslationAdmin):
    list_display = ["name", "slug", "country", "base_currency", "verified", "commission_rate"]
    list_filter = ["verified", "country", "base_currency"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ("name",)}
    inlines = [SellerMemberInline]


@admin.register(Category)
class CategoryAdmin(TranslationAdmin):
    list_display = ["name", "slug", "parent", "position"]
    list_filter = ["parent"]
    list_select_related = ["parent"]
    search_fields = ["slug", "name"]
    prepopulated_fields = {"slug": ("name_en",)}


class VariantInline(admin.TabularInline):
    model = Variant
    extra = 0
    fields = ["sku", "options", "price", "weight_grams", "length_mm", "width_mm", "height_mm", "position", "active"]
    show_change_link = True


class ProductImageInline(admin.TabularInline):
    model = ProductImage
    extra = 0
    fields = ["image", "alt", "position"]


class UntranslatedFilter(admin.SimpleListFilter):
    """Products with a text missing in some language (the name or the description)."""

    title = _("translations")
    parameter_name = "untranslated"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(code, _("missing in %(language)s") % {"language": name}) for code, name in services_languages()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Product]) -> QuerySet[Product]:
        if not self.value():
            return queryset
        missing = Q()
        for field in ("name", "short_description", "description"):
            col = services.column(field, self.value())
            missing |= Q(**{f"{col}__isnull": True}) | Q(**{col: ""})
        return queryset.filter(missing)


def services_languages() -> list[tuple[str, str]]:
    from django.conf import settings

    return [(code, str(name)) for code, name in settings.LANGUAGES if code != "en"]


@admin.register(Product)
class ProductAdmin(TabbedTranslationAdmin):
    list_display = ["name", "seller", "category", "status", "hs_code", "origin_country", "featured", "published_at"]
    list_filter = ["status", "seller", "category", "origin_country", "featured", UntranslatedFilter]
    list_select_related = ["seller", "category"]
    search_fields = ["name_en", "slug", "variants__sku", "brand", "hs_code"]
    prepopulated_fields = {"slug": ("name_en",)}
    readonly_fields = ["published_at", "source_changed_at", "translations_updated"]
    inlines = [VariantInline, ProductImageInline]
    actions = ["approve_selected", "reject_selected", "archive_selected"]

    def save_model(self, request: HttpRequest, obj: Product, form: Any, change: bool) -> None:
        # The admin saves every field, so the stamps set here are written with the rest.
        services.record_text_changes(obj, form.changed_data if change else list(form.fields))
        super().save_model(request, obj, form, change)

    def _transition(self, request: HttpRequest, queryset: QuerySet[Product], action: Any, **kwargs: Any) -> None:
        done, refused = 0, []
        for product in queryset.order_by("pk"):
            try:
                action(product, **kwargs)
                done += 1
            except services.InvalidTransition as exc:
                refused.append(f"{product}: {exc.message}")
        if done:
            self.message_user(request, _("%(n)d listing(s) updated.") % {"n": done}, messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.ERROR)

    @admin.action(description=_("Approve selected listings"))
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        self._transition(request, queryset, services.approve)

    @admin.action(description=_("Reject selected listings"))
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        self._transition(request, queryset, services.reject, reason=str(_("Rejected by an operator.")))

    @admin.action(description=_("Archive selected listings"))
    def archive_selected(self, request: HttpRequest, queryset: QuerySet[Product]) -> None:
        self._transition(request, queryset, services.archive)


class VariantPriceInline(admin.TabularInline):
    model = VariantPrice
    extra = 0


@admin.register(Variant)
class VariantAdmin(admin.ModelAdmin):
    list_display = ["sku", "product", "price", "weight_grams", "active"]
    list_filter = ["active", "product__seller"]
    list_select_related = ["product"]
    search_fields = ["sku", "product__name_en"]
    autocomplete_fields = ["product"]
    inlines = [VariantPriceInline]


@admin.register(SellerMember)
class SellerMemberAdmin(admin.ModelAdmin):
    list_display = ["user", "seller", "created_at"]
    list_select_related = ["user", "seller"]
    search_fields = ["user__email", "seller__name"]
    autocomplete_fields = ["user", "seller"]
