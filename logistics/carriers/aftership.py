"""The AfterShip Tracking API's JSON shape, which our HTTP carrier client and webhooks speak.

A tracking object (``GET /trackings?tracking_numbers=A,B`` answers ``{"meta": {"code": 200},
"data": {"trackings": [...]}}``; a webhook posts ``{"event": "tracking_update", "msg": {...}}``)::

    {"tracking_number": "RA123456789CN", "slug": "china-ems", "tag": "InTransit",
     "checkpoints": [{"checkpoint_time": "2026-11-20T08:15:00+08:00", "tag": "InTransit",
                      "subtag": "InTransit_007", "subtag_message": "Departure Scan",
                      "message": "Departed facility", "location": "Shanghai, CN"}, ...]}

Checkpoint tags map onto our statuses (``TAG_STATUS``); an in-transit checkpoint that speaks of
customs is ``at_customs``; an exception that speaks of a return to sender is ``returned``. Tags
that tell nothing new (Pending, InfoReceived, AttemptFail, Expired) are kept as information.
Checkpoints carry no id, so each event's key hashes its time, tag, subtag, message and place.
Anything malformed raises ``CarrierError``: a half-understood answer is not stored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .base import CarrierError, CarrierEvent, TrackingUpdate, event_key

TAG_STATUS = {
    "Pending": "",
    "InfoReceived": "",
    "InTransit": "in_transit",
    "OutForDelivery": "out_for_delivery",
    "AvailableForPickup": "out_for_delivery",
    "AttemptFail": "",  # the carrier tries again; the timeline shows it
    "Delivered": "delivered",
    "Exception": "exception",
    "Expired": "",
}


def _text(value: object, limit: int) -> str:
    return " ".join(str(value).split())[:limit] if value not in (None, "") else ""


def parse_time(raw: object) -> datetime:
    """ISO 8601 with or without an offset (carriers' local time without one is taken as UTC)."""
    if not isinstance(raw, str) or not raw:
        raise CarrierError(f"checkpoint_time {raw!r} is not a date-time")
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise CarrierError(f"checkpoint_time {raw!r} is not ISO 8601") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _status(tag: str, checkpoint: Mapping[str, Any]) -> str:
    if tag not in TAG_STATUS:
        raise CarrierError(f"unknown checkpoint tag {tag!r}")
    words = f"{checkpoint.get('subtag_message') or ''} {checkpoint.get('message') or ''}".lower()
    status = TAG_STATUS[tag]
    if status == "in_transit" and "customs" in words:
        return "at_customs"
    if status == "exception" and "return" in words and "sender" in words:
        return "returned"
    return status


def parse_checkpoint(tracking_number: str, checkpoint: object) -> CarrierEvent:
    if not isinstance(checkpoint, Mapping):
        raise CarrierError(f"{tracking_number}: a checkpoint is not an object")
    occurred_at = parse_time(checkpoint.get("checkpoint_time"))
    tag = checkpoint.get("tag")
    if not isinstance(tag, str):
        raise CarrierError(f"{tracking_number}: a checkpoint has no tag")
    subtag = _text(checkpoint.get("subtag"), 40)
    message = _text(checkpoint.get("message") or checkpoint.get("subtag_message"), 300)
    location = _text(checkpoint.get("location"), 200) or ", ".join(
        part
        for part in (_text(checkpoint.get(field), 60) for field in ("city", "state", "country_region", "country_iso3"))
        if part
    )
    key = _text(checkpoint.get("id"), 64) or event_key(occurred_at.isoformat(), tag, subtag, message, location)
    return CarrierEvent(
        key=key,
        status=_status(tag, checkpoint),
        occurred_at=occurred_at,
        description=message,
        location=location[:200],
        carrier_code=(subtag or tag)[:60],
    )


def parse_tracking(tracking: object) -> TrackingUpdate:
    if not isinstance(tracking, Mapping):
        raise CarrierError("a tracking is not an object")
    number = tracking.get("tracking_number")
    if not isinstance(number, str) or not number:
        raise CarrierError("a tracking has no tracking_number")
    checkpoints = tracking.get("checkpoints") or []
    if not isinstance(checkpoints, list):
        raise CarrierError(f"{number}: checkpoints is not a list")
    return TrackingUpdate(number.upper(), tuple(parse_checkpoint(number, c) for c in checkpoints))


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CarrierError(f"the answer is not JSON: {body[:60]!r}") from exc


def parse_trackings_response(body: bytes) -> dict[str, tuple[CarrierEvent, ...]]:
    """``GET /trackings`` (or ``GET /trackings/{slug}/{number}``, whose data is one tracking)."""
    payload = _json(body)
    if not isinstance(payload, Mapping) or not isinstance(payload.get("meta"), Mapping):
        raise CarrierError("the answer has no meta")
    code = payload["meta"].get("code")
    if code != 200:
        raise CarrierError(f"the answer's meta.code is {code!r}: {payload['meta'].get('message', '')}")
    data = payload.get("data")
    if not isinstance(data, Mapping):
        raise CarrierError("the answer has no data")
    if "trackings" in data:
        trackings = data["trackings"]
        if not isinstance(trackings, list):
            raise CarrierError("data.trackings is not a list")
    elif "tracking" in data:
        trackings = [data["tracking"]]
    else:
        raise CarrierError("the answer has neither data.trackings nor data.tracking")
    updates = [parse_tracking(t) for t in trackings]
    return {update.tracking_number: update.events for update in updates}


def parse_webhook(body: bytes) -> list[TrackingUpdate]:
    """A ``tracking_update`` webhook; other events (e.g. ``edd_revise``) carry no checkpoints."""
    payload = _json(body)
    if not isinstance(payload, Mapping) or not isinstance(payload.get("msg"), Mapping):
        raise CarrierError("the webhook has no msg")
    event = payload.get("event", "tracking_update")
    if event != "tracking_update":
        return []
    return [parse_tracking(payload["msg"])]
