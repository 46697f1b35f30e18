"""The seller ledger and payouts: entries in each seller's currency at the rates locked on the order,
the invariant (entries == captured - refunded, per order, to the minor unit), payable after the
return window, payouts once, a refund after a payout as a debit, Stripe Connect behind a setting,
the operators' CSV report and the seller's balance page (own seller only)."""

from __future__ import annotations

import csv
import io
from contextlib import nullcontext
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from djmoney.money import Money

from catalog.models import Seller, SellerMember
from marketplace.fx.services import refresh_fx_rates
from marketplace.models import ManualRate
from orders.models import Order
from payments.exceptions import ProviderError
from payments.ledger import order_entries_total, seller_balances
from payments.models import LedgerEntry, Payment, Payout, Refund
from payments.payouts import run_payouts, send_payout
from payments.services import refund_payment
from tests.catalog.factories import UserFactory

from .money_world import deliver, pay, place, ship, shipments

pytestmark = pytest.mark.django_db

RATES = {"silk": Decimal("10"), "olive": Decimal("12.5"), "maple": Decimal("7.5")}


@pytest.fixture
def sellers(shop) -> dict[str, Seller]:
    found = {s.slug: s for s in Seller.objects.filter(slug__in=RATES)}
    for slug, rate in RATES.items():
        found[slug].commission_rate = rate
        found[slug].save(update_fields=["commission_rate"])
    return found


@pytest.fixture
def three_sellers(shop, buyer, sellers) -> Order:
    # CNY 100 x 2 (EUR 12.50 each), EUR 100, USD 100 (EUR 90.91): three currencies, two parcels
    return place(buyer, [(shop["wig"], 2), (shop["oil"], 1), (shop["syrup"], 1)])


def entries(order: Order, seller: Seller | None, kind: str) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(order=order, seller=seller, kind=kind))


def one(order: Order, seller: Seller | None, kind: str) -> LedgerEntry:
    (entry,) = entries(order, seller, kind)
    return entry


def refunded_total(payment: Payment) -> Money:
    succeeded = Refund.objects.filter(payment=payment, state=Refund.State.SUCCEEDED)
    return sum((r.amount for r in succeeded), Money(0, payment.amount.currency.code))


def assert_balanced(payment: Payment) -> None:
    """Per order, in the buyer's currency to the minor unit: the sellers' sale and refund entries
    (converted at the locked rates) + the commission and charges == captured - refunded."""
    payment.refresh_from_db()
    order = payment.order
    zero = Money(0, order.currency)
    rows = LedgerEntry.objects.filter(order=order)
    sellers_goods = sum((e.buyer_amount for e in rows.filter(seller__isnull=False, kind__in=["sale", "refund"])), zero)
    commission = sum(
        (e.buyer_amount for e in rows.filter(seller__isnull=False, kind__in=["commission", "commission_refund"])), zero
    )
    marketplace = sum((e.buyer_amount for e in rows.filter(seller__isnull=True)), zero)
    # the sellers' commission and the marketplace's cancel out: goods + the marketplace's share
    marketplace_commission = sum(
        (e.buyer_amount for e in rows.filter(seller__isnull=True, kind__in=["commission", "commission_refund"])), zero
    )
    assert marketplace_commission == -commission
    # what each seller is owed (sales and refunds less commission) + the marketplace's commission and
    # charges (shipping, duties, taxes, fees) is what the buyer paid, net of refunds
    assert sellers_goods + commission + marketplace == payment.captured - refunded_total(payment)
    assert order_entries_total(order) == payment.captured - payment.refunded


# --- Entries at capture -------------------------------------------------------------------------------


def test_capture_records_each_sellers_sale_and_commission_in_their_currency(
    three_sellers, sellers, scripted, django_capture_on_commit_callbacks
):
    order = three_sellers
    payment = pay(order, django_capture_on_commit_callbacks)
    silk, olive, maple = sellers["silk"], sellers["olive"], sellers["maple"]
    sale = one(order, silk, "sale")
    assert (sale.amount, sale.buyer_amount, sale.fx_rate) == (Money("200", "CNY"), Money("25", "EUR"), Decimal("0.125"))
    assert one(order, silk, "commission").amount == Money("-20", "CNY")
    assert one(order, silk, "commission").buyer_amount == Money("-2.50", "EUR")
    assert one(order, olive, "sale").amount == Money("100", "EUR")
    assert one(order, olive, "commission").amount == Money("-12.50", "EUR")
    # EUR 90.91 back to dollars at the locked 0.909090909091: USD 100.00 (rounded once)
    assert one(order, maple, "sale").amount == Money("100", "USD")
    assert one(order, maple, "sale").buyer_amount == Money("90.91", "EUR")
    assert one(order, maple, "commission").amount == Money("-7.50", "USD")
    assert one(order, maple, "commission").buyer_amount == Money("-6.82", "EUR")  # 6.81825
    assert one(order, None, "commission").amount == Money("21.82", "EUR")
    assert one(order, None, "charges").amount == payment.captured - order.goods
    assert order_entries_total(order) == payment.captured
    assert_balanced(payment)
    # nothing is payable before delivery
    assert all(e.payable_at is None for e in LedgerEntry.objects.all())
    # a replayed capture signal writes nothing twice
    from payments.ledger import record_capture

    assert record_capture(payment.pk) == []
    assert LedgerEntry.objects.count() == 8


def test_the_rates_locked_on_the_order_are_used_not_todays(
    shop, buyer, sellers, scripted, django_capture_on_commit_callbacks
):
    order = place(buyer, [(shop["wig"], 2)])
    # the yuan moves after the order was placed
    ManualRate.objects.filter(currency="CNY").update(units_per_eur=Decimal("9"))
    with django_capture_on_commit_callbacks(execute=True):
        refresh_fx_rates()
    pay(order, django_capture_on_commit_callbacks)
    assert one(order, sellers["silk"], "sale").amount == Money("200", "CNY")


# --- The invariant through refunds ------------------------------------------------------------------

# Amounts are in major units of EUR and USD; for JPY (no minor unit) they are multiplied by 100.
REFUND_SEQUENCES = {
    "amounts": [("amount", "33.33"), ("amount", "0.01"), ("amount", "57.77"), ("rest", None)],
    "lines": [("lines", {"wig-0": 1}), ("lines", {"syrup-0": 1}), ("amount", "3.03"), ("rest", None)],
    "lines_plus_shipping": [("lines_extra", ({"oil-0": 1}, "5.00")), ("rest", None)],
    "one_full_refund": [("rest", None)],
}


def do_refund(payment: Payment, step: tuple[str, Any], index: int, oncommit: Any) -> Refund:
    payment.refresh_from_db()
    order = payment.order
    scale = Decimal(100) if order.currency == "JPY" else Decimal(1)
    kind, value = step
    lines: list[dict[str, int]] = []
    if kind == "rest":
        amount = payment.refundable
    elif kind == "amount":
        amount = Money(Decimal(value) * scale, order.currency)
    else:
        quantities, extra = (value, "0") if kind == "lines" else value
        for sku, quantity in quantities.items():
            line = order.lines.get(sku=sku)
            lines.append({"id": line.pk, "quantity": quantity})
        value_of_lines = sum(
            (order.lines.get(pk=i["id"]).unit_price * i["quantity"] for i in lines), Money(0, order.currency)
        )
        amount = value_of_lines + Money(Decimal(extra) * scale, order.currency)
    with oncommit(execute=True):
        return refund_payment(payment.pk, amount, reason=f"step {index}", idempotency_key=f"r-{index}", lines=lines)


@pytest.mark.parametrize("currency", ["EUR", "JPY", "USD"])
@pytest.mark.parametrize("sequence", sorted(REFUND_SEQUENCES))
def test_entries_always_equal_captured_minus_refunded(
    shop, buyer, sellers, scripted, django_capture_on_commit_callbacks, currency, sequence
):
    order = place(buyer, [(shop["wig"], 3), (shop["oil"], 1), (shop["syrup"], 2)], currency=currency)
    payment = pay(order, django_capture_on_commit_callbacks)
    assert_balanced(payment)
    for index, step in enumerate(REFUND_SEQUENCES[sequence]):
        refund = do_refund(payment, step, index, django_capture_on_commit_callbacks)
        assert refund.state == Refund.State.SUCCEEDED
        assert_balanced(payment)
        # no seller is ever refunded more than they sold
        for seller in sellers.values():
            sold = sum((e.amount for e in entries(order, seller, "sale")), Money(0, seller.base_currency))
            back = sum((e.amount for e in entries(order, seller, "refund")), Money(0, seller.base_currency))
            assert Money(0, seller.base_currency) <= sold + back <= sold
    payment.refresh_from_db()
    assert payment.state == Payment.State.REFUNDED and order_entries_total(order) == Money(0, currency)
    # everything given back: each seller's account for this order is exactly zero, commission included
    for seller in sellers.values():
        net = LedgerEntry.objects.filter(order=order, seller=seller)
        assert sum((e.amount for e in net), Money(0, seller.base_currency)) == Money(0, seller.base_currency)


def test_a_refund_of_lines_goes_to_their_seller_and_commission_comes_back_proportionally(
    three_sellers, sellers, scripted, django_capture_on_commit_callbacks
):
    payment = pay(three_sellers, django_capture_on_commit_callbacks)
    refund = do_refund(payment, ("lines", {"wig-0": 1}), 0, django_capture_on_commit_callbacks)
    silk = sellers["silk"]
    assert [e.amount for e in entries(three_sellers, silk, "refund")] == [Money("-100", "CNY")]
    assert [e.amount for e in entries(three_sellers, silk, "commission_refund")] == [Money("10", "CNY")]
    assert not LedgerEntry.objects.filter(refund=refund, seller=sellers["olive"]).exists()
    assert not LedgerEntry.objects.filter(refund=refund, kind="refund", seller__isnull=True).exists()


# --- Payable after the return window, payouts --------------------------------------------------------


@pytest.fixture
def delivered(three_sellers, scripted, django_capture_on_commit_callbacks) -> Payment:
    payment = pay(three_sellers, django_capture_on_commit_callbacks)
    at = timezone.now() - timedelta(days=20)  # delivered 20 days ago: Germany's 14-day window is over
    for parcel in shipments(three_sellers):
        deliver(
            ship(parcel, django_capture_on_commit_callbacks, at=at - timedelta(days=2)),
            django_capture_on_commit_callbacks,
            at=at,
        )
    return payment


def balance(seller: Seller, now: Any) -> Any:
    (row,) = seller_balances(seller, now=now)
    return row


def test_a_sale_becomes_payable_after_delivery_and_the_return_window(
    three_sellers, sellers, scripted, django_capture_on_commit_callbacks
):
    payment = pay(three_sellers, django_capture_on_commit_callbacks)
    silk = sellers["silk"]
    assert balance(silk, timezone.now() + timedelta(days=100)).payable == Money("0", "CNY")  # not delivered
    parcels = shipments(three_sellers)
    at = timezone.now()
    deliver(ship(parcels[0], django_capture_on_commit_callbacks), django_capture_on_commit_callbacks, at=at)
    assert one(three_sellers, silk, "sale").payable_at is None  # one parcel still on its way
    deliver(ship(parcels[1], django_capture_on_commit_callbacks), django_capture_on_commit_callbacks, at=at)
    assert one(three_sellers, silk, "sale").payable_at == at + timedelta(days=14)  # Germany: 14 days
    assert balance(silk, at + timedelta(days=13)).payable == Money("0", "CNY")
    assert balance(silk, at + timedelta(days=13)).pending == Money("180", "CNY")
    assert balance(silk, at + timedelta(days=15)).payable == Money("180", "CNY")  # 200 - 10 %
    assert payment.pk


def test_a_payout_run_pays_each_payable_balance_once(delivered, sellers, settings):
    settings.STRIPE_CONNECT_PAYOUTS = False
    first = run_payouts()
    second = run_payouts()
    assert second == []
    amounts = {p.seller.slug: p.amount for p in first}
    assert amounts == {"silk": Money("180", "CNY"), "olive": Money("87.50", "EUR"), "maple": Money("92.50", "USD")}
    assert {p.state for p in first} == {Payout.State.MANUAL}  # to be paid by hand
    assert Payout.objects.count() == 3
    for seller in sellers.values():
        assert balance(seller, timezone.now()).total.amount == 0
    # the operator marks one paid
    from payments.payouts import mark_paid

    paid = mark_paid(first[0].pk, reference="BANK-1")
    assert paid.state == Payout.State.PAID and paid.paid_at and mark_paid(first[0].pk).transfer_reference == "BANK-1"


def test_a_refund_after_the_payout_is_a_debit_carried_forward(delivered, sellers, django_capture_on_commit_callbacks):
    payment = delivered
    run_payouts()
    do_refund(payment, ("lines", {"wig-0": 1}), 0, django_capture_on_commit_callbacks)
    silk = sellers["silk"]
    debit = balance(silk, timezone.now())
    assert debit.total == Money("-90", "CNY") and debit.payable == Money("-90", "CNY")  # -100 sale, +10 commission
    assert run_payouts(now=timezone.now() + timedelta(days=1)) == []  # nothing paid while in debit
    assert Payout.objects.filter(seller=silk).count() == 1


def test_stripe_connect_transfers_when_the_setting_is_on(delivered, sellers, settings, monkeypatch):
    settings.STRIPE_CONNECT_PAYOUTS = True
    Seller.objects.filter(slug="silk").update(stripe_account_id="acct_silk")
    calls = []

    def create_transfer(amount, destination, *, idempotency_key, metadata):
        calls.append((amount, destination, idempotency_key))
        return "tr_123"

    from payments import stripe_client

    monkeypatch.setattr(stripe_client, "create_transfer", create_transfer)
    made = {p.seller.slug: p for p in run_payouts()}
    silk_payout = made["silk"]
    assert silk_payout.state == Payout.State.PAID and silk_payout.transfer_reference == "tr_123"
    assert calls == [(Money("180", "CNY"), "acct_silk", f"payout-{silk_payout.pk}")]
    assert made["olive"].state == Payout.State.MANUAL  # not connected: paid by hand
    assert send_payout(silk_payout.pk).state == Payout.State.PAID and len(calls) == 1  # idempotent


def test_a_refused_transfer_puts_the_amount_back_and_an_ambiguous_one_is_retried(
    delivered, sellers, settings, monkeypatch
):
    settings.STRIPE_CONNECT_PAYOUTS = True
    Seller.objects.filter(slug__in=["silk", "olive"]).update(stripe_account_id="acct_x")
    from payments import stripe_client

    class Ambiguous(ProviderError):
        ambiguous = True

    answers = {"CNY": ProviderError("account closed"), "EUR": Ambiguous("timeout")}

    def create_transfer(amount, destination, *, idempotency_key, metadata):
        answer = answers.get(amount.currency.code)
        if isinstance(answer, Exception):
            raise answer
        return "tr_ok"

    monkeypatch.setattr(stripe_client, "create_transfer", create_transfer)
    made = {p.seller.slug: p for p in run_payouts()}
    assert made["silk"].state == Payout.State.FAILED and "account closed" in made["silk"].failure_message
    assert balance(sellers["silk"], timezone.now()).payable == Money("180", "CNY")  # back on the balance
    assert LedgerEntry.objects.filter(kind="payout_reversal", payout=made["silk"]).count() == 1
    assert made["olive"].state == Payout.State.PENDING
    answers["EUR"] = "ok"
    assert send_payout(made["olive"].pk).state == Payout.State.PAID
    assert balance(sellers["olive"], timezone.now()).total == Money("0", "EUR")


# --- Operators' report, the seller's balance page --------------------------------------------------------


def test_the_payout_report_is_a_csv_for_staff_only(client, delivered):
    run_payouts()
    url = reverse("admin:payments_payout_report")
    assert client.get(url).status_code == 302  # anonymous: the admin login
    client.force_login(UserFactory())
    assert client.get(url).status_code == 302  # not staff
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {(r["seller"], r["currency"], r["amount"], r["state"]) for r in rows} == {
        ("silk", "CNY", "180.00", "manual"),
        ("olive", "EUR", "87.50", "manual"),
        ("maple", "USD", "92.50", "manual"),
    }
    # the run button works from the admin too, and runs nothing twice
    assert client.post(reverse("admin:payments_payout_run")).status_code == 302
    assert Payout.objects.count() == 3


def test_the_seller_sees_their_own_balance_and_statement_only(client, delivered, sellers):
    payment = delivered
    run_payouts()
    silk_user, olive_user = UserFactory(), UserFactory()
    SellerMember.objects.create(user=silk_user, seller=sellers["silk"])
    SellerMember.objects.create(user=olive_user, seller=sellers["olive"])
    url = reverse("seller-balance:balance")
    assert client.get(url).status_code == 302  # anonymous: login
    client.force_login(payment.order.buyer)
    assert client.get(url).status_code == 403  # a buyer acts for no seller
    client.force_login(silk_user)
    page = client.get(url)
    assert page.status_code == 200
    assert b'data-testid="balance-total" data-amount="0.00" data-currency="CNY"' in page.content
    assert b'data-testid="entry-amount" data-amount="200.00" data-currency="CNY"' in page.content
    assert page.content.count(b'data-testid="ledger-entry"') == 3  # sale, commission, payout: nobody else's
    assert b'data-testid="entry-amount" data-amount="100.00" data-currency="USD"' not in page.content
    assert b'data-testid="portal-balance"' in page.content
    statement = client.get(reverse("seller-balance:statement-csv")).content.decode()
    kinds = [row["kind"] for row in csv.DictReader(io.StringIO(statement))]
    assert sorted(kinds) == ["commission", "payout", "sale"]
    silk_payout = Payout.objects.get(seller=sellers["silk"])
    olive_payout = Payout.objects.get(seller=sellers["olive"])
    assert client.get(reverse("seller-balance:payout", args=[silk_payout.pk])).status_code == 200
    assert client.get(reverse("seller-balance:payout", args=[olive_payout.pk])).status_code == 404
    client.force_login(olive_user)
    assert client.get(reverse("seller-balance:payout", args=[olive_payout.pk])).status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_payout_runs_in_parallel_pay_each_seller_once(shop, buyer, sellers, scripted):
    import threading

    from django.db import connection

    from payments.services import capture_payment, start_payment

    from .money_world import context, report

    order = place(buyer, [(shop["wig"], 2), (shop["oil"], 1), (shop["syrup"], 1)])
    payment = start_payment(order, method_code="scripted", ctx=context(order, market=False), return_url="/r/")
    capture_payment(payment.pk)  # autocommit: the ledger's receiver runs at once
    at = timezone.now() - timedelta(days=20)
    real_commits = lambda **kw: nullcontext()  # noqa: E731  (no test transaction: commits are real)
    for parcel in shipments(order):
        ship(parcel, real_commits, at=at - timedelta(days=1))
        report(parcel, real_commits, ("dlv", "delivered", at))
    assert LedgerEntry.objects.filter(kind="sale", payable_at__isnull=False).count() == 3
    barrier = threading.Barrier(2)
    made: list[int] = []

    def run() -> None:
        try:
            barrier.wait()
            made.extend(p.pk for p in run_payouts())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 3 and Payout.objects.count() == 3
    for seller in sellers.values():
        assert balance(seller, timezone.now()).total.amount == 0
