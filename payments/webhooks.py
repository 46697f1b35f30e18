"""``/webhooks/stripe/``: Stripe's events, verified with the SDK's signature check, recorded once,
applied through ``payments.services``.

- **Verified**: ``stripe.Webhook.construct_event`` with ``STRIPE_WEBHOOK_SECRET`` (HMAC-SHA256 of
  ``"<t>.<body>"``) and a tolerance of ``STRIPE_WEBHOOK_TOLERANCE_SECONDS``: a bad or missing
  signature, a timestamp too old, or a body that is not an event -> 400, nothing stored.
- **Once**: the event id goes into the ``ProviderEvent`` inbox (``record_provider_event``) in
  the same transaction as the change it causes. A replay finds it and is answered 200 without
  doing anything; two identical deliveries racing each other meet on the inbox's unique
  constraint (the second waits for the first's commit, then sees a replay). If applying fails,
  both roll back and Stripe's retry delivers the event again. The work is a few row updates and
  never calls Stripe, so it happens in the request rather than in a task.
- **Out of order**: ``payment_intent.*`` events carry the whole intent; its status is mapped
  (``methods.stripe.intent_result``) and applied by ``services.apply_result``, which logs a report
  the payment already moved past as ``ignored`` (a late ``processing`` after ``succeeded``). An
  open-state report (pending / requires action) older than an event already applied for the
  same intent is skipped too, so a late ``payment_intent.created`` cannot wind a payment back.
- **Unknown payment**: the payment is found by ``provider_reference`` (the intent id), else by
  ``metadata[payment_attempt]``, which ``start`` sends, so an event that overtakes the answer to
  our own create call still finds its payment. An event matching no payment (an intent made
  elsewhere) is stored with ``outcome="unmatched"`` and no ``processed_at``, answered 200, and
  left to reconciliation: ``payments.tasks.reconcile_pending_payments`` asks Stripe about every
  payment still pending after ``PAYMENT_RECONCILE_AFTER_MINUTES``.
- **Refunds**: ``refund.*`` events (and ``charge.refunded`` when it lists its refunds) settle
  our ``Refund`` found by its Stripe id or ``metadata[refund_key]`` (our idempotency key).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import stripe
from django.conf import settings
from django.db import transaction
from django.http import Http404, HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .exceptions import PaymentError
from .methods.stripe import intent_result, redacted, refund_result
from .models import Payment, PaymentEvent, ProviderEvent, Refund
from .services import apply_result, record_provider_event, settle_refund
from .stripe_client import PROVIDER

logger = logging.getLogger(__name__)

State = Payment.State
UNMATCHED = "unmatched"
DUPLICATE = "duplicate"


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise Http404  # webhooks are off until a secret is configured
    body = request.body
    try:
        stripe.Webhook.construct_event(
            body,
            request.headers.get("Stripe-Signature", ""),
            secret,
            tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
        )
        event = json.loads(body)
    except stripe.SignatureVerificationError as exc:
        logger.warning("Stripe webhook refused from %s: %s", request.META.get("REMOTE_ADDR"), exc.user_message)
        return JsonResponse({"error": "invalid signature"}, status=400)
    except ValueError:  # not JSON, not UTF-8, not an event
        logger.warning("Stripe webhook with a malformed body from %s", request.META.get("REMOTE_ADDR"))
        return JsonResponse({"error": "malformed body"}, status=400)
    if not isinstance(event, dict) or not event.get("id") or not isinstance(event.get("data"), dict):
        return JsonResponse({"error": "malformed body"}, status=400)
    outcome = process_event(event)
    return JsonResponse({"received": True, "outcome": outcome})


def process_event(event: dict[str, Any]) -> str:
    """Record ``event`` once and apply it; returns what happened (also kept on the inbox row)."""
    with transaction.atomic():
        inbox = record_provider_event(PROVIDER, str(event["id"]), str(event.get("type", "")), _stored(event))
        if inbox is None:
            logger.info("Stripe event %s received again: already recorded", event["id"])
            return DUPLICATE
        outcome = _dispatch(event)
        inbox.outcome = outcome[:255]
        inbox.processed_at = None if outcome == UNMATCHED else timezone.now()
        inbox.save(update_fields=["outcome", "processed_at"])
    return outcome


def _stored(event: dict[str, Any]) -> dict[str, Any]:
    obj = event["data"].get("object")
    if isinstance(obj, dict):
        return {**event, "data": {**event["data"], "object": redacted(obj)}}
    return event


def _dispatch(event: dict[str, Any]) -> str:
    kind = str(event.get("type", ""))
    obj = event["data"].get("object") or {}
    try:
        if kind.startswith("payment_intent."):
            return _apply_intent(event, obj)
        if kind.startswith("refund."):
            return _settle_refund(obj)
        if kind == "charge.refunded":
            refunds = (obj.get("refunds") or {}).get("data") or []
            if not refunds:
                return "charge refunded: settled by its refund.* events"
            return "; ".join(_settle_refund(refund) for refund in refunds)[:255]
    except PaymentError as exc:  # refused by the state machine: nothing changed, do not retry forever
        logger.error("Stripe event %s (%s) refused: %s", event.get("id"), kind, exc.message)
        return f"refused: {exc.message}"
    return "not handled"


# --- Payment intents ----------------------------------------------------------------------------


def _payment_for_intent(intent: dict[str, Any]) -> Payment | None:
    reference = str(intent.get("id") or "")
    if not reference:
        return None
    if payment := Payment.objects.filter(provider_reference=reference).order_by("pk").first():
        return payment
    attempt = (intent.get("metadata") or {}).get("payment_attempt", "")
    try:
        attempt = uuid.UUID(str(attempt))
    except ValueError:
        return None
    return Payment.objects.filter(attempt=attempt, provider_reference="").first()


def _newer_event_applied(event: dict[str, Any], reference: str) -> bool:
    """Has an event created after this one already been applied to the same intent?"""
    return (
        ProviderEvent.objects.filter(
            provider=PROVIDER,
            type__startswith="payment_intent.",
            payload__data__object__id=reference,
            payload__created__gt=int(event.get("created") or 0),
            processed_at__isnull=False,
        )
        .exclude(event_id=event["id"])
        .exists()
    )


def _apply_intent(event: dict[str, Any], intent: dict[str, Any]) -> str:
    payment = _payment_for_intent(intent)
    if payment is None:
        logger.info(
            "Stripe event %s: no payment for intent %s (yet); reconciliation will ask", event["id"], intent.get("id")
        )
        return UNMATCHED
    result = intent_result(intent)
    if result.state in Payment.OPEN_STATES and _newer_event_applied(event, result.reference):
        return f"ignored: payment {payment.pk} already has a newer event"
    before = payment.state
    payment = apply_result(
        payment.pk, result, kind=PaymentEvent.Kind.PROVIDER, idempotency_key=f"{PROVIDER}:{event['id']}"
    )
    if result.state in (State.AUTHORIZED, State.CAPTURED) and payment.state in (State.FAILED, State.CANCELLED):
        # Money moved on an attempt this shop already closed (e.g. a stale tab paid an intent we
        # marked failed): the state machine cannot reopen it; an operator must refund or void it.
        logger.error(
            "Stripe intent %s is %s but payment %s is %s: refund or cancel it in Stripe",
            result.reference,
            intent.get("status"),
            payment.pk,
            payment.state,
        )
        return f"attention: intent {intent.get('status')} on {payment.state} payment {payment.pk}"
    return f"payment {payment.pk}: {before} -> {payment.state}"


# --- Refunds ----------------------------------------------------------------------------------------


def _refund_for(obj: dict[str, Any]) -> Refund | None:
    reference = str(obj.get("id") or "")
    if reference and (refund := Refund.objects.filter(provider_reference=reference).first()):
        return refund
    key = (obj.get("metadata") or {}).get("refund_key")
    if not key:
        return None
    refunds = Refund.objects.filter(idempotency_key=key)
    if obj.get("payment_intent"):
        refunds = refunds.filter(payment__provider_reference=obj["payment_intent"])
    return refunds.first()


def _settle_refund(obj: dict[str, Any]) -> str:
    refund = _refund_for(obj)
    if refund is None:
        # A refund made outside the shop (Stripe dashboard): not in our books; an operator records it.
        logger.warning("Stripe refund %s matches no refund here", obj.get("id"))
        return f"refund {obj.get('id')}: no refund here"
    result = refund_result(obj)
    settled = settle_refund(refund.pk, result)
    if result.state != Refund.State.PENDING and settled.state != result.state:
        logger.error(
            "Refund %s is %s here but Stripe says %s (%s)", refund.pk, settled.state, result.state, result.reference
        )
        return f"attention: refund {refund.pk} is {settled.state}, Stripe says {result.state}"
    return f"refund {refund.pk}: {settled.state}"
