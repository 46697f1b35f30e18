"""A local stand-in for api.stripe.com: the real stripe SDK talks HTTP to it (``STRIPE_API_BASE``).

``FakeStripe`` is a ``ThreadingHTTPServer`` on 127.0.0.1 that keeps PaymentIntents, Refunds and
Transfers in memory and answers in the shapes of Stripe's API reference (docs.stripe.com/api:
the PaymentIntent, Refund, Transfer and Event objects, ``{"error": {...}}`` bodies with HTTP 402
for card errors, 400 for invalid requests). It behaves like Stripe where our code relies on it:

- form-encoded bodies (``metadata[order_id]=..``, ``payment_method_types[0]=card``), parsed into
  ``Recorded.params`` so tests can assert exactly what was sent, and the headers
  (``Authorization``, ``Idempotency-Key``);
- idempotency: a second request with a key already used replays the first answer (with
  ``Idempotent-Replayed: true``) and creates nothing;
- wallets confirmed at creation answer ``requires_action`` with their documented next action
  (``alipay_handle_redirect``, ``redirect_to_url`` for GrabPay, ``wechat_pay_display_qr_code``);
- capture (``amount_to_capture``), cancel, refunds within what was received, search by metadata.

Tests move an intent as the buyer's browser would (``set_intent``), script one-off answers
(``script``: an error, a 500 to exercise retries) and build signed webhooks (``sign``,
``post_webhook``) with Stripe's scheme: ``Stripe-Signature: t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<body>">``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from payments.stripe_client import _client

SECRET_KEY = "sk_test_51FakeMarketplaceKey"
WEBHOOK_SECRET = "whsec_test_marketplace_secret"
STRIPE_METHODS = {
    "card": "payments.methods.stripe.StripeCard",
    "alipay": "payments.methods.stripe.StripeAlipay",
    "wechat_pay": "payments.methods.stripe.StripeWeChatPay",
    "grabpay": "payments.methods.stripe.StripeGrabPay",
}
_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}_3Fake{next(_ids):010d}"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    params: dict[str, str]  # form fields as sent: "metadata[order_id]" -> "12"
    replayed: bool = False

    @property
    def idempotency_key(self) -> str:
        return self.headers.get("idempotency-key", "")


@dataclass
class Scripted:
    method: str
    path: re.Pattern[str]
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def card_error(code: str, decline_code: str = "", message: str = "Your card was declined.", intent=None) -> dict:
    error: dict[str, Any] = {
        "type": "card_error",
        "code": code,
        "message": message,
        "param": "",
        "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
    }
    if decline_code:
        error["decline_code"] = decline_code
    if intent is not None:
        error["payment_intent"] = intent
    return {"error": error}


def invalid_request(code: str, message: str, param: str = "") -> dict:
    return {
        "error": {
            "type": "invalid_request_error",
            "code": code,
            "message": message,
            "param": param,
            "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
        }
    }


def api_error(message: str = "An unknown error occurred.") -> dict:
    return {"error": {"type": "api_error", "message": message}}


class FakeStripe:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.intents: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.transfers: dict[str, dict[str, Any]] = {}
        self._scripted: list[Scripted] = []
        self._replies: dict[str, tuple[int, bytes]] = {}  # idempotency key -> first answer
        self.lock = threading.RLock()
        self.refund_status = "succeeded"
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    # --- Life cycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeStripe:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # --- What tests use -----------------------------------------------------------------------

    def calls(self, method: str, path_prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    def script(self, method: str, path: str, status: int, body: dict[str, Any], **headers: str) -> None:
        """Answer the next ``method`` request whose path matches the regex ``path`` with this (once)."""
        with self.lock:
            self._scripted.append(Scripted(method, re.compile(path), status, body, headers))

    def set_intent(self, intent_id: str, **fields: Any) -> dict[str, Any]:
        """What Stripe does meanwhile (the buyer confirmed in Stripe.js, 3-D Secure, a wallet app)."""
        with self.lock:
            intent = self.intents[intent_id]
            intent.update(fields)
            if fields.get("status") == "succeeded" and "amount_received" not in fields:
                intent["amount_received"] = intent["amount"]
            if fields.get("status") == "requires_capture" and "amount_capturable" not in fields:
                intent["amount_capturable"] = intent["amount"]
            if fields.get("status") in ("succeeded", "requires_capture") and not intent["latest_charge"]:
                intent["latest_charge"] = new_id("ch")
            if fields.get("status", "requires_action") != "requires_action" and "next_action" not in fields:
                intent["next_action"] = None
            return json.loads(json.dumps(intent))

    def only_intent(self) -> dict[str, Any]:
        assert len(self.intents) == 1, self.intents.keys()
        return next(iter(self.intents.values()))

    # --- The API ------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, str], params: dict[str, str], key: str):
        with self.lock:
            for i, scripted in enumerate(self._scripted):
                if scripted.method == method and scripted.path.fullmatch(path):
                    del self._scripted[i]
                    return scripted.status, scripted.body, scripted.headers, False
            if method == "POST" and key and key in self._replies:
                status, body = self._replies[key]
                return status, json.loads(body), {"Idempotent-Replayed": "true"}, True
            status, body = self._route(method, path, query, params)
            if method == "POST" and key and status < 500:
                self._replies[key] = (status, json.dumps(body).encode())
            return status, body, {}, False

    def _route(self, method: str, path: str, query: dict[str, str], params: dict[str, str]):
        if method == "POST" and path == "/v1/payment_intents":
            return self._create_intent(params)
        if method == "GET" and path == "/v1/payment_intents/search":
            return 200, self._search(query.get("query", ""))
        if m := re.fullmatch(r"/v1/payment_intents/(pi_\w+)(/capture|/cancel)?", path):
            intent = self.intents.get(m.group(1))
            if intent is None:
                return 404, invalid_request("resource_missing", f"No such payment_intent: '{m.group(1)}'", "intent")
            if method == "GET" and not m.group(2):
                return 200, intent
            if method == "POST" and m.group(2) == "/capture":
                return self._capture(intent, params)
            if method == "POST" and m.group(2) == "/cancel":
                return self._cancel(intent)
        if method == "POST" and path == "/v1/refunds":
            return self._refund(params)
        if method == "POST" and path == "/v1/transfers":
            return self._transfer(params)
        return 404, invalid_request("resource_missing", f"Unrecognized request URL ({method}: {path}).")

    def _create_intent(self, params: dict[str, str]):
        intent_id = new_id("pi")
        types = [v for k, v in sorted(params.items()) if k.startswith("payment_method_types[")]
        intent: dict[str, Any] = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": int(params["amount"]),
            "amount_capturable": 0,
            "amount_details": {"tip": {}},
            "amount_received": 0,
            "application": None,
            "application_fee_amount": None,
            "automatic_payment_methods": None,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": params.get("capture_method", "automatic_async"),
            "client_secret": f"{intent_id}_secret_Fake{next(_ids)}",
            "confirmation_method": "automatic",
            "created": int(time.time()),
            "currency": params["currency"],
            "customer": None,
            "description": params.get("description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": {k[len("metadata[") : -1]: v for k, v in params.items() if k.startswith("metadata[")},
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": None,
            "payment_method_options": {},
            "payment_method_types": types,
            "processing": None,
            "receipt_email": None,
            "setup_future_usage": None,
            "shipping": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": "requires_payment_method",
            "transfer_data": None,
            "transfer_group": None,
        }
        pm_type = params.get("payment_method_data[type]")
        if params.get("confirm") == "true" and pm_type:
            intent["payment_method"] = new_id("pm")
            intent["status"] = "requires_action"
            return_url = params.get("return_url")
            if pm_type == "alipay":
                intent["next_action"] = {
                    "type": "alipay_handle_redirect",
                    "alipay_handle_redirect": {
                        "native_data": None,
                        "native_url": None,
                        "return_url": return_url,
                        "url": f"https://hooks.stripe.com/redirect/authenticate/src_{intent_id}?client_secret=x",
                    },
                }
            elif pm_type == "wechat_pay":
                intent["next_action"] = {
                    "type": "wechat_pay_display_qr_code",
                    "wechat_pay_display_qr_code": {
                        "data": f"weixin://wxpay/bizpayurl?pr=Fake{intent_id[-6:]}",
                        "hosted_instructions_url": f"https://payments.stripe.com/wechat_pay/qr/{intent_id}",
                        "image_data_url": "data:image/png;base64,iVBORw0KGgo=",
                        "image_url_png": f"https://qr.stripe.com/{intent_id}.png",
                        "image_url_svg": f"https://qr.stripe.com/{intent_id}.svg",
                    },
                }
            else:
                intent["next_action"] = {
                    "type": "redirect_to_url",
                    "redirect_to_url": {
                        "return_url": return_url,
                        "url": f"https://pm-redirects.stripe.com/authorize/acct_Fake/pa_nonce_{intent_id}",
                    },
                }
        self.intents[intent_id] = intent
        return 200, intent

    def _search(self, query: str):
        m = re.fullmatch(r"metadata\['(\w+)'\]:'([^']*)'", query)
        found = [i for i in self.intents.values() if m and i["metadata"].get(m.group(1)) == m.group(2)]
        return {
            "object": "search_result",
            "data": found,
            "has_more": False,
            "next_page": None,
            "url": "/v1/payment_intents/search",
        }

    def _capture(self, intent: dict[str, Any], params: dict[str, str]):
        if intent["status"] != "requires_capture":
            return 400, invalid_request(
                "payment_intent_unexpected_state",
                f"This PaymentIntent could not be captured because it has a status of {intent['status']}.",
            )
        amount = int(params.get("amount_to_capture", intent["amount_capturable"]))
        if amount > intent["amount_capturable"]:
            return 400, invalid_request(
                "amount_too_large", "The amount to capture is greater than what is capturable.", "amount_to_capture"
            )
        intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
        return 200, intent

    def _cancel(self, intent: dict[str, Any]):
        if intent["status"] in ("succeeded", "canceled", "processing"):
            return 400, invalid_request(
                "payment_intent_unexpected_state",
                f"You cannot cancel this PaymentIntent because it has a status of {intent['status']}.",
            )
        intent.update(status="canceled", canceled_at=int(time.time()), amount_capturable=0, next_action=None)
        return 200, intent

    def _refund(self, params: dict[str, str]):
        intent = self.intents.get(params.get("payment_intent", ""))
        if intent is None:
            return 404, invalid_request("resource_missing", "No such payment_intent.", "payment_intent")
        if intent["status"] != "succeeded":
            return 400, invalid_request("charge_not_refundable", "This PaymentIntent has no successful charge.")
        refunded = sum(
            r["amount"]
            for r in self.refunds.values()
            if r["payment_intent"] == intent["id"] and r["status"] != "failed"
        )
        amount = int(params.get("amount", intent["amount_received"] - refunded))
        if amount > intent["amount_received"] - refunded:
            return 400, invalid_request(
                "amount_too_large",
                "Refund amount is greater than unrefunded amount on charge.",
                "amount",
            )
        refund = {
            "id": new_id("re"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": new_id("txn"),
            "charge": intent["latest_charge"],
            "created": int(time.time()),
            "currency": intent["currency"],
            "destination_details": None,
            "metadata": {k[len("metadata[") : -1]: v for k, v in params.items() if k.startswith("metadata[")},
            "payment_intent": intent["id"],
            "reason": params.get("reason"),
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": self.refund_status,
            "transfer_reversal": None,
        }
        self.refunds[refund["id"]] = refund
        return 200, refund

    def _transfer(self, params: dict[str, str]):
        transfer_id = new_id("tr")
        transfer = {
            "id": transfer_id,
            "object": "transfer",
            "amount": int(params["amount"]),
            "amount_reversed": 0,
            "balance_transaction": new_id("txn"),
            "created": int(time.time()),
            "currency": params["currency"],
            "description": None,
            "destination": params["destination"],
            "destination_payment": new_id("py"),
            "livemode": False,
            "metadata": {k[len("metadata[") : -1]: v for k, v in params.items() if k.startswith("metadata[")},
            "reversals": {
                "object": "list",
                "data": [],
                "has_more": False,
                "total_count": 0,
                "url": f"/v1/transfers/{transfer_id}/reversals",
            },
            "reversed": False,
            "source_transaction": None,
            "source_type": "card",
            "transfer_group": None,
        }
        self.transfers[transfer_id] = transfer
        return 200, transfer

    # --- Webhooks -------------------------------------------------------------------------------

    def event(self, type: str, obj: dict[str, Any], *, created: int | None = None) -> dict[str, Any]:
        """A Stripe Event for ``obj`` as it is now (a snapshot, like Stripe sends)."""
        return {
            "id": new_id("evt"),
            "object": "event",
            "api_version": "2026-01-28.clover",
            "created": created if created is not None else int(time.time()),
            "data": {"object": json.loads(json.dumps(obj))},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": type,
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _serve(self) -> None:
        fake: FakeStripe = self.server.fake  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        params = dict(parse_qsl(body, keep_blank_values=True))
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in self.headers.items()}
        if not headers.get("authorization", "").startswith("Bearer sk_test_"):
            status, answer, extra, replayed = (
                401,
                {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided."}},
                {},
                False,
            )
        else:
            status, answer, extra, replayed = fake.handle(
                self.command, parts.path, query, params, headers.get("idempotency-key", "")
            )
        with fake.lock:
            fake.requests.append(Recorded(self.command, parts.path, query, headers, params, replayed))
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_Fake{next(_ids)}")
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = _serve
    do_POST = _serve
    do_DELETE = _serve


# --- Signed webhooks (Stripe's scheme, computed here, independently of the SDK) ------------------


def sign(payload: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def post_webhook(
    client: Any, event: dict[str, Any] | str, *, secret: str = WEBHOOK_SECRET, timestamp=None, header=None
):
    payload = event if isinstance(event, str) else json.dumps(event)
    signature = sign(payload, secret, timestamp) if header is None else header
    return client.post(
        "/webhooks/stripe/", data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )


@pytest.fixture
def stripe_server(settings: Any) -> Any:
    """A running fake Stripe, the settings pointing the SDK at it, and the Stripe methods configured."""
    server = FakeStripe().start()
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_API_BASE = server.url
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.STRIPE_TIMEOUT_SECONDS = 5
    settings.PAYMENT_METHODS = dict(STRIPE_METHODS)
    yield server
    server.stop()
    _client.cache_clear()  # drop the clients (and their connections) built for this server
