from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_countries import countries

from catalog.models import Seller
from logistics.models import Shipment
from marketplace.models import Market
from marketplace.money import format_money

from .fulfilment import NotFulfillable, advance_order, start_fulfilment
from .models import (
    Cart,
    CartLine,
    Checkout,
    Order,
    OrderEvent,
    OrderLine,
    OrderNotification,
    StockReservation,
    SubOrder,
)
from .notifications import resend_notification


class CartLineInline(admin.TabularInline):
    model = CartLine
    extra = 0
    raw_id_fields = ("variant",)


@admin.register(Cart)
class CartAdmin(admin.ModelAdmin):
    list_display = ("pk", "user", "status", "created_at", "updated_at")
    list_filter = ("status",)
    search_fields = ("user__email", "token")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    inlines = [CartLineInline]


@admin.register(Checkout)
class CheckoutAdmin(admin.ModelAdmin):
    list_display = ("token", "buyer", "email", "country", "currency", "quoted_at", "expires_at")
    list_filter = ("country", "currency")
    search_fields = ("token", "email", "buyer__email", "name")
    list_select_related = ("buyer",)
    raw_id_fields = ("cart", "buyer")
    readonly_fields = ("token", "quote", "fx_rates", "quoted_at", "expires_at", "previous_total")


class ReadOnlyInline(admin.TabularInline):
    """What was bought, and what happened since, is history: shown, never edited here."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SubOrderInline(ReadOnlyInline):
    model = SubOrder
    fields = ("seller", "status", "goods")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[SubOrder]:
        return super().get_queryset(request).select_related("seller")


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = (
        "sub_order",
        "name",
        "sku",
        "quantity",
        "warehouse",
        "unit_price_seller",
        "fx_rate",
        "unit_price",
        "line_total",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderLine]:
        return super().get_queryset(request).select_related("sub_order__seller", "warehouse")


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ("occurred_at", "kind", "amount", "key", "created_at")
    readonly_fields = fields
    verbose_name_plural = _("timeline")


class OrderNotificationInline(ReadOnlyInline):
    model = OrderNotification
    fields = ("kind", "recipient", "language", "sent_at", "attempts", "resent", "last_error")
    readonly_fields = fields


class MarketFilter(admin.SimpleListFilter):
    """The destination markets (a market is a country), not all 250 countries."""

    title = _("market")
    parameter_name = "market"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        codes = Market.objects.order_by("country").values_list("country", flat=True)
        return [(str(code), f"{countries.name(code)} ({code})") for code in codes]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        return queryset.filter(country=self.value()) if self.value() else queryset


class SellerFilter(admin.SimpleListFilter):
    """Orders with a part from this seller (``EXISTS``: an order with three sellers is listed once)."""

    title = _("seller")
    parameter_name = "seller"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[int, str]]:
        return list(Seller.objects.order_by("name").values_list("pk", "name"))

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        value = self.value()
        if not value or not str(value).isdigit():
            return queryset
        return queryset.filter(Exists(SubOrder.objects.filter(order=OuterRef("pk"), seller_id=int(value))))


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Search by order number, buyer e-mail or a parcel's tracking number (shipments live in
    logistics and point back by ``order_number``: one subquery, no per-row lookups). The list costs
    the same number of queries for 1 or 100 orders. Actions call the services."""

    list_display = ("number", "created_at", "email", "status", "country", "currency", "total_display", "parcels")
    list_filter = ("status", MarketFilter, SellerFilter, "currency")
    list_select_related = ()
    search_fields = ("number", "email", "buyer__email")
    search_help_text = _("Order number, buyer e-mail or tracking number.")
    date_hierarchy = "created_at"
    raw_id_fields = ("buyer", "checkout")
    fields = (
        ("number", "status"),
        ("buyer", "email", "language"),
        ("country", "currency"),
        "shipping_address",
        ("goods", "shipping", "duties", "taxes", "fees"),
        ("total", "due_at_door"),
        "fx_rates",
        ("reservation_expires_at", "created_at", "updated_at"),
        "checkout",
    )
    readonly_fields = (
        "number",
        "status",
        "buyer",
        "language",
        "country",
        "currency",
        "shipping_address",
        "goods",
        "shipping",
        "duties",
        "taxes",
        "fees",
        "total",
        "due_at_door",
        "fx_rates",
        "reservation_expires_at",
        "created_at",
        "updated_at",
        "checkout",
    )
    inlines = [SubOrderInline, OrderLineInline, OrderEventInline, OrderNotificationInline]
    actions = ["resend_confirmation", "mark_fulfilling", "follow_parcels"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        parcels = (
            Shipment.objects.filter(order_number=OuterRef("number"))
            .order_by()
            .values("order_number")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return super().get_queryset(request).annotate(parcel_count=Subquery(parcels))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Order], search_term: str
    ) -> tuple[QuerySet[Order], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip().upper()
        if term and " " not in term:
            tracked = Shipment.objects.filter(tracking_number=term).exclude(order_number="").values("order_number")
            results |= queryset.filter(number__in=tracked)
        return results, may_have_duplicates

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # orders come from checkouts

    @admin.display(description=_("total"), ordering="total")
    def total_display(self, order: Order) -> str:
        return format_money(order.total)

    @admin.display(description=_("parcels"), ordering="parcel_count")
    def parcels(self, order: Order) -> int:
        return order.parcel_count or 0  # type: ignore[attr-defined]

    @admin.action(description=_("Send the order confirmation again"))
    def resend_confirmation(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        sent = sum(resend_notification(order, OrderNotification.Kind.CONFIRMATION) for order in queryset)
        skipped = queryset.count() - sent
        self.message_user(
            request, ngettext("%(n)s confirmation sent.", "%(n)s confirmations sent.", sent) % {"n": sent}
        )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(n)s order is not confirmed (or its e-mail is being sent): nothing sent.",
                    "%(n)s orders are not confirmed (or their e-mails are being sent): nothing sent.",
                    skipped,
                )
                % {"n": skipped},
                messages.WARNING,
            )

    @admin.action(description=_("Mark as being prepared"))
    def mark_fulfilling(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        done, refused = 0, []
        for order in queryset.order_by("pk"):
            try:
                start_fulfilment(order)
                done += 1
            except NotFulfillable as exc:
                refused.append(f"{order.number}: {exc.message}")
        if done:
            self.message_user(
                request,
                ngettext("%(n)s order is being prepared.", "%(n)s orders are being prepared.", done) % {"n": done},
            )
        for message in refused:
            self.message_user(request, message, messages.ERROR)

    @admin.action(description=_("Update the status from the parcels"))
    def follow_parcels(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        moved = 0
        for order_id in queryset.order_by("pk").values_list("pk", flat=True):
            result = advance_order(order_id)
            moved += bool(result and result.moved)
        self.message_user(request, ngettext("%(n)s order updated.", "%(n)s orders updated.", moved) % {"n": moved})


@admin.register(StockReservation)
class StockReservationAdmin(admin.ModelAdmin):
    list_display = ("pk", "order_line", "stock", "quantity", "released_at")
    list_filter = ("released_at",)
    search_fields = ("order_line__order__number", "order_line__sku")
    list_select_related = ("order_line__order", "stock__variant", "stock__warehouse")
    raw_id_fields = ("order_line", "stock")


from . import feedback_admin  # noqa: E402, F401  (feedback threads, revisions, abuse reports)
