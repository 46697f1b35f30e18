"""Payout runs: each seller is paid its payable balance (``payments.ledger``), once.

A run locks each seller's row in turn (pk order), sums the entries payable now per currency and,
for a positive balance, writes a ``Payout`` and its negative ``payout`` entry in the same
transaction: a second run, or a concurrent one, finds nothing left to pay. A negative balance (a
refund after a payout) is carried forward and netted by later sales.

Money moves after the commit, outside any lock: with ``settings.STRIPE_CONNECT_PAYOUTS`` on and a
seller connected (``Seller.stripe_account_id``), by a Stripe Connect transfer
(``payments.stripe_client.create_transfer``, idempotency key ``payout-<id>``: a retried transfer
moves money once). Otherwise the payout is "to be paid manually" and an operator marks it paid. A
transfer Stripe refuses fails the payout and a ``payout_reversal`` entry puts the amount back on
the balance; an ambiguous failure (network) leaves it pending, to be retried with the same key.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from djmoney.money import Money

from catalog.models import Seller
from marketplace.money import amount_string, round_money

from .exceptions import PaymentError
from .models import LedgerEntry, Payout

logger = logging.getLogger(__name__)


def _uses_stripe(seller: Seller) -> bool:
    return bool(settings.STRIPE_CONNECT_PAYOUTS and seller.stripe_account_id)


def sellers_with_entries() -> list[int]:
    return list(
        LedgerEntry.objects.filter(seller__isnull=False).values_list("seller_id", flat=True).distinct().order_by()
    )


@transaction.atomic
def open_payouts(seller_id: int, *, now: datetime | None = None, acting_user: Any = None) -> list[Payout]:
    """Pay the seller's payable balance in each currency: a Payout and its entry, or nothing."""
    seller = Seller.objects.select_for_update(of=("self",), no_key=True).get(pk=seller_id)
    now = now or timezone.now()  # read after the lock: a run that waited sees the one before it
    # Payouts (and their reversals) always count, whatever their date: a run that started before
    # another's payout must still see it, or the same balance would be paid twice.
    settled = Q(kind__in=[LedgerEntry.Kind.PAYOUT, LedgerEntry.Kind.PAYOUT_REVERSAL])
    rows = (
        LedgerEntry.objects.filter(seller=seller)
        .values("amount_currency")
        .annotate(payable=Sum("amount", filter=Q(payable_at__lte=now) | settled))
        .order_by("amount_currency")
    )
    method = Payout.Method.STRIPE_CONNECT if _uses_stripe(seller) else Payout.Method.MANUAL
    payouts = []
    for row in rows:
        payable = round_money(Money(row["payable"] or 0, row["amount_currency"]))  # SQLite sums as floats
        if payable.amount <= 0:
            continue  # nothing due, or a debit carried forward
        payout = Payout.objects.create(
            seller=seller,
            amount=payable,
            method=method,
            state=Payout.State.PENDING if method == Payout.Method.STRIPE_CONNECT else Payout.State.MANUAL,
            created_by=acting_user if getattr(acting_user, "is_authenticated", False) else None,
        )
        LedgerEntry.objects.create(
            key=f"payout:{payout.pk}",
            seller=seller,
            payout=payout,
            kind=LedgerEntry.Kind.PAYOUT,
            amount=-payable,
            payable_at=now,
        )
        payouts.append(payout)
    return payouts


def run_payouts(
    *, now: datetime | None = None, acting_user: Any = None, seller_ids: Iterable[int] | None = None
) -> list[Payout]:
    """One payout run over every seller (or ``seller_ids``); Stripe transfers after each commit."""
    payouts: list[Payout] = []
    for seller_id in sorted(seller_ids if seller_ids is not None else sellers_with_entries()):
        created = open_payouts(seller_id, now=now, acting_user=acting_user)
        for payout in created:
            if payout.method == Payout.Method.STRIPE_CONNECT:
                payout = send_payout(payout.pk)
            payouts.append(payout)
    return payouts


def send_payout(payout_id: int) -> Payout:
    """Make (or retry) the Stripe Connect transfer of a pending payout. Idempotent."""
    payout = Payout.objects.select_related("seller").get(pk=payout_id)
    if payout.state != Payout.State.PENDING or payout.method != Payout.Method.STRIPE_CONNECT:
        return payout
    from . import stripe_client  # written by the Stripe integration; imported only when used

    try:
        reference = stripe_client.create_transfer(
            payout.amount,
            payout.seller.stripe_account_id,
            idempotency_key=f"payout-{payout.pk}",
            metadata={"payout_id": str(payout.pk), "seller": payout.seller.slug},
        )
    except PaymentError as exc:
        if getattr(exc, "ambiguous", False):
            logger.warning("payout %s: transfer outcome unknown, retry later: %s", payout.pk, exc.message)
            return payout
        return _fail(payout.pk, exc.message)
    return _paid(payout.pk, str(reference))


@transaction.atomic
def _paid(payout_id: int, reference: str) -> Payout:
    payout = Payout.objects.select_for_update().get(pk=payout_id)
    if payout.state == Payout.State.PENDING:
        payout.state, payout.transfer_reference, payout.paid_at = Payout.State.PAID, reference[:255], timezone.now()
        payout.save(update_fields=["state", "transfer_reference", "paid_at", "updated_at"])
    return payout


@transaction.atomic
def _fail(payout_id: int, message: str) -> Payout:
    payout = Payout.objects.select_for_update().get(pk=payout_id)
    if payout.state != Payout.State.PENDING:
        return payout
    payout.state, payout.failure_message = Payout.State.FAILED, message[:255]
    payout.save(update_fields=["state", "failure_message", "updated_at"])
    LedgerEntry.objects.create(
        key=f"payout_reversal:{payout.pk}",
        seller_id=payout.seller_id,
        payout=payout,
        kind=LedgerEntry.Kind.PAYOUT_REVERSAL,
        amount=payout.amount,
        payable_at=timezone.now(),
    )
    logger.warning("payout %s failed: %s", payout.pk, message)
    return payout


@transaction.atomic
def mark_paid(payout_id: int, *, reference: str = "") -> Payout:
    """An operator paid a manual payout (bank transfer). Idempotent."""
    payout = Payout.objects.select_for_update().get(pk=payout_id)
    if payout.state == Payout.State.MANUAL:
        payout.state, payout.paid_at = Payout.State.PAID, timezone.now()
        payout.transfer_reference = reference[:255] or payout.transfer_reference
        payout.save(update_fields=["state", "paid_at", "transfer_reference", "updated_at"])
    return payout


# --- Report ----------------------------------------------------------------------------------------

REPORT_COLUMNS = [
    "payout",
    "created_at",
    "seller",
    "seller_name",
    "stripe_account",
    "currency",
    "amount",
    "method",
    "state",
    "transfer_reference",
    "paid_at",
]


def write_payout_report(stream: IO[str], payouts: Iterable[Payout]) -> None:
    """The operators' payout report: one row per payout, amounts with the currency's digits."""
    writer = csv.writer(stream)
    writer.writerow(REPORT_COLUMNS)
    for payout in payouts:
        writer.writerow(
            [
                payout.pk,
                payout.created_at.isoformat(),
                payout.seller.slug,
                payout.seller.name,
                payout.seller.stripe_account_id,
                payout.amount.currency.code,
                amount_string(payout.amount),
                payout.method,
                payout.state,
                payout.transfer_reference,
                payout.paid_at.isoformat() if payout.paid_at else "",
            ]
        )
