from __future__ import annotations

from django.contrib import admin

from .models import Cart, CartLine, Checkout, Order, OrderLine, StockReservation, SubOrder


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


class SubOrderInline(admin.TabularInline):
    model = SubOrder
    extra = 0
    raw_id_fields = ("seller",)


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    raw_id_fields = ("variant", "warehouse", "sub_order")
    readonly_fields = ("unit_price_seller", "unit_price", "fx_rate", "line_total")


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("number", "email", "status", "country", "currency", "total", "created_at")
    list_filter = ("status", "country", "currency")
    search_fields = ("number", "email", "buyer__email")
    list_select_related = ("buyer",)
    raw_id_fields = ("buyer", "checkout")
    readonly_fields = ("number", "fx_rates", "shipping_address")
    inlines = [SubOrderInline, OrderLineInline]


@admin.register(StockReservation)
class StockReservationAdmin(admin.ModelAdmin):
    list_display = ("pk", "order_line", "stock", "quantity", "released_at")
    list_filter = ("released_at",)
    search_fields = ("order_line__order__number", "order_line__sku")
    list_select_related = ("order_line__order", "stock__variant", "stock__warehouse")
    raw_id_fields = ("order_line", "stock")
