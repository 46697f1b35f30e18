"""Properties of allocation that hold for every cart and every stock situation (hypothesis).

The planner is a pure function of ``AllocationData``, so most properties run on generated data
with no database (hundreds of examples a second). One more property test builds the generated
situation in the database and runs ``allocate`` itself, so the loading (active warehouses,
sellers' permissions, allocated units, rates to the destination) is covered by the same rules.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from decimal import Decimal

import pytest
from django.db import transaction
from djmoney.money import Money
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logistics.allocation import (
    AllocationData,
    Line,
    MethodInfo,
    RateInfo,
    Tier,
    VariantInfo,
    WarehouseInfo,
    allocate,
    plan_allocation,
)
from logistics.models import ShippingMethod, ShippingRate, ShippingZone, Stock, Warehouse

from .world import make_product

COUNTRIES = ["DE", "FR", "US", "CN", "JP"]
METHOD = MethodInfo(1, "std", "Standard", "simulated", "standard", "DDP", 2, 4)


@st.composite
def situations(draw: st.DrawFn) -> tuple[list[Line], AllocationData]:
    n_sellers = draw(st.integers(1, 3))
    n_warehouses = draw(st.integers(1, 5))
    n_variants = draw(st.integers(1, 6))
    codes = draw(st.permutations([f"w{i}" for i in range(n_warehouses)]))  # codes not in id order
    warehouses = {
        wid: WarehouseInfo(
            wid,
            codes[wid - 1],
            codes[wid - 1],
            "",
            draw(st.sampled_from(COUNTRIES)),
            "overseas",
            draw(st.integers(0, 3)),
        )
        for wid in range(1, n_warehouses + 1)
    }
    variants = {
        vid: VariantInfo(vid, draw(st.integers(1, n_sellers)), draw(st.integers(1, 3000)))
        for vid in range(100, 100 + n_variants)
    }
    pairs = [(w, s) for w in warehouses for s in range(1, n_sellers + 1)]
    permitted = draw(st.lists(st.booleans(), min_size=len(pairs), max_size=len(pairs)))
    allowed = frozenset(pair for pair, ok in zip(pairs, permitted, strict=True) if ok)
    cells = [(v, w) for v in variants for w in warehouses]
    units = draw(st.lists(st.integers(0, 12), min_size=len(cells), max_size=len(cells)))
    available = {cell: n for cell, n in zip(cells, units, strict=True) if n}
    rates = {}
    rate_id = 0
    for wid in warehouses:
        if draw(st.integers(0, 3)) == 0:
            continue  # this warehouse does not ship to the destination
        brackets = []
        for _ in range(draw(st.integers(1, 3))):
            low = draw(st.integers(0, 20_000))
            high = low + draw(st.integers(1, 40_000))
            rate_id += 1
            price = Money(Decimal(draw(st.integers(1, 5000))) / 100, "EUR")
            brackets.append(RateInfo(rate_id, wid, METHOD, low, high, price))
        rates[wid] = tuple(brackets)
    destination = draw(st.sampled_from(COUNTRIES))
    regional = frozenset(draw(st.sets(st.sampled_from(COUNTRIES))) - {destination})
    data = AllocationData(destination, variants, warehouses, allowed, available, regional, rates)
    known = list(variants)
    lines = draw(
        st.lists(
            st.builds(Line, st.sampled_from([*known, 999]), st.integers(1, 15)),  # 999: not a variant on sale
            min_size=1,
            max_size=6,
        )
    )
    return lines, data


def wanted(lines: list[Line]) -> dict[int, int]:
    totals: dict[int, int] = defaultdict(int)
    for line in lines:
        totals[line.variant_id] += line.quantity
    return totals


def usable(data: AllocationData, variant_id: int) -> dict[int, int]:
    """Warehouse -> units the rules allow for this variant: active (loaded), allowed, shipping there."""
    info = data.variants.get(variant_id)
    if info is None:
        return {}
    return {
        w: units
        for (v, w), units in data.available.items()
        if v == variant_id and (w, info.seller_id) in data.allowed and data.rates.get(w)
    }


@given(situations())
@settings(max_examples=200, deadline=None)
def test_never_allocates_more_than_available(situation):
    lines, data = situation
    plan = plan_allocation(lines, data)
    for (variant_id, warehouse_id), units in plan.quantities().items():
        assert 0 < units <= data.available[(variant_id, warehouse_id)]


@given(situations())
@settings(max_examples=200, deadline=None)
def test_covers_the_request_exactly_when_usable_stock_suffices(situation):
    lines, data = situation
    plan = plan_allocation(lines, data)
    placed: dict[int, int] = defaultdict(int)
    for (variant_id, _w), units in plan.quantities().items():
        placed[variant_id] += units
    short = {item.variant_id: item.quantity for item in plan.shortfalls}
    for variant_id, quantity in wanted(lines).items():
        total_usable = sum(usable(data, variant_id).values())
        assert placed[variant_id] + short.get(variant_id, 0) == quantity
        assert short.get(variant_id, 0) == max(0, quantity - total_usable)  # short only of what is missing
    assert plan.complete == (not short)


@given(situations())
@settings(max_examples=200, deadline=None)
def test_never_uses_a_warehouse_the_seller_may_not_use(situation):
    lines, data = situation
    plan = plan_allocation(lines, data)
    for shipment in plan.shipments:
        assert data.rates.get(shipment.warehouse.id)  # it ships to the destination
        for item in shipment.items:
            seller = data.variants[item.variant_id].seller_id
            assert (shipment.warehouse.id, seller) in data.allowed


@given(situations())
@settings(max_examples=200, deadline=None)
def test_deterministic_whatever_the_order_data_was_loaded_in(situation):
    lines, data = situation
    shuffled = replace(
        data,
        variants=dict(reversed(list(data.variants.items()))),
        warehouses=dict(reversed(list(data.warehouses.items()))),
        available=dict(reversed(list(data.available.items()))),
        rates={w: tuple(reversed(r)) for w, r in reversed(list(data.rates.items()))},
    )
    first = plan_allocation(lines, data)
    assert plan_allocation(lines, data) == first
    assert plan_allocation(lines, shuffled) == first


@given(situations())
@settings(max_examples=200, deadline=None)
def test_a_line_local_stock_can_cover_ships_whole_from_the_destination_country(situation):
    lines, data = situation
    plan = plan_allocation(lines, data)
    for variant_id, quantity in wanted(lines).items():
        local = [w for w, units in usable(data, variant_id).items() if units >= quantity and data.tier(w) == Tier.LOCAL]
        if local:
            sources = [s for s in plan.shipments for i in s.items if i.variant_id == variant_id]
            assert len(sources) == 1 and sources[0].tier == Tier.LOCAL


@given(situations())
@settings(max_examples=200, deadline=None)
def test_shipping_options_fit_the_shipment_weight(situation):
    lines, data = situation
    for shipment in plan_allocation(lines, data).shipments:
        expected = sum(i.quantity * data.variants[i.variant_id].weight_grams for i in shipment.items)
        assert shipment.weight_grams == expected
        fitting = [r for r in data.rates[shipment.warehouse.id] if r.fits(expected)]
        assert bool(shipment.options) == bool(fitting)
        if fitting:
            assert shipment.cheapest.price == min(r.price for r in fitting)


# --- The same properties through the database ----------------------------------------------------


class Rollback(Exception):
    pass


@pytest.mark.django_db
@given(
    stock=st.lists(
        st.tuples(
            st.integers(0, 2),  # variant
            st.integers(0, 3),  # warehouse
            st.integers(0, 9),  # on hand
            st.integers(0, 9),  # allocated (capped at on hand)
        ),
        max_size=12,
    ),
    permissions=st.sets(st.tuples(st.integers(0, 3), st.integers(0, 1))),
    inactive=st.sets(st.integers(0, 3), max_size=2),
    quantities=st.lists(st.integers(1, 12), min_size=3, max_size=3),
    destination=st.sampled_from(["DE", "FR", "US"]),
)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_allocate_obeys_stock_permissions_and_activity_in_the_database(
    world, stock, permissions, inactive, quantities, destination
):
    try:
        with transaction.atomic():
            sellers = [world.silk, world.olive]
            warehouses = [world.cn_origin, world.it_origin, world.de_fra, world.us_lax]
            eu = ShippingZone.objects.get(code="eu")
            method = ShippingMethod.objects.get(code="regional")
            for w in warehouses:  # every warehouse ships everywhere in this test
                for zone in (eu, world.zones["north-am"]):
                    ShippingRate.objects.get_or_create(
                        method=method, warehouse=w, zone=zone, min_weight_grams=0,
                        defaults={"max_weight_grams": 100_000, "price": Money("5", "EUR")},
                    )  # fmt: skip
            for w in warehouses:
                w.sellers.clear()
            for w_index, s_index in permissions:
                warehouses[w_index].sellers.add(sellers[s_index])
            Warehouse.objects.filter(pk__in=[warehouses[i].pk for i in inactive]).update(active=False)
            variants = [make_product(sellers[i % 2], world.category, f"prop-{i}").variants.get() for i in range(3)]
            rows = {}
            for v_index, w_index, on_hand, allocated in stock:
                rows[(v_index, w_index)] = (on_hand, min(allocated, on_hand))
            for (v_index, w_index), (on_hand, allocated) in rows.items():
                Stock.objects.create(
                    variant=variants[v_index], warehouse=warehouses[w_index], on_hand=on_hand, allocated=allocated
                )
            lines = [Line(v.pk, q) for v, q in zip(variants, quantities, strict=True)]

            plan = allocate(lines, destination)

            usable = defaultdict(int)
            for (v_index, w_index), (on_hand, allocated) in rows.items():
                seller_ok = (w_index, v_index % 2) in permissions
                if seller_ok and w_index not in inactive:
                    usable[variants[v_index].pk] += on_hand - allocated
            by_pk = {v.pk: i for i, v in enumerate(variants)}
            for (variant_id, warehouse_id), units in plan.quantities().items():
                w_index = next(i for i, w in enumerate(warehouses) if w.pk == warehouse_id)
                on_hand, allocated = rows[(by_pk[variant_id], w_index)]
                assert units <= on_hand - allocated
                assert (w_index, by_pk[variant_id] % 2) in permissions and w_index not in inactive
            short = {i.variant_id: i.quantity for i in plan.shortfalls}
            for line in lines:
                assert short.get(line.variant_id, 0) == max(0, line.quantity - usable[line.variant_id])
            assert allocate(lines, destination) == plan
            raise Rollback
    except Rollback:
        pass
