"""The HTTP tracking-API carrier against a local server on 127.0.0.1 that replays answers in the
AfterShip Tracking API's JSON shape: parsing, idempotency, HTTP 500 / garbage / timeouts leave the
shipment unchanged and are retried, the API key is sent and never leaked."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from logistics import tasks
from logistics.carriers import CarrierError, TrackingRequest
from logistics.carriers.http import HttpTrackingCarrier
from logistics.models import Shipment
from logistics.tracking import poll_tracking

from .tracking_helpers import shipped

Status = Shipment.Status
API_KEY = "test-key-5f2a"


class Replay:
    """What the fake API answers, in order (the last answer repeats), and what it was asked."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, bytes, float]] = []
        self.requests: list[tuple[str, dict[str, str]]] = []

    def answer(self, status: int, body: bytes | dict, *, delay: float = 0) -> None:
        self.answers.append((status, body if isinstance(body, bytes) else json.dumps(body).encode(), delay))

    def next(self) -> tuple[int, bytes, float]:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@pytest.fixture
def api(settings):
    replay = Replay()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            replay.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            status, body, delay = replay.next()
            if delay:
                time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    settings.TRACKING_API_URL = f"http://127.0.0.1:{server.server_port}/tracking/2024-04"
    settings.TRACKING_API_KEY = API_KEY
    settings.TRACKING_HTTP_TIMEOUT = 2
    yield replay
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def checkpoint(hours: int, tag: str, message: str, subtag: str = "", location: str = "Shanghai, CN") -> dict:
    return {
        "checkpoint_time": (T0 + timedelta(hours=hours)).isoformat(),
        "created_at": (T0 + timedelta(hours=hours, minutes=3)).isoformat(),
        "tag": tag,
        "subtag": subtag or f"{tag}_001",
        "subtag_message": message,
        "message": message,
        "location": location,
        "slug": "china-ems",
    }


def tracking(number: str, *checkpoints: dict) -> dict:
    return {
        "id": f"id-{number.lower()}",
        "tracking_number": number,
        "slug": "china-ems",
        "active": True,
        "tag": checkpoints[-1]["tag"] if checkpoints else "Pending",
        "checkpoints": list(checkpoints),
    }


def page(*trackings: dict) -> dict:
    return {
        "meta": {"code": 200, "message": "OK", "type": "OK"},
        "data": {"pagination": {"total": len(trackings), "has_next_page": False}, "trackings": list(trackings)},
    }


JOURNEY = (
    checkpoint(1, "InfoReceived", "Shipment information received"),
    checkpoint(3, "InTransit", "Accepted by the carrier", "InTransit_002"),
    checkpoint(30, "InTransit", "Arrived at the customs clearance facility", "InTransit_003", "Frankfurt, DE"),
    checkpoint(44, "InTransit", "Departed facility", "InTransit_007", "Frankfurt, DE"),
)


@pytest.fixture
def parcels(db):
    now = timezone.now()
    return (
        shipped("EA100000001CN", hours_ago=50, now=now, carrier="trackapi"),
        shipped("EA100000002CN", hours_ago=50, now=now, carrier="trackapi"),
    )


def test_events_are_read_from_the_api_and_stored_once(api, parcels):
    first, second = parcels
    api.answer(
        200,
        page(
            tracking("EA100000001CN", *JOURNEY),
            tracking("EA100000002CN", *JOURNEY, checkpoint(60, "Delivered", "Delivered", location="Berlin, DE")),
        ),
    )

    result = poll_tracking()
    again = poll_tracking()

    assert (result.shipments, result.events) == (2, 9)
    assert (again.shipments, again.events) == (1, 0)  # the delivered parcel is no longer asked about
    first.refresh_from_db()
    second.refresh_from_db()
    # "customs" in an in-transit checkpoint is at_customs; the later "departed" cannot move it back
    assert first.status == Status.AT_CUSTOMS
    assert second.status == Status.DELIVERED and second.delivered_at == T0 + timedelta(hours=60)
    assert list(first.events.filter(source="poll").values_list("status", "location")) == [
        ("", "Shanghai, CN"),
        ("in_transit", "Shanghai, CN"),
        ("at_customs", "Frankfurt, DE"),
        ("in_transit", "Frankfurt, DE"),
    ]
    path, headers = api.requests[0]
    assert urlsplit(path).path == "/tracking/2024-04/trackings"
    assert parse_qs(urlsplit(path).query)["tracking_numbers"] == ["EA100000001CN,EA100000002CN"]
    assert headers["as-api-key"] == API_KEY


@pytest.mark.parametrize(
    "answer",
    [
        (500, b'{"meta": {"code": 500, "message": "Internal error"}}'),
        (200, b"<html>Bad gateway</html>"),
        (200, b'{"meta": {"code": 4101, "message": "Tracking already exists."}, "data": {}}'),
        (200, json.dumps(page(tracking("EA100000001CN", {"tag": "InTransit", "message": "no time"}))).encode()),
        (200, json.dumps(page(tracking("EA100000001CN", checkpoint(2, "Teleported", "??")))).encode()),
        (401, b'{"meta": {"code": 401, "message": "Invalid API key."}}'),
    ],
    ids=["http-500", "not-json", "api-error", "checkpoint-without-time", "unknown-tag", "http-401"],
)
def test_errors_and_garbage_leave_the_shipment_unchanged_and_it_is_polled_again(api, parcels, answer):
    first, _second = parcels
    api.answer(*answer)
    api.answer(200, page(tracking("EA100000001CN", *JOURNEY)))  # the carrier's next answer

    failed = poll_tracking()

    assert (failed.failed, failed.events) == (2, 0)
    first.refresh_from_db()
    assert first.status == Status.SHIPPED
    assert first.events.filter(source="poll").count() == 0
    assert first.poll_failures == 1 and first.next_poll_at is not None
    assert API_KEY not in first.last_poll_error and API_KEY not in " ".join(failed.errors)

    # retried later: once the backoff has passed, the next answer is stored
    retried = poll_tracking(now=first.next_poll_at)
    first.refresh_from_db()
    assert retried.events == 4
    assert first.status == Status.AT_CUSTOMS and first.poll_failures == 0


def test_the_batch_task_retries_after_http_500(api, parcels):
    first, second = parcels
    api.answer(500, b"{}")
    api.answer(200, page(tracking("EA100000001CN", *JOURNEY), tracking("EA100000002CN", *JOURNEY)))

    result = tasks.poll_tracking_batch.apply(args=[[first.pk, second.pk]])

    assert result.get() == 8
    assert len(api.requests) == 2  # the failed call, then the retry


def test_a_timeout_is_a_carrier_error(api, settings):
    settings.TRACKING_HTTP_TIMEOUT = 0.2
    api.answer(200, page(), delay=1.0)
    request = TrackingRequest(1, "EA100000001CN", T0, "CN", "Shenzhen", "DE")
    with pytest.raises(CarrierError, match="could not be reached"):
        HttpTrackingCarrier().track([request], now=T0)


def test_numbers_are_asked_fifty_at_a_time(api):
    api.answer(200, page())
    requests = [TrackingRequest(i, f"EA{i:09d}CN", T0, "CN", "Shenzhen", "DE") for i in range(51)]
    assert HttpTrackingCarrier().track(requests, now=T0) == {}
    counts = [len(parse_qs(urlsplit(path).query)["tracking_numbers"][0].split(",")) for path, _h in api.requests]
    assert counts == [50, 1]


def test_without_a_key_the_carrier_is_off(settings):
    settings.TRACKING_API_KEY = ""
    assert HttpTrackingCarrier().is_configured() is False
    with pytest.raises(CarrierError):
        HttpTrackingCarrier().track([], now=T0)
