"""Logistics pages and callbacks. Views only translate requests into service calls (STYLE.md, 4)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import shipments, tracking
from .carriers import CarrierError, carriers
from .carriers.base import signature_is_valid

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def carrier_webhook(request: HttpRequest, code: str) -> JsonResponse:
    """``/webhooks/carriers/<code>/``: events a carrier pushes, signed with HMAC-SHA256 of the raw
    body (its secret in ``CARRIER_WEBHOOK_SECRETS``). Bad signature or body: 400, nothing stored."""
    secret = settings.CARRIER_WEBHOOK_SECRETS.get(code, "")
    if code not in settings.CARRIERS or not secret:
        raise Http404
    carrier = carriers.get(code)
    body = request.body
    signature = request.headers.get(carrier.signature_header, "")
    if not signature_is_valid(body, signature, secret, encoding=carrier.signature_encoding):
        logger.warning("Carrier webhook %s: bad signature from %s", code, request.META.get("REMOTE_ADDR"))
        return JsonResponse({"error": "invalid signature"}, status=400)
    try:
        updates = carrier.parse_webhook(body)
    except CarrierError as exc:
        logger.warning("Carrier webhook %s: malformed body: %s", code, exc)
        return JsonResponse({"error": "malformed body"}, status=400)
    result = tracking.record_webhook_updates(code, updates)
    return JsonResponse({"shipments": result.shipments, "events": result.events, "unknown": list(result.unknown)})


def commercial_invoice(request: HttpRequest, pk: int) -> HttpResponse:
    """A printable commercial invoice for a shipment's customs declaration (staff only; else 404)."""
    shipment = shipments.invoice_shipment(pk, user=request.user)
    return render(request, "logistics/commercial_invoice.html", {"invoice": shipments.commercial_invoice(shipment)})
