"""Views only translate: request -> service call, result or domain error -> response (STYLE.md, 4)."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from djmoney.money import Money

from catalog.pricing import PriceContext

from .exceptions import CheckoutError, QuoteChanged, QuoteExpired
from .forms import AddToCartForm, CheckoutAddressForm, LineQuantityForm, PlaceOrderForm
from .models import MAX_LINE_QUANTITY, Checkout
from .selectors import (
    cart_summary,
    checkout_for_buyer,
    current_cart,
    latest_checkout,
    order_for_buyer,
    order_shipments,
    orders_for_buyer,
)
from .services import (
    MONEY_FIELDS,
    Address,
    add_to_cart,
    cart_for_request,
    place_order,
    quote_money,
    refresh_quote,
    set_line_quantity,
    start_checkout,
)


def _next_url(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return default


def cart_detail(request: HttpRequest) -> HttpResponse:
    summary = cart_summary(current_cart(request), PriceContext.for_request(request))
    return render(request, "orders/cart.html", {"summary": summary})


@require_POST
def cart_add(request: HttpRequest) -> HttpResponse:
    form = AddToCartForm(request.POST)
    back = _next_url(request, redirect("orders:cart").url)
    if not form.is_valid():
        message = _("Choose a product option and a quantity from 1 to %(max)s.")
        messages.error(request, message % {"max": MAX_LINE_QUANTITY})
        return HttpResponseRedirect(back)
    try:
        add_to_cart(
            cart_for_request(request),
            variant_id=form.cleaned_data["variant"],
            quantity=form.cleaned_data["quantity"],
        )
    except CheckoutError as exc:
        messages.error(request, exc.message)
        return HttpResponseRedirect(back)
    messages.success(request, _("Added to your cart."))
    return redirect("orders:cart")


@require_POST
def cart_line_update(request: HttpRequest, line_id: int) -> HttpResponse:
    cart = current_cart(request)
    form = LineQuantityForm(request.POST)
    if cart is None:
        raise Http404
    if "remove" in request.POST:
        set_line_quantity(cart, line_id=line_id, quantity=0)
    elif not form.is_valid():
        messages.error(request, _("Choose a quantity from 1 to %(max)s.") % {"max": MAX_LINE_QUANTITY})
    else:
        try:
            set_line_quantity(cart, line_id=line_id, quantity=form.cleaned_data["quantity"])
        except CheckoutError as exc:
            messages.error(request, exc.message)
    return redirect("orders:cart")


def _quote_context(checkout: Checkout) -> dict:
    quote = checkout.quote
    amounts = {field: quote_money(quote, field) for field in MONEY_FIELDS}
    difference = None
    if checkout.previous_total is not None and checkout.previous_total != amounts["total"]:
        difference = amounts["total"] - checkout.previous_total
    fx = [
        (Money(1, code), Money(Decimal(rate).quantize(Decimal("0.000001")), checkout.currency))
        for code, rate in quote.get("fx", {}).items()
    ]
    incoterms = sorted({s["incoterm"] for s in quote["shipments"]})
    return {
        "checkout": checkout,
        "quote": quote,
        "amounts": amounts,
        "difference": difference,
        "fx": fx,
        "incoterms": incoterms,
        "shipments": [
            {
                **s,
                "shipping_money": Money(s["shipping"], checkout.currency),
                "due_at_door_money": Money(s["due_at_door"], checkout.currency),
                "lines": [{**i, "unit_money": Money(i["unit_price"], checkout.currency)} for i in s["items"]],
            }
            for s in quote["shipments"]
        ],
    }


@login_required
def checkout(request: HttpRequest) -> HttpResponse:
    cart = current_cart(request)
    summary = cart_summary(cart, PriceContext.for_request(request))
    if cart is None or summary.empty:
        messages.error(request, _("Your cart is empty."))
        return redirect("orders:cart")
    current = latest_checkout(cart, buyer=request.user)
    if request.method == "POST":
        form = CheckoutAddressForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                start_checkout(
                    cart,
                    buyer=request.user,
                    address=Address(**{k: data[k] for k in Address.__dataclass_fields__}),
                    currency=request.currency,  # type: ignore[attr-defined]
                    language=get_language() or "en",
                )
            except CheckoutError as exc:
                form.add_error(None, exc.message)
                return render(request, "orders/checkout.html", {"form": form, "summary": summary}, status=400)
            return redirect("orders:checkout")
        return render(request, "orders/checkout.html", {"form": form, "summary": summary}, status=400)
    initial = {"email": request.user.email}
    if current is not None:
        initial.update({f: getattr(current, f) for f in ("email", "name", "line1", "line2", "city", "postal_code")})
        initial.update({"country": str(current.country), "phone": current.phone})
    elif request.buyer_country:  # type: ignore[attr-defined]
        initial["country"] = request.buyer_country  # type: ignore[attr-defined]
    context: dict = {"form": CheckoutAddressForm(initial=initial), "summary": summary}
    if current is not None:
        if current.expired:
            try:
                current = refresh_quote(current)
            except CheckoutError as exc:
                messages.error(request, exc.message)
                return render(request, "orders/checkout.html", context)
            messages.warning(request, _("Your quote expired, so we recalculated it."))
        context.update(_quote_context(current))
    return render(request, "orders/checkout.html", context)


@login_required
@require_POST
def checkout_place(request: HttpRequest) -> HttpResponse:
    form = PlaceOrderForm(request.POST)  # only the token: prices, quantities, warehouses are recomputed
    if not form.is_valid():
        raise Http404
    checkout_for_buyer(form.cleaned_data["token"], buyer=request.user)  # 404 for someone else's token
    try:
        order = place_order(form.cleaned_data["token"], buyer=request.user)
    except (QuoteExpired, QuoteChanged) as exc:
        messages.error(request, exc.message)
        return redirect("orders:checkout")
    except CheckoutError as exc:
        messages.error(request, exc.message)
        return redirect("orders:checkout")
    return redirect("orders:order-detail", number=order.number)


@login_required
def order_list(request: HttpRequest) -> HttpResponse:
    return render(request, "orders/order_list.html", {"orders": orders_for_buyer(request.user)})


@login_required
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    order = order_for_buyer(number, buyer=request.user)
    return render(request, "orders/order_detail.html", {"order": order, "shipments": order_shipments(order)})
