"""Reads for the orders app, each with its ownership check (STYLE.md, 3)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from djmoney.money import Money

from catalog.models import Seller
from catalog.pricing import PriceContext, variant_price
from logistics.allocation import load_allocation_data
from logistics.models import Shipment
from marketplace.models import User
from marketplace.money import round_money

from .models import Cart, CartLine, Checkout, Order

CART_SESSION_KEY = "cart_token"


def current_cart(request: HttpRequest) -> Cart | None:
    """The open cart of the signed-in buyer, else the one this browser session holds."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return Cart.objects.filter(user=user, status=Cart.Status.OPEN).first()
    token = request.session.get(CART_SESSION_KEY)
    if not token:
        return None
    return Cart.objects.filter(token=token, user=None, status=Cart.Status.OPEN).first()


def cart_lines(cart: Cart) -> list[CartLine]:
    return list(
        cart.lines.select_related("variant__product__seller").prefetch_related("variant__prices").order_by("pk")
    )


def cart_count(cart: Cart | None) -> int:
    if cart is None:
        return 0
    return sum(cart.lines.values_list("quantity", flat=True))


def checkout_for_buyer(token: object, *, buyer: User) -> Checkout:
    return get_object_or_404(Checkout.objects.select_related("cart"), token=token, buyer=buyer)


def latest_checkout(cart: Cart, *, buyer: User) -> Checkout | None:
    return Checkout.objects.filter(cart=cart, buyer=buyer, order__isnull=True).order_by("-created_at", "-pk").first()


def orders_for_buyer(buyer: User) -> QuerySet[Order]:
    return Order.objects.filter(buyer=buyer).order_by("-created_at", "-pk")


def order_for_buyer(number: str, *, buyer: User) -> Order:
    orders = Order.objects.prefetch_related("lines", "sub_orders__seller")
    return get_object_or_404(orders, number=number, buyer=buyer)


def order_shipments(order: Order) -> QuerySet[Shipment]:
    """The order's parcels with their tracking events (oldest first), in two queries."""
    return (
        Shipment.objects.filter(order_number=order.number)
        .select_related("warehouse", "method")
        .prefetch_related("events")
        .order_by("pk")
    )


@dataclass(frozen=True)
class CartLineView:
    line: CartLine
    unit_price: Money
    total: Money
    available: int

    @property
    def problem(self) -> str:
        if self.available <= 0:
            return "out_of_stock"
        if self.available < self.line.quantity:
            return "short"
        return ""


@dataclass(frozen=True)
class SellerGroup:
    seller: Seller
    lines: tuple[CartLineView, ...]


@dataclass(frozen=True)
class CartSummary:
    groups: tuple[SellerGroup, ...]
    total: Money
    count: int

    @property
    def has_problems(self) -> bool:
        return any(view.problem for group in self.groups for view in group.lines)

    @property
    def empty(self) -> bool:
        return not self.groups


def cart_summary(cart: Cart | None, ctx: PriceContext) -> CartSummary:
    """The cart priced now in the buyer's currency, grouped by seller, each line's stock checked."""
    lines = cart_lines(cart) if cart is not None else []
    data = load_allocation_data([line.variant_id for line in lines], None)
    groups: dict[int, list[CartLineView]] = {}
    sellers: dict[int, Seller] = {}
    total = Money(0, ctx.currency)
    for line in lines:
        unit = variant_price(line.variant, ctx).money
        line_total = round_money(unit * line.quantity)
        if line_total.currency.code == ctx.currency:
            total += line_total
        seller = line.variant.product.seller
        sellers[seller.pk] = seller
        groups.setdefault(seller.pk, []).append(CartLineView(line, unit, line_total, data.units_for(line.variant_id)))
    return CartSummary(
        groups=tuple(SellerGroup(sellers[s], tuple(views)) for s, views in groups.items()),
        total=total,
        count=sum(line.quantity for line in lines),
    )
