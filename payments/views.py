"""The demo gateway's pages: what a provider hosts (card form, 3-D Secure challenge, wallet QR code
and the wallet app standing in for the phone). They act on the gateway's own record only; the shop
learns the outcome when the buyer returns (``confirm``), as with a real provider.

Whoever holds a transaction's unguessable reference may pay it, as with a provider's hosted page:
the phone that scans the QR code is not signed in to the shop.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from . import demo_gateway as gateway
from .demo_gateway import DemoTransaction
from .forms import DemoCardForm
from .qr import qr_svg

Status = DemoTransaction.Status


def _transaction(reference: str) -> DemoTransaction:
    return get_object_or_404(DemoTransaction, reference=reference)


def _back_to_shop(tx: DemoTransaction) -> HttpResponse:
    return HttpResponseRedirect(tx.return_url)  # set by the shop when it started the payment


@sensitive_post_parameters("number", "expiry", "cvc")  # never in error reports
@require_http_methods(["GET", "POST"])
def demo_gateway(request: HttpRequest, reference: str) -> HttpResponse:
    tx = _transaction(reference)
    if tx.status == Status.CHALLENGE:
        return redirect("payments:demo-challenge", reference=tx.reference)
    if not tx.is_open:
        return _back_to_shop(tx)
    if tx.kind == "wallet":
        app_url = request.build_absolute_uri(reverse("payments:demo-wallet-app", kwargs={"reference": tx.reference}))
        return render(request, "payments/demo_wallet.html", {"tx": tx, "qr": qr_svg(app_url), "app_url": app_url})
    form = DemoCardForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        tx = gateway.pay_with_card(tx.reference, number=form.cleaned_data["number"])
        if tx.status == Status.CHALLENGE:
            return redirect("payments:demo-challenge", reference=tx.reference)
        return _back_to_shop(tx)
    return render(request, "payments/demo_card.html", {"tx": tx, "form": form}, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def demo_challenge(request: HttpRequest, reference: str) -> HttpResponse:
    """The card issuer's 3-D Secure page: the buyer approves or fails the authentication."""
    tx = _transaction(reference)
    if tx.status != Status.CHALLENGE:
        return redirect("payments:demo-gateway", reference=tx.reference)
    if request.method == "POST":
        tx = gateway.complete_challenge(tx.reference, approve=request.POST.get("decision") == "approve")
        return _back_to_shop(tx)
    return render(request, "payments/demo_challenge.html", {"tx": tx})


@require_POST
def demo_wallet_decision(request: HttpRequest, reference: str) -> HttpResponse:
    """Approve or decline in the wallet app. From the checkout page's stand-in button the buyer goes
    back to the shop; from the phone, the app says it is done."""
    tx = _transaction(reference)
    tx = gateway.wallet_decision(tx.reference, approve=request.POST.get("decision") == "approve")
    if request.POST.get("source") == "app":
        return redirect("payments:demo-wallet-app", reference=tx.reference)
    return _back_to_shop(tx)


def demo_wallet_app(request: HttpRequest, reference: str) -> HttpResponse:
    """What the phone shows after scanning the QR code: the amount, approve or decline."""
    tx = _transaction(reference)
    if tx.kind != "wallet":
        return redirect("payments:demo-gateway", reference=tx.reference)
    return render(request, "payments/demo_wallet_app.html", {"tx": tx})
