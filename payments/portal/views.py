"""The seller's balance and statement (``/<lang>/seller/balance/``): what the marketplace owes
them per currency (payable now, waiting for delivery and the return window), every ledger entry
with the rate used, and their payouts. Only the seller's own rows: another seller's payout is a 404;
a user who acts for no seller gets the portal's 403 page."""

from __future__ import annotations

import csv

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from catalog.models import Seller
from catalog.portal.views import seller_required
from marketplace.money import amount_string

from ..ledger import seller_balances, seller_statement
from ..models import Payout

PER_PAGE = 50


@seller_required
@require_GET
def balance(request: HttpRequest, seller: Seller) -> HttpResponse:
    page = Paginator(seller_statement(seller), PER_PAGE).get_page(request.GET.get("page"))
    payouts = Payout.objects.filter(seller=seller).order_by("-created_at", "-pk")[:20]
    return render(
        request,
        "payments/portal/balance.html",
        {"seller": seller, "balances": seller_balances(seller), "page": page, "payouts": payouts},
    )


@seller_required
@require_GET
def statement_csv(request: HttpRequest, seller: Seller) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="statement-{seller.slug}.csv"'
    writer = csv.writer(response)
    writer.writerow(
        ["date", "kind", "order", "currency", "amount", "buyer_currency", "buyer_amount", "fx_rate", "payable_at"]
    )
    for entry in seller_statement(seller).iterator():
        writer.writerow(
            [
                entry.created_at.isoformat(),
                entry.kind,
                entry.order.number if entry.order_id else "",
                entry.amount.currency.code,
                amount_string(entry.amount),
                entry.buyer_amount.currency.code if entry.buyer_amount is not None else "",
                amount_string(entry.buyer_amount) if entry.buyer_amount is not None else "",
                entry.fx_rate if entry.fx_rate is not None else "",
                entry.payable_at.isoformat() if entry.payable_at else "",
            ]
        )
    return response


@seller_required
@require_GET
def payout_detail(request: HttpRequest, seller: Seller, pk: int) -> HttpResponse:
    payout = Payout.objects.filter(pk=pk, seller=seller).first()
    if payout is None:
        raise Http404
    return render(request, "payments/portal/payout.html", {"seller": seller, "payout": payout})
