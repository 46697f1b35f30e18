"""Stock changes: the adjustment log, clear refusals, and constraints the database itself enforces."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from logistics.exceptions import InvalidStockChange, NegativeStock, StockAllocated
from logistics.models import Stock, StockAdjustment
from logistics.stock import Operation, adjust_stock, change_stock, set_stock
from marketplace.models import User

from .world import make_product, put

Reason = StockAdjustment.Reason


@pytest.fixture
def variant(world):
    return make_product(world.silk, world.category, "wig").variants.get()


@pytest.fixture
def operator(db):
    return User.objects.create_user("operator@example.com", "x")


def test_adjust_stock_changes_on_hand_and_logs_who_why_how_many(world, variant, operator):
    # given
    stock = put(variant, world.de_fra, 5)
    # when
    adjust_stock(stock, quantity=7, reason=Reason.RECEIVED, actor=operator, note="pallet 42")
    adjust_stock(stock, quantity=-2, reason=Reason.DAMAGED, actor=operator)
    # then
    stock.refresh_from_db()
    assert stock.on_hand == 10
    log = list(
        StockAdjustment.objects.filter(stock=stock)
        .order_by("pk")
        .values_list("quantity", "on_hand_after", "reason", "note", "actor")
    )
    assert log == [(7, 12, "received", "pallet 42", operator.pk), (-2, 10, "damaged", "", operator.pk)]


def test_adjust_stock_refuses_a_negative_result_and_writes_nothing(world, variant, operator):
    stock = put(variant, world.de_fra, 3)
    with pytest.raises(NegativeStock) as refused:
        adjust_stock(stock, quantity=-4, reason=Reason.CORRECTION, actor=operator)
    assert refused.value.code == "negative_stock"
    assert "wig-0" in refused.value.message and "Frankfurt" in refused.value.message and "-4" in refused.value.message
    stock.refresh_from_db()
    assert stock.on_hand == 3
    assert not StockAdjustment.objects.exists()


def test_on_hand_cannot_go_below_allocated_units(world, variant):
    stock = put(variant, world.de_fra, 5, allocated=4)
    with pytest.raises(StockAllocated) as refused:
        adjust_stock(stock, quantity=-2, reason=Reason.CORRECTION)
    assert refused.value.code == "stock_allocated" and "4" in refused.value.message
    assert Stock.objects.get(pk=stock.pk).on_hand == 5
    adjust_stock(stock, quantity=-1, reason=Reason.CORRECTION)  # down to exactly the allocated units
    assert Stock.objects.get(pk=stock.pk).available == 0


def test_zero_or_unknown_reason_is_a_programming_error(world, variant):
    stock = put(variant, world.de_fra, 5)
    with pytest.raises(ValueError):
        adjust_stock(stock, quantity=0, reason=Reason.CORRECTION)
    with pytest.raises(ValueError):
        adjust_stock(stock, quantity=1, reason="because")
    assert not StockAdjustment.objects.exists()


def test_set_stock_logs_the_difference_and_nothing_when_unchanged(world, variant):
    stock = put(variant, world.de_fra, 5)
    set_stock(stock, on_hand=8, reason=Reason.CORRECTION, note="count")
    set_stock(stock, on_hand=8, reason=Reason.CORRECTION, note="count again")
    assert list(StockAdjustment.objects.values_list("quantity", "on_hand_after")) == [(3, 8)]


def test_change_stock_is_all_or_nothing_even_for_a_new_row(world, variant):
    # given no stock row yet
    assert not Stock.objects.exists()
    # when removing units that are not there
    with pytest.raises(InvalidStockChange):
        change_stock(variant, world.de_fra, operation=Operation.REMOVE, quantity=2, reason=Reason.DAMAGED)
    # then not even the empty row was created
    assert not Stock.objects.exists()
    # and a valid change creates the row with its log entry
    stock = change_stock(variant, world.de_fra, operation=Operation.ADD, quantity=4, reason=Reason.RECEIVED)
    assert (stock.on_hand, StockAdjustment.objects.get().quantity) == (4, 4)


@pytest.mark.parametrize(
    "update",
    [
        {"on_hand": -1},
        {"allocated": -1},
        {"allocated": F("on_hand") + 1},
    ],
    ids=["on_hand_negative", "allocated_negative", "allocated_above_on_hand"],
)
def test_the_database_refuses_a_raw_update_that_breaks_stock_rules(world, variant, update):
    # given a valid row, and code that bypasses every service
    stock = put(variant, world.de_fra, 5, allocated=2)
    # when / then: the database constraint, not Python, refuses it (SQLite and PostgreSQL alike)
    with pytest.raises(IntegrityError), transaction.atomic():
        Stock.objects.filter(pk=stock.pk).update(**update)
    stock.refresh_from_db()
    assert (stock.on_hand, stock.allocated) == (5, 2)


def test_adjustment_log_refuses_a_zero_change_at_database_level(world, variant):
    stock = put(variant, world.de_fra, 5)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockAdjustment.objects.create(stock=stock, quantity=0, on_hand_after=5, reason=Reason.CORRECTION)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_removals_never_oversell(world, variant):
    """Two people remove 3 of 5 units at once: the row lock serialises them, one is refused."""
    stock = put(variant, world.de_fra, 5)
    barrier, outcomes = threading.Barrier(2), []

    def remove() -> None:
        try:
            barrier.wait()
            adjust_stock(stock, quantity=-3, reason=Reason.DAMAGED)
            outcomes.append("ok")
        except NegativeStock:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=remove) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "refused"]
    assert Stock.objects.get(pk=stock.pk).on_hand == 2
    assert StockAdjustment.objects.count() == 1


def test_sellable_units_count_what_allocation_would_use(world, variant):
    from catalog.models import Product
    from logistics.allocation import load_allocation_data
    from logistics.stock import sellable_units

    put(variant, world.de_fra, 5, allocated=2)  # 3 available
    put(variant, world.cn_origin, 4)  # 4 available
    put(variant, world.it_origin, 9)  # a warehouse the silk seller may not use: not counted
    closed = put(variant, world.us_lax, 6)
    closed.warehouse.active = False
    closed.warehouse.save()

    assert sellable_units(variant.pk) == 7 == load_allocation_data([variant.pk], None).units_for(variant.pk)
    variant.product.status = Product.Status.ARCHIVED
    variant.product.save()
    assert sellable_units(variant.pk) is None  # not for sale at all
    assert sellable_units(10**9) is None
