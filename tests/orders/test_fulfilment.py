"""An order follows its parcels (orders.fulfilment): packed -> being prepared, all shipped ->
shipped, all delivered -> delivered; per seller for sub-orders; idempotent; stock leaves with
the parcel; the timeline shows what happened when."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from djmoney.money import Money

from logistics.models import Stock, StockAdjustment
from orders.fulfilment import NotFulfillable, advance_order, order_timeline, start_fulfilment
from orders.models import Order, OrderEvent, OrderNotification, StockReservation, SubOrder
from payments.models import Payment
from payments.signals import payment_captured

from .fulfilment_helpers import confirm, deliver, pack, parcel, place, ship

pytestmark = pytest.mark.django_db

S = Order.Status


def statuses(order: Order) -> tuple[str, dict[str, str]]:
    order.refresh_from_db()
    return order.status, {
        s.seller.slug: s.status for s in SubOrder.objects.filter(order=order).select_related("seller")
    }


def stock(variant) -> tuple[int, int]:
    return Stock.objects.filter(variant=variant).values_list("on_hand", "allocated").get()


def kinds(order: Order) -> list[str]:
    return list(OrderEvent.objects.filter(order=order).order_by("occurred_at", "pk").values_list("kind", flat=True))


def test_order_and_sub_orders_follow_their_parcels(shop, buyer, django_capture_on_commit_callbacks):
    # given: a confirmed order of two sellers, shipped from Milan (olive's own) and Frankfurt (silk's goods)
    world = shop["world"]
    order = place(buyer, (shop["wig"], 2), (shop["oil"], 1))
    with django_capture_on_commit_callbacks(execute=True):
        confirm(order)
    assert statuses(order) == (S.CONFIRMED, {"olive": S.CONFIRMED, "silk": S.CONFIRMED})
    milan, frankfurt = parcel(order, world.it_origin), parcel(order, world.de_fra)
    assert stock(shop["oil"]) == (10, 1) and stock(shop["wig"]) == (10, 2)

    # when: olive packs -> the order is being prepared, and olive's part of it
    with django_capture_on_commit_callbacks(execute=True):
        pack(milan)
    assert statuses(order) == (S.FULFILLING, {"olive": S.FULFILLING, "silk": S.CONFIRMED})

    # when: olive ships -> its part has shipped, the order waits for Frankfurt; the unit left Milan
    with django_capture_on_commit_callbacks(execute=True):
        ship(milan, "MILAN0001")
    assert statuses(order) == (S.FULFILLING, {"olive": S.SHIPPED, "silk": S.CONFIRMED})
    assert stock(shop["oil"]) == (9, 0) and stock(shop["wig"]) == (10, 2)
    adjustment = StockAdjustment.objects.get(stock__variant=shop["oil"], reason=StockAdjustment.Reason.SHIPPED)
    assert (adjustment.quantity, adjustment.on_hand_after, adjustment.note) == (-1, 9, f"order {order.number}")

    # when: Frankfurt ships too -> the whole order has shipped
    with django_capture_on_commit_callbacks(execute=True):
        ship(frankfurt, "FRANKFURT1")
    assert statuses(order) == (S.SHIPPED, {"olive": S.SHIPPED, "silk": S.SHIPPED})
    assert stock(shop["wig"]) == (8, 0)
    assert not StockReservation.objects.filter(order_line__order=order, released_at=None).exists()

    # when: one parcel is delivered -> its seller's part is delivered, the order is not yet
    with django_capture_on_commit_callbacks(execute=True):
        deliver(milan)
    assert statuses(order) == (S.SHIPPED, {"olive": S.DELIVERED, "silk": S.SHIPPED})
    with django_capture_on_commit_callbacks(execute=True):
        deliver(frankfurt)
    assert statuses(order) == (S.DELIVERED, {"olive": S.DELIVERED, "silk": S.DELIVERED})
    assert kinds(order) == ["confirmed", "fulfilling", "shipped", "delivered"]

    # then: running it again changes nothing (no second stock movement, no second event)
    events, adjustments = OrderEvent.objects.count(), StockAdjustment.objects.count()
    again = advance_order(order.pk)
    assert again is not None and not again.moved and again.units_shipped == 0
    assert (OrderEvent.objects.count(), StockAdjustment.objects.count()) == (events, adjustments)
    assert stock(shop["oil"]) == (9, 0) and stock(shop["wig"]) == (8, 0)


def test_skipped_steps_are_recorded_with_the_parcels_times_and_one_email(
    shop, buyer, django_capture_on_commit_callbacks, mailoutbox
):
    # given: a confirmed order whose only parcel shipped and arrived while no signal got through
    order = place(buyer, (shop["oil"], 1))
    with django_capture_on_commit_callbacks(execute=True):
        confirm(order)
    mailoutbox.clear()
    OrderEvent.objects.filter(order=order).update(occurred_at=timezone.now() - timedelta(days=5))  # paid then
    milan = parcel(order, shop["world"].it_origin)
    shipped_at = timezone.now() - timedelta(days=3)
    delivered_at = timezone.now() - timedelta(days=1)
    ship(milan, "LATE000001", at=shipped_at)
    deliver(milan, at=delivered_at)
    order.refresh_from_db()
    assert order.status == S.CONFIRMED  # the signals were not delivered (on_commit not run)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        result = advance_order(order.pk)

    # then: delivered, every step in the timeline at the time the parcel reached it
    assert result is not None and result.moved
    assert statuses(order) == (S.DELIVERED, {"olive": S.DELIVERED})
    events = {e.kind: e.occurred_at for e in OrderEvent.objects.filter(order=order)}
    assert events["fulfilling"] == shipped_at and events["shipped"] == shipped_at
    assert events["delivered"] == delivered_at
    # the buyer hears about the delivery, not about a shipping that is long over
    assert [m.subject for m in mailoutbox] == [f"Your order {order.number} was delivered"]
    sent = OrderNotification.objects.filter(order=order).values_list("kind", flat=True)
    assert sorted(sent) == ["confirmation", "delivered"]


def test_parcels_that_left_before_the_payment_catch_up_on_confirmation(shop, buyer, django_capture_on_commit_callbacks):
    order = place(buyer, (shop["oil"], 1))
    with django_capture_on_commit_callbacks(execute=True):
        ship(parcel(order, shop["world"].it_origin), "EARLY00001")
    assert statuses(order) == (S.PENDING_PAYMENT, {"olive": S.PENDING_PAYMENT})  # unpaid: does not move

    with django_capture_on_commit_callbacks(execute=True):
        confirm(order)

    assert statuses(order) == (S.SHIPPED, {"olive": S.SHIPPED})
    assert kinds(order) == ["confirmed", "fulfilling", "shipped"]


@pytest.mark.parametrize("status", [S.CANCELLED, S.EXPIRED, S.REFUNDED])
def test_a_closed_order_does_not_move(shop, buyer, django_capture_on_commit_callbacks, status):
    order = place(buyer, (shop["oil"], 1))
    Order.objects.filter(pk=order.pk).update(status=status)
    with django_capture_on_commit_callbacks(execute=True):
        ship(parcel(order, shop["world"].it_origin), "CLOSED0001")
    order.refresh_from_db()
    assert order.status == status
    assert not OrderEvent.objects.filter(order=order, kind__in=["fulfilling", "shipped"]).exists()


def test_cancelled_order_closes_its_open_sub_orders(shop, buyer, django_capture_on_commit_callbacks):
    order = place(buyer, (shop["wig"], 1), (shop["oil"], 1))
    with django_capture_on_commit_callbacks(execute=True):
        confirm(order)
    Order.objects.filter(pk=order.pk).update(status=S.CANCELLED)
    advance_order(order.pk)
    assert statuses(order) == (S.CANCELLED, {"olive": S.CANCELLED, "silk": S.CANCELLED})


def test_operator_marks_an_order_being_prepared(shop, buyer, django_capture_on_commit_callbacks):
    order = place(buyer, (shop["oil"], 1))
    with pytest.raises(NotFulfillable):
        start_fulfilment(order)  # not paid
    with django_capture_on_commit_callbacks(execute=True):
        confirm(order)
        start_fulfilment(order)
        start_fulfilment(order)  # twice: nothing more
    assert statuses(order) == (S.FULFILLING, {"olive": S.FULFILLING})
    assert kinds(order) == ["confirmed", "fulfilling"]


def test_order_page_shows_the_timeline(client, shop, buyer, django_capture_on_commit_callbacks):
    order = place(buyer, (shop["oil"], 1))
    with django_capture_on_commit_callbacks(execute=True):
        confirm(order)
        payment = Payment.objects.create(
            order=order,
            method="card",
            state=Payment.State.CAPTURED,
            amount=order.total,
            captured=order.total,
            refunded=Money(0, "EUR"),
        )
        payment_captured.send(sender=Payment, payment_id=payment.pk, order_id=order.pk, state=payment.state)
        payment_captured.send(sender=Payment, payment_id=payment.pk, order_id=order.pk, state=payment.state)
        ship(parcel(order, shop["world"].it_origin), "PAGE000001")
    client.force_login(buyer)

    page = client.get(f"/en/orders/{order.number}/").content.decode()

    assert 'data-testid="order-status" data-status="shipped"' in page
    shown = [kind for kind in ("placed", "confirmed", "paid", "fulfilling", "shipped") if f'data-kind="{kind}"' in page]
    assert shown == ["placed", "confirmed", "paid", "fulfilling", "shipped"]
    assert page.count('data-kind="paid"') == 1  # the signal twice: one entry
    assert f'data-testid="timeline-amount" data-amount="{order.total.amount:.2f}" data-currency="EUR"' in page
    assert [entry.kind for entry in order_timeline(order)] == ["placed", "confirmed", "paid", "fulfilling", "shipped"]


def test_events_are_append_only(shop, buyer, django_capture_on_commit_callbacks):
    order = place(buyer, (shop["oil"], 1))
    with django_capture_on_commit_callbacks(execute=True):
        confirm(order)
    event = OrderEvent.objects.get(order=order)
    event.occurred_at = timezone.now() - timedelta(days=1)
    with pytest.raises(ValueError, match="append-only"):
        event.save()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_advances_take_the_units_once(shop, buyer):
    order = place(buyer, (shop["oil"], 2))
    confirm(order)
    ship(parcel(order, shop["world"].it_origin), "RACE000001")
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            advance_order(order.pk)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert stock(shop["oil"]) == (8, 0)
    assert StockAdjustment.objects.filter(reason=StockAdjustment.Reason.SHIPPED).count() == 1
    assert kinds(order) == ["confirmed", "fulfilling", "shipped"]
