"""Operators' admin for customs: duty tables (with value tiers) and each market's import rules.

Changes clear the destination's cached rules (``logistics.receivers``), so the next quote uses them.
The thresholds and VAT rate themselves live on the market (Markets admin).
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from marketplace.money import format_money

from .models import DutyRate, DutyRateTier, MarketCustomsRule


class DutyRateTierInline(admin.TabularInline):
    model = DutyRateTier
    extra = 0
    fields = ["above", "rate", "deduction"]


@admin.register(DutyRate)
class DutyRateAdmin(admin.ModelAdmin):
    list_display = ["country", "prefix", "description", "rate", "per_item_fee", "tier_count", "verified_on"]
    list_filter = ["country"]
    search_fields = ["hs_prefix", "description", "source"]
    ordering = ["country", "hs_prefix"]
    inlines = [DutyRateTierInline]
    fieldsets = [
        (None, {"fields": ["country", "hs_prefix", "description"]}),
        (_("Duty"), {"fields": ["rate", "per_item_fee"]}),
        (_("Provenance"), {"fields": ["source", "verified_on"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[DutyRate]:
        return super().get_queryset(request).prefetch_related("tiers")

    @admin.display(description=_("HS prefix"), ordering="hs_prefix")
    def prefix(self, obj: DutyRate) -> str:
        return obj.hs_prefix or str(_("(default)"))

    @admin.display(description=_("tiers"))
    def tier_count(self, obj: DutyRate) -> int:
        return len(obj.tiers.all())


@admin.register(MarketCustomsRule)
class MarketCustomsRuleAdmin(admin.ModelAdmin):
    list_display = [
        "market",
        "tax_name",
        "checkout_tax_up_to",
        "duty_base_includes_shipping",
        "tax_base_includes_shipping",
        "tax_base_includes_duty",
        "tax_inclusive_base",
        "parcel_fee",
        "verified_on",
    ]
    list_select_related = ["market"]
    search_fields = ["market__country"]
    readonly_fields = ["market_thresholds"]
    fieldsets = [
        (None, {"fields": ["market", "market_thresholds", "tax_name"]}),
        (_("Low-value imports"), {"fields": ["checkout_tax_up_to"]}),
        (
            _("Bases"),
            {
                "fields": [
                    "duty_base_includes_shipping",
                    "tax_base_includes_shipping",
                    "tax_base_includes_duty",
                    "tax_inclusive_base",
                ]
            },
        ),
        (_("Fees"), {"fields": ["parcel_fee"]}),
        (_("Provenance"), {"fields": ["source", "verified_on"]}),
    ]

    @admin.display(description=_("market thresholds"))
    def market_thresholds(self, obj: MarketCustomsRule) -> str:
        if not obj.market_id:
            return "—"
        market = obj.market
        return str(
            _("VAT/GST %(rate)s%%; no duty up to %(duty)s; no tax up to %(tax)s (edit them on the market).")
            % {
                "rate": market.vat_rate,
                "duty": format_money(market.duty_de_minimis),
                "tax": format_money(market.tax_de_minimis),
            }
        )
