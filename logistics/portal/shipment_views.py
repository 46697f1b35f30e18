"""The seller's shipments (``/<lang>/seller/shipments/``): list them, mark one packed, mark it
shipped with a tracking number. Views translate requests into ``logistics.shipments.mark_packed``
and ``mark_shipped`` (both idempotent: a double submit changes nothing the second time)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from catalog.models import Seller
from catalog.portal.views import seller_required

from ..exceptions import ShipmentError
from ..models import Shipment
from ..shipments import mark_packed, mark_shipped, seller_shipments
from .forms import ShipForm
from .selectors import shipment_for_seller

PER_PAGE = 50
SHIPPABLE = (Shipment.Status.PENDING, Shipment.Status.PACKED)


def _render(
    request: HttpRequest,
    seller: Seller,
    *,
    failed: ShipForm | None = None,
    pack_error: tuple[int, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The list; a form that failed is shown bound, with its errors, in its shipment's row."""
    page = Paginator(seller_shipments(seller), PER_PAGE).get_page(request.GET.get("page"))
    rows = []
    for shipment in page:
        form = None
        if failed is not None and failed.shipment.pk == shipment.pk:
            form = failed
        elif shipment.status in SHIPPABLE:
            form = ShipForm(shipment=shipment)
        error = pack_error[1] if pack_error is not None and pack_error[0] == shipment.pk else None
        rows.append({"shipment": shipment, "ship_form": form, "pack_error": error})
    if failed is not None and failed.shipment.pk not in {row["shipment"].pk for row in rows}:
        rows.insert(0, {"shipment": failed.shipment, "ship_form": failed, "pack_error": None})
    return render(
        request,
        "logistics/portal/shipments.html",
        {"seller": seller, "page": page, "rows": rows},
        status=status,
    )


@seller_required
@require_GET
def shipment_list(request: HttpRequest, seller: Seller) -> HttpResponse:
    return _render(request, seller)


@seller_required
@require_POST
def shipment_pack(request: HttpRequest, seller: Seller, pk: int) -> HttpResponse:
    shipment = shipment_for_seller(pk, seller=seller)
    try:
        shipment = mark_packed(shipment, acting_user=request.user)
    except ShipmentError as exc:
        return _render(request, seller, pack_error=(shipment.pk, exc.message), status=400)
    messages.success(request, _("Shipment %(number)s is packed.") % {"number": _label(shipment)})
    return redirect("seller-shipments:list")


@seller_required
@require_POST
def shipment_ship(request: HttpRequest, seller: Seller, pk: int) -> HttpResponse:
    shipment = shipment_for_seller(pk, seller=seller)
    form = ShipForm(request.POST, shipment=shipment)
    if not form.is_valid():
        return _render(request, seller, failed=form, status=400)
    try:
        shipment = mark_shipped(
            shipment,
            tracking_number=form.cleaned_data["tracking_number"],
            carrier=form.cleaned_data["carrier"],
            acting_user=request.user,
        )
    except ShipmentError as exc:
        form.add_error(None, exc.message)
        return _render(request, seller, failed=form, status=400)
    messages.success(
        request,
        _("Shipment %(number)s is shipped with tracking number %(tracking)s.")
        % {"number": _label(shipment), "tracking": shipment.tracking_number},
    )
    return redirect("seller-shipments:list")


def _label(shipment: Shipment) -> str:
    return shipment.order_number or f"#{shipment.pk}"
