"""Views only translate: request -> service call, result or domain error -> response (STYLE.md, 4)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from djmoney.money import Money

from catalog.pricing import PriceContext
from payments.base import NextAction
from payments.exceptions import PaymentError
from payments.models import Payment
from payments.qr import qr_svg
from payments.registry import get_method

from .cancellation import CancellationError, can_cancel, cancel_order
from .exceptions import CheckoutError, QuoteChanged, QuoteExpired
from .forms import AddToCartForm, CheckoutAddressForm, LineQuantityForm, PayOrderForm, PlaceOrderForm
from .models import MAX_LINE_QUANTITY, Checkout, Order
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
    can_pay,
    cart_for_request,
    choose_checkout_options,
    confirm_order_payment,
    latest_payment,
    order_payment_offers,
    pay_order,
    payment_offers,
    place_order,
    quote_money,
    quote_payment_context,
    refresh_quote,
    set_line_quantity,
    start_checkout,
)

# The provider's failure codes in the buyer's language (a provider answers in English).
FAILURE_TEXTS = {
    "card_declined": gettext_lazy("Your card was declined."),
    "insufficient_funds": gettext_lazy("Your card has insufficient funds."),
    "authentication_failed": gettext_lazy("The 3-D Secure authentication failed."),
    "wallet_declined": gettext_lazy("The payment was declined in the wallet app."),
    "expired_card": gettext_lazy("Your card has expired."),
}


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
    offers = payment_offers(
        quote_payment_context(quote, buyer_id=checkout.buyer_id), due_at_door=amounts["due_at_door"]
    )
    return {
        "checkout": checkout,
        "quote": quote,
        "amounts": amounts,
        "difference": difference,
        "fx": fx,
        "incoterms": incoterms,
        "payment_offers": offers,
        "chosen_method": quote.get("payment_method", ""),
        "shipments": [
            {
                **s,
                "shipping_money": Money(s["shipping"], checkout.currency),
                "due_at_door_money": Money(s["due_at_door"], checkout.currency),
                "lines": [{**i, "unit_money": Money(i["unit_price"], checkout.currency)} for i in s["items"]],
                "choices": [
                    {
                        **o,
                        "price_money": Money(o["price"], checkout.currency),
                        "chosen": o["method_id"] == s["method_id"],
                    }
                    for o in s.get("options", ())
                ],
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
    """Place the order with the buyer's delivery and payment choices, then hand over to the payment
    method. Only the token and the choices' ids are read: prices, quantities, warehouses and fees
    are recomputed. A choice that changes the total is stored and shown before anything is placed."""
    form = PlaceOrderForm(request.POST)
    if not form.is_valid():
        if "token" in form.errors:
            raise Http404
        for error in form.non_field_errors():
            messages.error(request, error)
        return redirect("orders:checkout")
    checkout = checkout_for_buyer(form.cleaned_data["token"], buyer=request.user)  # 404 for someone else's token
    try:
        checkout, changed = choose_checkout_options(
            checkout,
            payment_method=form.cleaned_data["payment_method"] or None,
            shipping=form.cleaned_data["shipping"],
        )
    except CheckoutError as exc:
        messages.error(request, exc.message)
        return redirect("orders:checkout")
    if "update" in request.POST:
        if changed:
            messages.info(request, _("Your total was updated."))
        return redirect("orders:checkout")
    if changed:
        messages.warning(request, _("Your choices changed the total. Please check it before placing your order."))
        return redirect("orders:checkout")
    if not Order.objects.filter(checkout=checkout).exists() and not checkout.quote.get("payment_method"):
        messages.error(request, _("No payment method is available for this order."))
        return redirect("orders:checkout")
    try:
        order = place_order(form.cleaned_data["token"], buyer=request.user)
    except (QuoteExpired, QuoteChanged) as exc:
        messages.error(request, exc.message)
        return redirect("orders:checkout")
    except CheckoutError as exc:
        messages.error(request, exc.message)
        return redirect("orders:checkout")
    return _pay(request, order, order.payment_method)


def _pay(request: HttpRequest, order: Order, method_code: str) -> HttpResponse:
    """Start (or resume) paying ``order`` and send the browser where the method says."""
    return_url = request.build_absolute_uri(reverse("orders:payment-return", kwargs={"number": order.number}))
    try:
        payment = pay_order(order, method_code=method_code, return_url=return_url)
    except (CheckoutError, PaymentError) as exc:
        messages.error(request, exc.message)
        return redirect("orders:order-detail", number=order.number)
    return _follow(request, order, payment)


def _failure_text(payment: Payment) -> str:
    text = FAILURE_TEXTS.get(payment.failure_code)
    return str(text) if text else payment.failure_message or _("The payment did not go through.")


def _follow(request: HttpRequest, order: Order, payment: Payment) -> HttpResponse:
    """Where the payment's next action sends the buyer: the provider's page (redirect), our page
    with a QR code or the card element (QR, client secret), or the order page (nothing to do)."""
    action = payment.next_action or {}
    if payment.is_open and action.get("kind") == NextAction.REDIRECT and action.get("url"):
        return HttpResponseRedirect(action["url"])  # the provider's page, as the provider gave it
    if payment.is_open and action.get("kind") in (NextAction.QR, NextAction.CLIENT_SECRET):
        return redirect("orders:order-pay", number=order.number)
    if payment.state == Payment.State.FAILED:
        messages.error(request, _failure_text(payment))
    return redirect("orders:order-detail", number=order.number)


@login_required
@require_http_methods(["GET", "POST"])
def order_pay(request: HttpRequest, number: str) -> HttpResponse:
    """POST: pay (again) with the chosen method. GET: the attempt under way (QR code to scan, or
    the card element), or back to the order page when there is nothing to do."""
    order = order_for_buyer(number, buyer=request.user)  # 404 for someone else's order
    if request.method == "POST":
        form = PayOrderForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Choose a payment method."))
            return redirect("orders:order-detail", number=order.number)
        return _pay(request, order, form.cleaned_data["payment_method"])
    payment = latest_payment(order)
    if payment is None or not payment.is_open:
        return redirect("orders:order-detail", number=order.number)
    action = payment.next_action or {}
    if action.get("kind") == NextAction.REDIRECT and action.get("url"):
        return HttpResponseRedirect(action["url"])
    context = {
        "order": order,
        "payment": payment,
        "action": action,
        "qr": qr_svg(action["qr_data"]) if action.get("qr_data") else None,
        "return_url": request.build_absolute_uri(reverse("orders:payment-return", kwargs={"number": order.number})),
        "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
    }
    return render(request, "orders/order_pay.html", context)


@login_required
@require_GET
def payment_return(request: HttpRequest, number: str) -> HttpResponse:
    """The buyer is back from the provider: its answer (never the browser's) decides."""
    order = order_for_buyer(number, buyer=request.user)  # 404 for someone else's order
    try:
        payment = confirm_order_payment(order, params=request.GET.dict())
    except PaymentError as exc:
        messages.error(request, exc.message)
        return redirect("orders:order-detail", number=order.number)
    if payment is None:
        return redirect("orders:order-detail", number=order.number)
    if payment.is_secured:
        messages.success(request, _("Thank you: your payment went through."))
    elif payment.state == Payment.State.FAILED:
        messages.error(request, _failure_text(payment))
    elif payment.is_open:
        messages.info(request, _("Your payment is still being processed."))
    return redirect("orders:order-detail", number=order.number)


def _payment_section(order: Order) -> dict:
    """The order page's payment section: the latest attempt, and the methods to pay (again) with."""
    payment = latest_payment(order)
    label = ""
    if payment is not None:
        try:
            label = str(get_method(payment.method).label)
        except PaymentError:
            label = payment.method
    payable = can_pay(order)
    return {
        "payment": payment,
        "payment_label": label,
        "payment_failure": _failure_text(payment) if payment and payment.state == Payment.State.FAILED else "",
        "pay_offers": order_payment_offers(order) if payable else [],
        "can_pay": payable,
    }


@login_required
def order_list(request: HttpRequest) -> HttpResponse:
    return render(request, "orders/order_list.html", {"orders": orders_for_buyer(request.user)})


@login_required
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    order = order_for_buyer(number, buyer=request.user)
    shipments = list(order_shipments(order))
    context = {
        "order": order,
        "shipments": shipments,
        "can_cancel": can_cancel(order, shipments),
        **_payment_section(order),
    }
    return render(request, "orders/order_detail.html", context)


@login_required
@require_POST
def order_cancel(request: HttpRequest, number: str) -> HttpResponse:
    """The buyer cancels before shipping (orders.cancellation); a second click changes nothing."""
    order = order_for_buyer(number, buyer=request.user)  # 404 for someone else's order
    try:
        result = cancel_order(order, reason="buyer", acting_user=request.user)
    except CancellationError as exc:
        messages.error(request, exc.message)
        return redirect("orders:order-detail", number=order.number)
    if result.payment_error:
        messages.warning(request, result.payment_error)
    elif result.cancelled_now and result.refund is not None:
        messages.success(request, _("Your order is cancelled. The money is on its way back to you."))
    elif result.cancelled_now:
        messages.success(request, _("Your order is cancelled."))
    else:
        messages.info(request, _("This order was already cancelled."))
    return redirect("orders:order-detail", number=order.number)
