"""Tracking: idempotent events, forward-only status, the delivered signal, backoff and retries,
the poll_tracking command and beat task, bounded queries per batch."""

from __future__ import annotations

import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from logistics import tasks
from logistics.carriers import CarrierError, CarrierEvent
from logistics.carriers.simulated import SimulatedCarrier
from logistics.models import Shipment, TrackingEvent
from logistics.signals import shipment_delivered
from logistics.tracking import backoff, due_batches, poll_batch, poll_tracking, record_tracking_events, tracking_request

from .tracking_helpers import FlakyCarrier, carriers_with_flaky, number_of_kind, shipped, warehouse

Status = Shipment.Status
pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def delivered_signals():
    received: list[dict] = []

    def receiver(sender, **kwargs):
        received.append(kwargs)

    shipment_delivered.connect(receiver, dispatch_uid="test-delivered")
    yield received
    shipment_delivered.disconnect(dispatch_uid="test-delivered")


def carrier_keys(shipment: Shipment) -> list[str]:
    return list(shipment.events.exclude(source=TrackingEvent.Source.OPERATOR).values_list("key", flat=True))


def test_polling_twice_stores_nothing_twice(now):
    # given a parcel shipped 40 hours ago: picked up, departed, arrived, presented to customs
    shipment = shipped(number_of_kind("normal"), hours_ago=40, now=now)
    assert shipment.status == Status.SHIPPED
    assert list(shipment.events.values_list("key", flat=True)) == ["packed", "shipped"]  # the operator's steps

    # when polled twice at the same moment
    first = poll_tracking(now=now)
    second = poll_tracking(now=now)

    # then the first stored four carrier events, the second none
    assert (first.shipments, first.events) == (1, 4)
    assert (second.shipments, second.events) == (1, 0)
    shipment.refresh_from_db()
    assert carrier_keys(shipment) == ["sim-PU", "sim-DEP", "sim-ARR", "sim-CUS"]
    assert shipment.status == Status.AT_CUSTOMS
    assert shipment.last_polled_at == now and shipment.poll_failures == 0

    # and ten hours later only the release by customs is new
    later = poll_tracking(now=now + timedelta(hours=10))
    assert later.events == 1
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 2 + 5


def test_a_journey_to_delivery_sends_shipment_delivered_once(
    now, delivered_signals, django_capture_on_commit_callbacks
):
    shipment = shipped(number_of_kind("normal"), hours_ago=70, now=now, order_number="ORD-1001")
    with django_capture_on_commit_callbacks(execute=True):
        poll_tracking(now=now)
    shipment.refresh_from_db()
    assert shipment.status == Status.DELIVERED
    assert shipment.delivered_at == shipment.shipped_at + timedelta(hours=62)
    assert len(delivered_signals) == 1
    assert delivered_signals[0]["shipment_id"] == shipment.pk
    assert delivered_signals[0]["order_number"] == "ORD-1001"

    # the carrier repeats the delivery (another key), a webhook repeats it (same key): no second signal
    again = CarrierEvent("dlv-2", Status.DELIVERED, now, "Delivered again")
    same = CarrierEvent("sim-DLV", Status.DELIVERED, now, "Delivered")
    with django_capture_on_commit_callbacks(execute=True):
        result = record_tracking_events(shipment.pk, [again, same])
    assert result.new_events == 1 and result.delivered is False
    assert len(delivered_signals) == 1
    # a delivered parcel is no longer polled
    assert due_batches(now=now) == ([], 0)


def test_domestic_parcels_skip_customs(now):
    shipment = shipped(number_of_kind("normal"), hours_ago=30, now=now, destination="CN")
    poll_tracking(now=now)
    shipment.refresh_from_db()
    assert shipment.status == Status.DELIVERED
    assert not shipment.events.filter(status=Status.AT_CUSTOMS).exists()


def test_customs_hold_is_an_exception_then_delivery(now):
    shipment = shipped(number_of_kind("customs_hold"), hours_ago=50, now=now)
    poll_tracking(now=now)
    shipment.refresh_from_db()
    assert shipment.status == Status.EXCEPTION
    # the release and "out for delivery" that follow do not undo the exception; delivery does
    poll_tracking(now=now + timedelta(hours=60))
    shipment.refresh_from_db()
    assert shipment.status == Status.DELIVERED
    assert shipment.events.filter(key="sim-OFD").exists()


def test_refused_parcel_goes_back_without_a_delivered_signal(
    now, delivered_signals, django_capture_on_commit_callbacks
):
    shipment = shipped(number_of_kind("refused"), hours_ago=130, now=now)
    with django_capture_on_commit_callbacks(execute=True):
        poll_tracking(now=now)
    shipment.refresh_from_db()
    assert shipment.status == Status.RETURNED
    assert shipment.delivered_at is None
    assert delivered_signals == []


ALL = [status.value for status in Status]


@pytest.mark.parametrize("current", ALL)
@pytest.mark.parametrize("reported", ALL)
def test_status_moves_only_along_the_transition_table(now, current, reported):
    # given a shipment in any status
    shipment = shipped(number_of_kind("normal"), hours_ago=1, now=now)
    Shipment.objects.filter(pk=shipment.pk).update(status=current)
    # when the carrier reports any status
    result = record_tracking_events(shipment.pk, [CarrierEvent("e1", reported, now, "reported")])
    # then it moves only if the table allows it, and the event is kept either way
    expected = reported if reported in Shipment.TRANSITIONS[current] else current
    assert Shipment.objects.get(pk=shipment.pk).status == expected == result.status
    assert shipment.events.filter(key="e1").exists()


def test_statuses_never_move_backwards_whatever_the_order_of_events(now):
    shipment = shipped(number_of_kind("normal"), hours_ago=1, now=now)
    t = now - timedelta(hours=1)
    record_tracking_events(shipment.pk, [CarrierEvent("ofd", Status.OUT_FOR_DELIVERY, t + timedelta(hours=5), "")])
    # a late-arriving older event, in the same or a later call
    result = record_tracking_events(
        shipment.pk,
        [
            CarrierEvent("transit", Status.IN_TRANSIT, t + timedelta(hours=1), ""),
            CarrierEvent("customs", Status.AT_CUSTOMS, t + timedelta(hours=3), ""),
        ],
    )
    assert result.status == Status.OUT_FOR_DELIVERY and result.status_changed is False
    assert result.new_events == 2
    # events of one call apply in time order, whatever order they come in
    other = shipped(number_of_kind("normal", prefix="ORD"), hours_ago=1, now=now)
    record_tracking_events(
        other.pk,
        [
            CarrierEvent("b", Status.DELIVERED, t + timedelta(hours=9), ""),
            CarrierEvent("a", Status.IN_TRANSIT, t + timedelta(hours=2), ""),
        ],
    )
    other.refresh_from_db()
    assert other.status == Status.DELIVERED


def test_a_failing_carrier_leaves_the_shipment_unchanged_and_backs_off(settings, now):
    carriers_with_flaky(settings)
    FlakyCarrier.reset(failures=2)
    shipment = shipped(number_of_kind("normal"), hours_ago=40, now=now, carrier="flaky")
    events_before = shipment.events.count()

    # when the carrier fails
    result = poll_tracking(now=now)

    # then nothing is stored, the status stays, the failure is counted and the next poll waits
    assert (result.failed, result.events) == (1, 0)
    assert "HTTP 500" in result.errors[0]
    shipment.refresh_from_db()
    assert shipment.status == Status.SHIPPED and shipment.events.count() == events_before
    assert shipment.poll_failures == 1
    assert shipment.next_poll_at == now + timedelta(minutes=10)
    assert "HTTP 500" in shipment.last_poll_error
    # not due until then; a second failure doubles the wait
    assert due_batches(now=now + timedelta(minutes=5)) == ([], 0)
    poll_tracking(now=now + timedelta(minutes=10))
    shipment.refresh_from_db()
    assert shipment.poll_failures == 2
    assert shipment.next_poll_at == now + timedelta(minutes=10) + timedelta(minutes=20)

    # when the carrier answers again, the events arrive and the failures reset
    recovered = poll_tracking(now=now + timedelta(minutes=30))
    shipment.refresh_from_db()
    assert recovered.events == 4
    assert shipment.status == Status.AT_CUSTOMS
    assert (shipment.poll_failures, shipment.next_poll_at, shipment.last_poll_error) == (0, None, "")
    assert FlakyCarrier.calls == 3


def test_backoff_doubles_up_to_six_hours():
    assert [backoff(n) for n in (1, 2, 3)] == [timedelta(minutes=10), timedelta(minutes=20), timedelta(minutes=40)]
    assert backoff(30) == timedelta(hours=6)


def test_the_batch_task_retries_a_failing_carrier(settings, now):
    carriers_with_flaky(settings)
    FlakyCarrier.reset(failures=1)
    shipment = shipped(number_of_kind("normal"), hours_ago=40, now=timezone.now(), carrier="flaky")
    assert issubclass(CarrierError, tasks.poll_tracking_batch.autoretry_for)
    # eager Celery: the first call fails and raises, the retry succeeds
    result = tasks.poll_tracking_batch.apply(args=[[shipment.pk]])
    assert FlakyCarrier.calls == 2
    assert result.get() == 4
    shipment.refresh_from_db()
    assert shipment.status == Status.AT_CUSTOMS and shipment.poll_failures == 0


def test_the_beat_task_fans_out_batches(settings, now):
    settings.TRACKING_POLL_BATCH_SIZE = 2
    for prefix in ("AAA", "BBB", "CCC"):
        shipped(number_of_kind("normal", prefix=prefix), hours_ago=12, now=timezone.now())
    assert tasks.poll_tracking.apply().get() == 2  # 3 shipments in batches of 2
    assert TrackingEvent.objects.filter(source=TrackingEvent.Source.POLL).count() == 3 * 2
    assert "poll-tracking" in django_settings.CELERY_BEAT_SCHEDULE


def test_unconfigured_carriers_are_skipped(settings, now):
    settings.TRACKING_API_KEY = ""
    shipped(number_of_kind("normal"), hours_ago=40, now=now, carrier="trackapi")
    result = poll_tracking(now=now)
    assert (result.shipments, result.skipped) == (0, 1)


def test_poll_tracking_command_prints_shipments_and_events(now):
    shipped(number_of_kind("normal"), hours_ago=40, now=now - timedelta(seconds=5))
    out = StringIO()
    call_command("poll_tracking", stdout=out)
    assert "shipments: 1; new events: 4" in out.getvalue()
    out = StringIO()
    call_command("poll_tracking", stdout=out)
    assert "shipments: 1; new events: 0" in out.getvalue()


def test_queries_per_batch_do_not_grow_with_the_batch(now):
    origin = warehouse()

    def queries_for(count: int, prefix: str) -> int:
        ids = [
            shipped(number_of_kind("normal", prefix=f"{prefix}{i:02d}"), hours_ago=70, now=now, origin=origin).pk
            for i in range(count)
        ]
        with CaptureQueriesContext(connection) as ctx:
            result = poll_batch(ids, now=now)
        assert result.shipments == count and result.events == count * 7
        return len(ctx.captured_queries)

    # load, savepoint, lock, existing keys, insert, bookkeeping, statuses, release (SQLite splits an
    # insert past 999 parameters, PostgreSQL past 1,000 rows: 10 shipments x 7 events stay in one)
    assert queries_for(2, "SMALL") == queries_for(10, "LARGE") <= 10


def test_simulated_carrier_is_deterministic(now):
    carrier = SimulatedCarrier()
    shipment = shipped(number_of_kind("normal"), hours_ago=70, now=now)
    first = carrier.track([tracking_request(shipment)], now=now)
    assert first == carrier.track([tracking_request(shipment)], now=now)
    assert [e.status for e in first[shipment.tracking_number]][-1] == Status.DELIVERED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_store_one_event_and_send_one_signal(delivered_signals):
    shipment = shipped(number_of_kind("normal"), hours_ago=70, now=timezone.now())
    event = CarrierEvent("sim-DLV", Status.DELIVERED, timezone.now(), "Delivered")
    barrier = threading.Barrier(4)
    results = []

    def push() -> None:
        try:
            barrier.wait()
            results.append(record_tracking_events(shipment.pk, [event]))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=push) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(r.new_events for r in results) == [0, 0, 0, 1]
    assert [r.delivered for r in results].count(True) == 1
    assert len(delivered_signals) == 1
    assert shipment.events.filter(key="sim-DLV").count() == 1


def test_queued_shipments_are_not_queued_again_by_the_next_beat(monkeypatch):
    shipment = shipped(number_of_kind("normal"), hours_ago=12, now=timezone.now())
    sent: list[list[int]] = []
    monkeypatch.setattr(tasks.poll_tracking_batch, "delay", sent.append)  # the batch waits in the queue

    assert tasks.poll_tracking.apply().get() == 1
    assert tasks.poll_tracking.apply().get() == 0  # the next beat, still queued: not again
    assert sent == [[shipment.pk]]

    # the queued batch runs: the claim is cleared, the shipment is due at the next beat
    poll_batch([shipment.pk])
    assert due_batches() == ([[shipment.pk]], 0)
