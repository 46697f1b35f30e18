"""Views of the seller's stock pages: translate requests into ``logistics.stock.change_stock``."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from catalog.models import Seller
from catalog.portal.views import seller_required

from ..exceptions import InvalidStockChange
from ..stock import change_stock
from .forms import StockChangeForm
from .selectors import recent_adjustments, stock_table


def _render(request: HttpRequest, seller: Seller, form: StockChangeForm, *, status: int = 200) -> HttpResponse:
    return render(
        request,
        "logistics/portal/stock.html",
        {"seller": seller, "form": form, "table": stock_table(seller), "adjustments": recent_adjustments(seller)},
        status=status,
    )


@seller_required
@require_GET
def stock_overview(request: HttpRequest, seller: Seller) -> HttpResponse:
    initial = {key: request.GET[key] for key in ("variant", "warehouse") if key in request.GET}
    return _render(request, seller, StockChangeForm(seller=seller, initial=initial))


@seller_required
@require_POST
def stock_change(request: HttpRequest, seller: Seller) -> HttpResponse:
    form = StockChangeForm(request.POST, seller=seller)
    if not form.is_valid():
        return _render(request, seller, form, status=400)
    data = form.cleaned_data
    try:
        stock = change_stock(
            data["variant"],
            data["warehouse"],
            operation=data["operation"],
            quantity=data["quantity"],
            reason=data["reason"],
            actor=request.user,  # type: ignore[arg-type]
            note=data["note"],
        )
    except InvalidStockChange as exc:
        form.add_error(None, exc.message)
        return _render(request, seller, form, status=400)
    messages.success(
        request,
        _("%(sku)s at %(warehouse)s: %(on_hand)s on hand.")
        % {"sku": data["variant"].sku, "warehouse": data["warehouse"].name, "on_hand": stock.on_hand},
    )
    return redirect("stock:overview")
