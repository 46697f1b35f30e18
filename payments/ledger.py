"""The seller ledger: what each seller is owed for each captured payment, in the seller's currency.

Entries (``LedgerEntry``), written once each (unique ``key``), under the payment's row lock:

- on capture, per seller: ``sale`` = the seller's lines as the buyer paid them, converted back to
  the seller's currency with the rate locked on the order (``OrderLine.fx_rate``: buyer units per
  seller unit, margin included), never today's rate; ``commission`` = -sale x the seller's
  commission rate, rounded once (in each currency). On the marketplace's account (no seller, buyer
  currency): the ``commission`` it earns and the ``charges`` it collected for others (shipping,
  duties, taxes, payment fees: captured minus the goods).
- on each succeeded refund: a ``refund`` per seller and one for the marketplace's charges, and the
  commission given back in proportion (``commission_refund``: the seller's remaining commission x
  refunded share of their remaining goods, so a seller refunded in full owes no commission). The
  split: by the refunded lines when the refund names them (their value goes to their sellers; any
  amount above it, e.g. shipping, is the marketplace's), else pro rata over what remains of the
  payment. The refund that empties the payment gives every seller back exactly what remains.
- payouts (``payments.payouts``): a negative ``payout`` entry; a failed transfer is reversed.

Invariant, per order, in the buyer's currency to the minor unit: the sum of every entry's
``buyer_amount`` (sellers' sales, refunds and commission; the marketplace's commission and
charges) equals captured minus refunded. Seller entries carry both amounts and the rate used.

Payable: entries wait (``payable_at`` empty) until every shipment of the order is delivered, then
become payable ``Market.return_window_days`` after the last delivery. A refund follows its sale: it
waits while the sale waits, and is payable at once (a debit) once the sale is payable or paid out.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone
from djmoney.money import Money

from catalog.models import Seller
from logistics.models import Shipment
from marketplace.markets import market_for_country
from marketplace.models import Market
from marketplace.money import round_money

from .models import LedgerEntry, Payment, Refund

Kind = LedgerEntry.Kind
DEFAULT_RETURN_WINDOW_DAYS = 14  # Market.return_window_days' default, for an order with no market left
RATE_PLACES = Decimal("0.000000000001")  # LedgerEntry.fx_rate has 12 decimal places


def _order_model() -> Any:
    """``orders.Order`` through the payment's foreign key: payments never imports orders' code."""
    return Payment._meta.get_field("order").related_model


def _lock_payment(payment_id: int) -> Payment:
    return Payment.objects.select_for_update(of=("self",), no_key=True).select_related("order").get(pk=payment_id)


# --- When entries become payable -------------------------------------------------------------------


def order_payable_at(order: Any) -> datetime | None:
    """The last delivery of the order's (not cancelled) shipments plus the market's return window;
    None while a shipment is not delivered (or the order has none)."""
    delivered = list(
        Shipment.objects.filter(order_number=order.number)
        .exclude(status=Shipment.Status.CANCELLED)
        .values_list("delivered_at", flat=True)
    )
    if not delivered or any(when is None for when in delivered):
        return None
    market = market_for_country(str(order.country)) or Market.objects.filter(country=str(order.country)).first()
    days = market.return_window_days if market is not None else DEFAULT_RETURN_WINDOW_DAYS
    return max(delivered) + timedelta(days=days)


def _refund_payable_at(order: Any, now: datetime) -> datetime | None:
    when = order_payable_at(order)
    if when is None or when > now:
        return when
    return now


def mark_payable(order_number: str) -> int:
    """The order's shipments are all delivered: its waiting entries get their payable date.
    Safe to call on every delivery (does nothing until the last one, then nothing twice)."""
    order = _order_model().objects.filter(number=order_number).first()
    if order is None:
        return 0
    when = order_payable_at(order)
    if when is None:
        return 0
    return LedgerEntry.objects.filter(order=order, payable_at__isnull=True).update(payable_at=when)


# --- Capture ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SellerSale:
    seller: Seller
    goods: Money  # buyer currency
    seller_goods: Money  # seller currency, at the locked rate
    fx_rate: Decimal


def _line_rate(line: Any, buyer_currency: str) -> Decimal:
    """Buyer units per seller unit, as locked when the order was placed."""
    if line.unit_price_seller.currency.code == buyer_currency:
        return Decimal(1)
    if line.fx_rate and line.fx_rate > 0:
        return Decimal(line.fx_rate)
    return line.unit_price.amount / line.unit_price_seller.amount  # no rate recorded: the prices' ratio


def seller_sales(order: Any) -> list[SellerSale]:
    """Per seller (sub-order), the goods as the buyer paid them and converted back at the locked rates."""
    buyer_currency = order.currency
    sales = []
    for sub_order in order.sub_orders.select_related("seller").prefetch_related("lines").order_by("pk"):
        lines = list(sub_order.lines.all())
        if not lines:
            continue
        seller_currency = lines[0].unit_price_seller.currency.code
        goods = sum((line.line_total for line in lines), Money(0, buyer_currency))
        rates = {_line_rate(line, buyer_currency) for line in lines}
        unrounded = sum((line.line_total.amount / _line_rate(line, buyer_currency) for line in lines), Decimal(0))
        seller_goods = round_money(Money(unrounded, seller_currency))  # rounded once
        if len(rates) == 1:
            rate = rates.pop()
        else:
            rate = goods.amount / seller_goods.amount if seller_goods.amount else Decimal(0)
        sales.append(SellerSale(sub_order.seller, goods, seller_goods, rate.quantize(RATE_PLACES)))
    return sales


def _percent(money: Money, percent: Decimal) -> Money:
    return round_money(money * (Decimal(percent) / Decimal(100)))


def _entry(key: str, **fields: Any) -> LedgerEntry | None:
    """Write one entry; None when an amount is zero (nothing moved)."""
    if fields["amount"].amount == 0 and (fields.get("buyer_amount") is None or fields["buyer_amount"].amount == 0):
        return None
    return LedgerEntry.objects.create(key=key, **fields)


def record_capture(payment_id: int) -> list[LedgerEntry]:
    """The entries of a captured payment. Idempotent: a second call writes nothing."""
    try:
        return _record_capture(payment_id)
    except IntegrityError:  # a concurrent call wrote them first
        return []


@transaction.atomic
def _record_capture(payment_id: int) -> list[LedgerEntry]:
    payment = _lock_payment(payment_id)
    if payment.captured is None or payment.captured.amount <= 0:
        return []
    if LedgerEntry.objects.filter(payment=payment, refund__isnull=True).exists():
        return []
    order = payment.order
    payable_at = order_payable_at(order)
    common = {"order": order, "payment": payment, "payable_at": payable_at}
    entries: list[LedgerEntry | None] = []
    goods_total = Money(0, order.currency)
    commission_total = Money(0, order.currency)
    for sale in seller_sales(order):
        rate = sale.seller.commission_rate
        commission, seller_commission = _percent(sale.goods, rate), _percent(sale.seller_goods, rate)
        goods_total += sale.goods
        commission_total += commission
        seller = {"seller": sale.seller, "fx_rate": sale.fx_rate}
        entries.append(
            _entry(
                f"sale:{payment.pk}:{sale.seller.pk}",
                kind=Kind.SALE,
                amount=sale.seller_goods,
                buyer_amount=sale.goods,
                **seller,
                **common,
            )
        )
        entries.append(
            _entry(
                f"commission:{payment.pk}:{sale.seller.pk}",
                kind=Kind.COMMISSION,
                amount=-seller_commission,
                buyer_amount=-commission,
                **seller,
                **common,
            )
        )
    marketplace = {"seller": None, "fx_rate": Decimal(1)}
    entries.append(
        _entry(
            f"commission:{payment.pk}:marketplace",
            kind=Kind.COMMISSION,
            amount=commission_total,
            buyer_amount=commission_total,
            **marketplace,
            **common,
        )
    )
    # What the buyer paid beyond the goods (shipping, duties, taxes, fees). A capture below the
    # goods (a partial capture) makes it negative: the marketplace, not the sellers, bears it.
    charges = round_money(payment.captured) - goods_total
    entries.append(
        _entry(
            f"charges:{payment.pk}:marketplace",
            kind=Kind.CHARGES,
            amount=charges,
            buyer_amount=charges,
            **marketplace,
            **common,
        )
    )
    return [e for e in entries if e is not None]


# --- Refunds ------------------------------------------------------------------------------------------


@dataclass
class Position:
    """What remains of one seller's part of an order: goods and commission, in both currencies."""

    seller: Seller | None
    goods: Money
    seller_goods: Money
    commission: Money  # still charged (positive)
    seller_commission: Money
    fx_rate: Decimal


def _positions(order: Any) -> dict[int, Position]:
    positions: dict[int, Position] = {}
    rows = LedgerEntry.objects.filter(order=order, seller__isnull=False).select_related("seller").order_by("pk")
    for entry in rows:
        pos = positions.get(entry.seller_id)
        if pos is None:
            zero_b, zero_s = Money(0, order.currency), Money(0, entry.amount.currency.code)
            pos = positions[entry.seller_id] = Position(
                entry.seller, zero_b, zero_s, zero_b, zero_s, entry.fx_rate or Decimal(1)
            )
        if entry.kind in (Kind.SALE, Kind.REFUND):
            pos.goods += entry.buyer_amount
            pos.seller_goods += entry.amount
        elif entry.kind in (Kind.COMMISSION, Kind.COMMISSION_REFUND):
            pos.commission -= entry.buyer_amount
            pos.seller_commission -= entry.amount
        if entry.kind == Kind.SALE:
            pos.fx_rate = entry.fx_rate or Decimal(1)
    return positions


def _pro_rata(total: Money, weights: dict[int, Money]) -> dict[int, Money]:
    """``total`` split in proportion to ``weights``, each rounded; the sum never exceeds ``total``."""
    weight_sum = sum((w.amount for w in weights.values()), Decimal(0))
    if weight_sum <= 0:
        return {k: Money(0, total.currency.code) for k in weights}
    shares = {k: round_money(total * (w.amount / weight_sum)) for k, w in weights.items()}
    excess = sum((s.amount for s in shares.values()), Decimal(0)) - total.amount
    if excess > 0 and shares:
        largest = max(shares, key=lambda k: shares[k].amount)
        shares[largest] = Money(shares[largest].amount - excess, total.currency.code)
    return shares


def _refunded_line_values(order: Any, lines: list[dict[str, int]]) -> dict[int, Money]:
    """Per seller, the buyer-currency value of the refunded lines (unit price x quantity)."""
    quantities = {int(item["id"]): int(item["quantity"]) for item in lines if int(item.get("quantity", 0)) > 0}
    values: dict[int, Money] = defaultdict(lambda: Money(0, order.currency))
    for line in order.lines.filter(pk__in=list(quantities)).select_related("sub_order"):
        quantity = min(quantities[line.pk], line.quantity)
        values[line.sub_order.seller_id] += round_money(line.unit_price * quantity)
    return dict(values)


def _shares(refund: Refund, payment: Payment, order: Any, positions: dict[int, Position]) -> dict[int, Money]:
    """The buyer-currency part of ``refund`` taken from each seller (the rest is the marketplace's)."""
    amount = round_money(refund.amount)
    refunded = Refund.objects.filter(payment=payment, state=Refund.State.SUCCEEDED).aggregate(total=Sum("amount"))
    final = round_money(Money(refunded["total"] or 0, amount.currency.code)) >= round_money(payment.captured)
    remaining = {sid: pos.goods for sid, pos in positions.items()}
    if final:
        return remaining
    if refund.lines:
        values = {sid: min(v, remaining.get(sid, v)) for sid, v in _refunded_line_values(order, refund.lines).items()}
        if sum((v.amount for v in values.values()), Decimal(0)) <= amount.amount:
            return values
        return _pro_rata(amount, values)
    left = LedgerEntry.objects.filter(order=order, payment=payment).aggregate(total=Sum("buyer_amount"))["total"]
    left = round_money(Money(left or 0, order.currency))
    weights = dict(remaining)
    if left.amount > 0:
        # Over what remains of the payment, the marketplace's charges included.
        weights[0] = left - sum(remaining.values(), Money(0, order.currency))
    shares = _pro_rata(amount, weights)
    shares.pop(0, None)
    return {sid: min(share, remaining[sid]) for sid, share in shares.items()}


def record_refund(refund_id: int) -> list[LedgerEntry]:
    """The entries of a succeeded refund. Idempotent: a second call writes nothing."""
    try:
        return _record_refund(refund_id)
    except IntegrityError:
        return []


@transaction.atomic
def _record_refund(refund_id: int) -> list[LedgerEntry]:
    refund = Refund.objects.get(pk=refund_id)
    if refund.state != Refund.State.SUCCEEDED:
        return []
    payment = _lock_payment(refund.payment_id)
    if LedgerEntry.objects.filter(refund=refund).exists():
        return []
    if not LedgerEntry.objects.filter(payment=payment, refund__isnull=True).exists():
        _record_capture(payment.pk)  # the capture's entries first (its receiver failed or came late)
    order = payment.order
    now = timezone.now()
    common = {"order": order, "payment": payment, "refund": refund, "payable_at": _refund_payable_at(order, now)}
    positions = _positions(order)
    shares = _shares(refund, payment, order, positions)
    entries: list[LedgerEntry | None] = []
    sellers_total = Money(0, order.currency)
    commission_back_total = Money(0, order.currency)
    for seller_id, share in sorted(shares.items()):
        pos = positions[seller_id]
        if share.amount <= 0:
            continue
        whole = share >= pos.goods  # the seller's remaining goods are refunded in full
        if whole or pos.seller_goods.amount <= 0:
            share, seller_share = pos.goods, pos.seller_goods
            back, seller_back = pos.commission, pos.seller_commission
        else:
            converted = round_money(Money(share.amount / pos.fx_rate, pos.seller_goods.currency.code))
            seller_share = min(converted, pos.seller_goods)
            back = min(round_money(pos.commission * (share.amount / pos.goods.amount)), pos.commission)
            seller_back = min(
                round_money(pos.seller_commission * (seller_share.amount / pos.seller_goods.amount)),
                pos.seller_commission,
            )
        sellers_total += share
        commission_back_total += back
        seller = {"seller": pos.seller, "fx_rate": pos.fx_rate}
        entries.append(
            _entry(
                f"refund:{refund.pk}:{seller_id}",
                kind=Kind.REFUND,
                amount=-seller_share,
                buyer_amount=-share,
                **seller,
                **common,
            )
        )
        entries.append(
            _entry(
                f"commission_refund:{refund.pk}:{seller_id}",
                kind=Kind.COMMISSION_REFUND,
                amount=seller_back,
                buyer_amount=back,
                **seller,
                **common,
            )
        )
    marketplace = {"seller": None, "fx_rate": Decimal(1)}
    entries.append(
        _entry(
            f"commission_refund:{refund.pk}:marketplace",
            kind=Kind.COMMISSION_REFUND,
            amount=-commission_back_total,
            buyer_amount=-commission_back_total,
            **marketplace,
            **common,
        )
    )
    rest = round_money(refund.amount) - sellers_total
    entries.append(
        _entry(
            f"refund:{refund.pk}:marketplace",
            kind=Kind.REFUND,
            amount=-rest,
            buyer_amount=-rest,
            **marketplace,
            **common,
        )
    )
    return [e for e in entries if e is not None]


# --- Reading ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    currency: str
    total: Money  # everything recorded, payouts included
    payable: Money  # what a payout run would pay now (negative: a debit carried forward)
    pending: Money  # waiting for delivery and the return window


def seller_balances(seller: Seller, *, now: datetime | None = None) -> list[Balance]:
    now = now or timezone.now()
    rows = (
        LedgerEntry.objects.filter(seller=seller)
        .values("amount_currency")
        .annotate(total=Sum("amount"), payable=Sum("amount", filter=Q(payable_at__lte=now)))
        .order_by("amount_currency")
    )
    balances = []
    for row in rows:
        code = row["amount_currency"]
        total, payable = Money(row["total"] or 0, code), Money(row["payable"] or 0, code)
        balances.append(Balance(code, round_money(total), round_money(payable), round_money(total - payable)))
    return balances


def seller_statement(seller: Seller) -> QuerySet[LedgerEntry]:
    """The seller's entries, newest first, with what the statement shows."""
    return (
        LedgerEntry.objects.filter(seller=seller)
        .select_related("order", "payout", "refund")
        .order_by("-created_at", "-pk")
    )


def order_entries_total(order: Any) -> Money:
    """The sum of the order's entries in the buyer's currency (the invariant's left side)."""
    total = LedgerEntry.objects.filter(order=order).aggregate(total=Sum("buyer_amount"))["total"]
    return round_money(Money(total or 0, order.currency))  # SQLite sums decimals as floats: back to minor units
