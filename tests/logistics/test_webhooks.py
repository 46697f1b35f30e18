"""``/webhooks/carriers/<code>/``: HMAC-SHA256 of the raw body, checked in constant time; the same
record path as polls (idempotent, forward only); a bad signature is 400 and stores nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from logistics.models import Shipment, TrackingEvent
from logistics.signals import shipment_delivered

from .tracking_helpers import shipped

Status = Shipment.Status
SECRETS = {"simulated": "sim-secret-1", "trackapi": "api-secret-2"}
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
URL = "/webhooks/carriers/{}/"


@pytest.fixture
def client() -> Client:
    return Client(enforce_csrf_checks=True)  # carriers send no CSRF token: the view must not need one


@pytest.fixture
def parcel(db, settings):
    settings.CARRIER_WEBHOOK_SECRETS = SECRETS
    return shipped("EA200000001CN", hours_ago=5, now=timezone.now())


def body(number: str = "EA200000001CN", *checkpoints: dict) -> bytes:
    checkpoints = checkpoints or (
        {"checkpoint_time": T0.isoformat(), "tag": "InTransit", "subtag": "InTransit_002", "message": "Accepted"},
        {
            "checkpoint_time": (T0 + timedelta(hours=30)).isoformat(),
            "tag": "InTransit",
            "message": "Customs clearance started",
            "location": "Leipzig, DE",
        },
    )
    return json.dumps(
        {
            "event": "tracking_update",
            "msg": {"tracking_number": number, "slug": "sim", "checkpoints": list(checkpoints)},
        }
    ).encode()


def hex_signature(payload: bytes, secret: str = SECRETS["simulated"]) -> str:
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def post(client: Client, code: str, payload: bytes, **headers: str):
    return client.post(URL.format(code), data=payload, content_type="application/json", headers=headers)


def poll_events() -> int:
    return TrackingEvent.objects.exclude(source=TrackingEvent.Source.OPERATOR).count()


def test_a_signed_webhook_stores_events_once_and_moves_the_shipment(client, parcel):
    payload = body()
    response = post(client, "simulated", payload, **{"X-Carrier-Signature": f"sha256={hex_signature(payload)}"})
    assert response.status_code == 200
    assert response.json() == {"shipments": 1, "events": 2, "unknown": []}
    parcel.refresh_from_db()
    assert parcel.status == Status.AT_CUSTOMS
    assert set(parcel.events.exclude(source="operator").values_list("source", flat=True)) == {"webhook"}

    # the carrier retries the same delivery: nothing new
    again = post(client, "simulated", payload, **{"X-Carrier-Signature": hex_signature(payload)})
    assert again.json() == {"shipments": 1, "events": 0, "unknown": []}
    assert poll_events() == 2


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "sha256=",
        "not-hex-at-all",
        hex_signature(b"another body"),
        hex_signature(body(), secret="wrong-secret"),
        hex_signature(body(), secret=SECRETS["trackapi"]),
    ],
    ids=["missing", "empty", "prefix-only", "garbage", "other-body", "wrong-secret", "other-carrier-secret"],
)
def test_a_bad_signature_is_400_and_stores_nothing(client, parcel, signature):
    headers = {} if signature is None else {"X-Carrier-Signature": signature}
    response = post(client, "simulated", body(), **headers)
    assert response.status_code == 400
    assert poll_events() == 0
    parcel.refresh_from_db()
    assert parcel.status == Status.SHIPPED


def test_a_tampered_body_is_refused(client, parcel):
    signed = body()
    tampered = signed.replace(b"Accepted", b"Delivered")
    response = post(client, "simulated", tampered, **{"X-Carrier-Signature": hex_signature(signed)})
    assert response.status_code == 400
    assert poll_events() == 0


def test_the_tracking_api_signs_in_base64_as_aftership_does(client, parcel):
    Shipment.objects.filter(pk=parcel.pk).update(carrier="trackapi")
    payload = body()
    digest = hmac.new(SECRETS["trackapi"].encode(), payload, hashlib.sha256).digest()
    response = post(client, "trackapi", payload, **{"aftership-hmac-sha256": base64.b64encode(digest).decode()})
    assert response.status_code == 200 and response.json()["events"] == 2
    # the hex form is not what this carrier sends
    bad = post(client, "trackapi", payload, **{"aftership-hmac-sha256": digest.hex()})
    assert bad.status_code == 400


def test_a_signed_but_malformed_body_is_400_and_stores_nothing(client, parcel):
    for payload in (b"not json", b'{"msg": "no"}', body("EA200000001CN", {"tag": "InTransit"})):
        response = post(client, "simulated", payload, **{"X-Carrier-Signature": hex_signature(payload)})
        assert response.status_code == 400, payload
    assert poll_events() == 0


def test_unknown_numbers_are_acknowledged_and_reported(client, parcel):
    payload = body("ZZ999999999XX")
    response = post(client, "simulated", payload, **{"X-Carrier-Signature": hex_signature(payload)})
    assert response.status_code == 200
    assert response.json() == {"shipments": 0, "events": 0, "unknown": ["ZZ999999999XX"]}


def test_a_pushed_delivery_sends_the_signal_once(client, parcel, django_capture_on_commit_callbacks):
    received = []
    shipment_delivered.connect(lambda sender, **kw: received.append(kw), weak=False, dispatch_uid="wh-test")
    try:
        payload = body(
            "EA200000001CN",
            {"checkpoint_time": (T0 + timedelta(hours=60)).isoformat(), "tag": "Delivered", "message": "Delivered"},
        )
        headers = {"X-Carrier-Signature": hex_signature(payload)}
        with django_capture_on_commit_callbacks(execute=True):
            assert post(client, "simulated", payload, **headers).status_code == 200
            assert post(client, "simulated", payload, **headers).status_code == 200
    finally:
        shipment_delivered.disconnect(dispatch_uid="wh-test")
    assert [kw["shipment_id"] for kw in received] == [parcel.pk]


def test_unknown_or_unconfigured_carriers_are_404_and_only_post_is_allowed(client, parcel, settings):
    payload = body()
    assert post(client, "nobody", payload, **{"X-Carrier-Signature": hex_signature(payload)}).status_code == 404
    settings.CARRIER_WEBHOOK_SECRETS = {}
    assert post(client, "simulated", payload, **{"X-Carrier-Signature": hex_signature(payload)}).status_code == 404
    settings.CARRIER_WEBHOOK_SECRETS = SECRETS
    assert client.get(URL.format("simulated")).status_code == 405
    assert poll_events() == 0
