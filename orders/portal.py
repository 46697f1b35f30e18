"""The seller's orders (``/<lang>/seller/orders/``): each sub-order of theirs, its lines, where it
goes, and its parcels; "mark packed" and "ship" on the parcels leaving the seller's own warehouses.

Parcels move through ``logistics.shipments.mark_packed`` / ``mark_shipped`` (idempotent: a double
submit changes nothing the second time), with the logistics portal's ``ShipForm`` and
``shipment_for_seller``; the order then follows through ``logistics.signals`` and
``orders.fulfilment``. Every lookup goes through the seller: another seller's sub-order or
parcel is a 404, like one that does not exist; so is the page for a signed-in buyer.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from catalog.models import Seller
from catalog.portal.selectors import seller_for_user
from logistics.exceptions import ShipmentError
from logistics.models import Shipment
from logistics.portal.forms import ShipForm
from logistics.portal.selectors import shipment_for_seller
from logistics.shipments import mark_packed, mark_shipped, seller_shipments

from .models import Order, OrderLine, SubOrder

PER_PAGE = 50
Status = Order.Status
# Not the seller's business yet (unpaid), or never will be (not paid in time).
HIDDEN = (Status.PENDING_PAYMENT, Status.EXPIRED)
# The order must be paid and not cancelled before a parcel is packed or shipped.
SHIPPABLE_ORDER = (Status.CONFIRMED, Status.FULFILLING, Status.SHIPPED)
SHIPPABLE_PARCEL = (Shipment.Status.PENDING, Shipment.Status.PACKED)
STATUS_CHOICES = [("", gettext_lazy("All"))] + [(v, label) for v, label in Status.choices if v not in HIDDEN]


# --- Reads -----------------------------------------------------------------------------------------


def seller_sub_orders(seller: Seller, *, status: str = "") -> QuerySet[SubOrder]:
    """The seller's sub-orders, newest first, with their order and units: one query."""
    units = (
        OrderLine.objects.filter(sub_order=OuterRef("pk")).values("sub_order").annotate(n=Sum("quantity")).values("n")
    )
    sub_orders = (
        SubOrder.objects.filter(seller=seller)
        .exclude(order__status__in=HIDDEN)
        .select_related("order")
        .annotate(units=Subquery(units))
        .order_by("-order__created_at", "-pk")
    )
    if status:
        sub_orders = sub_orders.filter(status=status)
    return sub_orders


def sub_order_for_seller(number: str, *, seller: Seller) -> SubOrder:
    sub_orders = SubOrder.objects.filter(seller=seller).exclude(order__status__in=HIDDEN).select_related("order")
    return get_object_or_404(sub_orders, order__number=number)


def sub_order_shipments(sub_order: SubOrder, *, seller: Seller) -> list[dict[str, Any]]:
    """The parcels carrying the sub-order's lines (those from the warehouses its lines ship from),
    each with whether this seller packs and ships it (its own warehouses; the marketplace's
    overseas and bonded warehouses are run by the operators)."""
    warehouses = set(sub_order.lines.values_list("warehouse_id", flat=True))
    shipments = (
        Shipment.objects.filter(order_number=sub_order.order.number, warehouse_id__in=warehouses)
        .select_related("warehouse", "method")
        .prefetch_related("events")
        .order_by("pk")
    )
    own = set(seller_shipments(seller).filter(order_number=sub_order.order.number).values_list("pk", flat=True))
    return [{"shipment": s, "own": s.pk in own} for s in shipments]


def _seller_parcel(number: str, pk: int, *, seller: Seller) -> tuple[SubOrder, Shipment]:
    sub_order = sub_order_for_seller(number, seller=seller)
    shipment = shipment_for_seller(pk, seller=seller)
    if shipment.order_number != sub_order.order.number:
        raise Http404
    return sub_order, shipment


# --- Views -----------------------------------------------------------------------------------------

PortalView = Callable[..., HttpResponse]


def seller_only(view: PortalView) -> PortalView:
    """Sign-in required (anonymous: to the login page); a user who acts for no seller gets a 404,
    as if the page did not exist. The view gets the seller as its second argument."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        seller = seller_for_user(request.user)
        if seller is None:
            raise Http404
        return view(request, seller, *args, **kwargs)

    return login_required(wrapped)


class StatusFilter(forms.Form):
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False, label=gettext_lazy("Status"))


@seller_only
@require_GET
def sub_order_list(request: HttpRequest, seller: Seller) -> HttpResponse:
    filters = StatusFilter(request.GET)
    status = filters.cleaned_data["status"] if filters.is_valid() else ""
    page = Paginator(seller_sub_orders(seller, status=status), PER_PAGE).get_page(request.GET.get("page"))
    counts = dict(
        SubOrder.objects.filter(seller=seller)
        .exclude(order__status__in=HIDDEN)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    return render(
        request,
        "orders/portal/sub_order_list.html",
        {
            "seller": seller,
            "page": page,
            "status": status,
            "tabs": [(value, label, counts.get(value, 0) if value else None) for value, label in STATUS_CHOICES],
        },
    )


def _render_detail(
    request: HttpRequest,
    seller: Seller,
    sub_order: SubOrder,
    *,
    failed: ShipForm | None = None,
    error: tuple[int, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    order = sub_order.order
    can_ship = order.status in SHIPPABLE_ORDER
    rows = []
    for row in sub_order_shipments(sub_order, seller=seller):
        shipment = row["shipment"]
        form = None
        if failed is not None and failed.shipment.pk == shipment.pk:
            form = failed
        elif row["own"] and can_ship and shipment.status in SHIPPABLE_PARCEL:
            form = ShipForm(shipment=shipment)
        rows.append(
            {
                **row,
                "ship_form": form,
                "can_pack": row["own"] and can_ship and shipment.status == Shipment.Status.PENDING,
                "error": error[1] if error is not None and error[0] == shipment.pk else None,
            }
        )
    lines = list(sub_order.lines.select_related("warehouse").order_by("pk"))
    return render(
        request,
        "orders/portal/sub_order_detail.html",
        {
            "seller": seller,
            "sub_order": sub_order,
            "order": order,
            "lines": lines,
            "units": sum(line.quantity for line in lines),
            "address": order.shipping_address,
            "rows": rows,
            "can_ship": can_ship,
        },
        status=status,
    )


@seller_only
@require_GET
def sub_order_detail(request: HttpRequest, seller: Seller, number: str) -> HttpResponse:
    return _render_detail(request, seller, sub_order_for_seller(number, seller=seller))


def _not_shippable(request: HttpRequest, seller: Seller, sub_order: SubOrder, shipment: Shipment) -> HttpResponse:
    message = _("This order cannot be shipped now: it is %(status)s.") % {
        "status": sub_order.order.get_status_display()
    }
    return _render_detail(request, seller, sub_order, error=(shipment.pk, message), status=400)


@seller_only
@require_POST
def shipment_pack(request: HttpRequest, seller: Seller, number: str, pk: int) -> HttpResponse:
    sub_order, shipment = _seller_parcel(number, pk, seller=seller)
    if sub_order.order.status not in SHIPPABLE_ORDER:
        return _not_shippable(request, seller, sub_order, shipment)
    try:
        mark_packed(shipment, acting_user=request.user)
    except ShipmentError as exc:
        return _render_detail(request, seller, sub_order, error=(shipment.pk, exc.message), status=400)
    messages.success(request, _("The parcel from %(place)s is packed.") % {"place": shipment.warehouse.city})
    return redirect("seller-orders:detail", number=number)


@seller_only
@require_POST
def shipment_ship(request: HttpRequest, seller: Seller, number: str, pk: int) -> HttpResponse:
    sub_order, shipment = _seller_parcel(number, pk, seller=seller)
    if sub_order.order.status not in SHIPPABLE_ORDER:
        return _not_shippable(request, seller, sub_order, shipment)
    form = ShipForm(request.POST, shipment=shipment)
    if not form.is_valid():
        return _render_detail(request, seller, sub_order, failed=form, status=400)
    try:
        shipment = mark_shipped(
            shipment,
            tracking_number=form.cleaned_data["tracking_number"],
            carrier=form.cleaned_data["carrier"],
            acting_user=request.user,
        )
    except ShipmentError as exc:
        form.add_error(None, exc.message)
        return _render_detail(request, seller, sub_order, failed=form, status=400)
    messages.success(
        request,
        _("The parcel from %(place)s is shipped with tracking number %(tracking)s.")
        % {"place": shipment.warehouse.city, "tracking": shipment.tracking_number},
    )
    return redirect("seller-orders:detail", number=number)
