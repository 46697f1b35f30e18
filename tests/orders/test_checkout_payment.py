"""Checkout hands over to a payment method: the choice among the registry's methods for the market,
currency and amount; the method's fee in the quote and the order; the delivery option per shipment;
placing -> paying -> retrying; what payments tell the order (confirm, extend the reservation); and
an expired order's payment. The demo gateway plays the provider (no network)."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from djmoney.money import Money

from logistics.models import Shipment, ShippingMethod, Stock
from marketplace.fx.services import refresh_fx_rates
from marketplace.markets import clear_market_cache
from marketplace.models import ManualRate, Market
from marketplace.money import currency_digits
from orders.models import Cart, CartLine, Checkout, Order, StockReservation
from orders.services import (
    Address,
    expire_unpaid_order,
    extend_reservation,
    pay_order,
    payment_offers,
    place_order,
    start_checkout,
)
from orders.tasks import expire_unpaid_orders
from payments.amounts import charge_quantum, from_minor_units, to_minor_units
from payments.base import PaymentContext, ProviderResult
from payments.demo_gateway import DemoTransaction
from payments.methods.demo import DemoCard
from payments.models import Payment, PaymentEvent, Refund
from payments.services import apply_result
from tests.catalog.factories import UserFactory
from tests.logistics.world import put

from .conftest import ADDRESS_DE

pytestmark = pytest.mark.django_db

EUR = "EUR"
VALID_CARD = {"expiry": "12/39", "cvc": "123"}


def eur(amount: str) -> Money:
    return Money(amount, EUR)


def fill(buyer: Any, *pairs: tuple[Any, int]) -> Cart:
    cart = Cart.objects.create(user=buyer)
    for variant, quantity in pairs:
        CartLine.objects.create(cart=cart, variant=variant, quantity=quantity)
    return cart


def signed_in(client: Any, buyer: Any, currency: str = EUR) -> Any:
    client.force_login(buyer)
    client.cookies["currency"] = currency
    return client


def quote_page(client: Any) -> str:
    return client.get("/en/checkout/").content.decode()


def radios(page: str, testid: str) -> list[str]:
    return re.findall(rf'value="([^"]+)" data-testid="{testid}"', page)


def checked(page: str, testid: str) -> list[str]:
    return re.findall(rf'value="([^"]+)" data-testid="{testid}"[^>]* checked', page)


def amount_of(page: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}" data-amount="([^"]+)"', page)
    assert match, testid
    return match[1]


def stock_state() -> list[tuple[int, int]]:
    return list(Stock.objects.order_by("pk").values_list("on_hand", "allocated"))


def set_market(country: str = "DE", **fields: Any) -> None:
    Market.objects.filter(country=country).update(**fields)
    clear_market_cache()


@pytest.fixture
def oil_checkout(client: Any, shop: dict[str, Any], buyer: Any) -> Checkout:
    """EUR 100 of oil from Milan to Berlin: shipping EUR 7.00 (DDP), VAT 19 % = EUR 20.33, total EUR 127.33."""
    fill(buyer, (shop["oil"], 1))
    signed_in(client, buyer).post("/en/checkout/", ADDRESS_DE)
    return Checkout.objects.get()


def place(client: Any, checkout: Checkout, **data: Any) -> Any:
    return client.post("/en/checkout/place/", {"token": checkout.token, **data})


@pytest.fixture
def commit(django_capture_on_commit_callbacks: Any) -> Any:
    """Run what a request queued for after its commit (payments' signals) when it ends, as in
    production: ``with commit(): client.get(...)``. The tests' transaction is never committed."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def pay_at_gateway(client: Any, url: str, number: str, commit: Any) -> Any:
    """The buyer fills the demo card form, then follows the gateway back to the shop."""
    back = client.post(url, {"number": number, **VALID_CARD})
    assert back.status_code == 302 and "/payment/return/" in back.url, back.content[:300]
    with commit():
        return client.get(back.url, follow=True)


# --- Which methods, at what fee -------------------------------------------------------------------


def test_checkout_offers_the_markets_methods_that_fit_the_currency(client, oil_checkout):
    page = quote_page(client)
    assert radios(page, "payment-method") == ["card", "alipay", "wechat_pay"]  # no GrabPay in EUR to Germany
    assert checked(page, "payment-method") == ["card"]  # the first one, preselected
    assert 'name="csrfmiddlewaretoken"' in page

    set_market(payment_methods=["card"])
    assert radios(quote_page(client), "payment-method") == ["card"]

    set_market(payment_methods=[])
    page = quote_page(client)
    assert radios(page, "payment-method") == [] and "No payment method is available" in page
    before = stock_state()
    response = place(client, oil_checkout, payment_method="card")
    assert response.status_code == 302 and not Order.objects.exists() and stock_state() == before


def test_methods_are_filtered_by_amount():
    """GrabPay in Singapore dollars, within the wallet's limits only."""
    market = Market(country="SG", currency="SGD", payment_methods=["card", "grabpay"])

    def codes(amount: str) -> list[str]:
        ctx = PaymentContext(market=market, country="SG", currency="SGD", amount=Money(amount, "SGD"))
        return [offer.code for offer in payment_offers(ctx, due_at_door=Money(0, "SGD"))]

    assert codes("120") == ["card", "grabpay"]
    assert codes("5000") == ["card", "grabpay"]
    assert codes("5000.01") == ["card"]
    assert codes("0.99") == ["card"]


def test_the_methods_fee_is_in_the_quote_to_the_cent_and_changing_it_recomputes(client, oil_checkout):
    quote = oil_checkout.quote
    assert (
        Decimal(quote["total"]),
        Decimal(quote["fees"]),
        quote["payment_method"],
        Decimal(quote["payment_fee"]),
    ) == (
        Decimal("127.33"),
        0,
        "card",
        0,
    )
    page = quote_page(client)
    assert 'data-testid="payment-method-fee" data-amount="1.27"' in page  # Alipay: 1 % of EUR 127.33

    response = place(client, oil_checkout, payment_method="alipay", update="1")

    assert response.url == "/en/checkout/" and not Order.objects.exists()
    oil_checkout.refresh_from_db()
    assert (oil_checkout.payment_method, Decimal(oil_checkout.quote["payment_fee"])) == ("alipay", Decimal("1.27"))
    page = quote_page(client)
    assert amount_of(page, "quote-fees") == "1.27" and amount_of(page, "quote-total") == "128.60"
    assert amount_of(page, "quote-taxes") == "20.33" and amount_of(page, "quote-goods") == "100.00"
    assert checked(page, "payment-method") == ["alipay"]

    # back to the card: the fee goes
    place(client, oil_checkout, payment_method="card", update="1")
    assert amount_of(quote_page(client), "quote-total") == "127.33"


def test_placing_with_a_new_method_shows_the_new_total_first(client, oil_checkout):
    response = place(client, oil_checkout, payment_method="wechat_pay")
    assert response.url == "/en/checkout/" and not Order.objects.exists()
    assert "Your choices changed the total" in client.get("/en/checkout/").content.decode()

    response = place(client, oil_checkout, payment_method="wechat_pay")

    order = Order.objects.get()
    assert (order.total, order.fees, order.payment_fee, order.payment_method) == (
        eur("128.60"),
        eur("1.27"),
        eur("1.27"),
        "wechat_pay",
    )
    payment = Payment.objects.get()
    assert (payment.method, payment.amount) == ("wechat_pay", order.total)
    assert response.url == f"/en/pay/demo/{payment.provider_reference}/"  # the wallet's QR page
    assert 'data-testid="wallet-qr"' in client.get(response.url).content.decode()


@pytest.mark.parametrize("tampered", ["grabpay", "bitcoin", "cod ", ""])
def test_a_tampered_method_is_refused_and_posted_amounts_are_ignored(client, oil_checkout, tampered):
    before = stock_state()
    response = place(client, oil_checkout, payment_method=tampered, total="0.01", fees="0", amount="1")
    if tampered:
        assert response.url == "/en/checkout/" and not Order.objects.exists() and stock_state() == before
        assert "This payment method is not available" in client.get("/en/checkout/").content.decode()
        oil_checkout.refresh_from_db()
        assert oil_checkout.payment_method == "card" and Decimal(oil_checkout.quote["total"]) == Decimal("127.33")
        return
    # no method posted: the quote's method, and the quote's total
    order = Order.objects.get()
    assert order.total == eur("127.33") and Payment.objects.get().amount == eur("127.33")


def test_a_method_no_longer_offered_when_placing_recomputes_instead_of_charging(client, oil_checkout):
    place(client, oil_checkout, payment_method="alipay", update="1")
    set_market(payment_methods=["card"])
    response = place(client, oil_checkout, payment_method="alipay")
    assert response.url == "/en/checkout/" and not Order.objects.exists()
    assert Payment.objects.count() == 0


# --- Paying: decline, retry, double submit ---------------------------------------------------------


def test_a_declined_card_then_a_successful_retry_one_order_one_captured_payment(client, oil_checkout, shop, commit):
    response = place(client, oil_checkout)
    order = Order.objects.get()

    page = pay_at_gateway(client, response.url, "4000000000000002", commit).content.decode()

    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    assert Stock.objects.get(variant=shop["oil"]).allocated == 1  # still reserved
    assert "Your card was declined." in page and 'data-testid="form-error"' in page
    assert 'data-testid="payment-state" data-state="failed"' in page
    assert 'data-testid="pay-again-form"' in page and radios(page, "payment-method") == ["card", "alipay", "wechat_pay"]

    retry = client.post(f"/en/orders/{order.number}/pay/", {"payment_method": "card", "amount": "0.01"})
    second = Payment.objects.order_by("-pk").first()
    assert retry.url == f"/en/pay/demo/{second.provider_reference}/"
    page = pay_at_gateway(client, retry.url, "4242424242424242", commit).content.decode()

    order.refresh_from_db()
    assert order.status == Order.Status.CONFIRMED and order.sub_orders.get().status == Order.Status.CONFIRMED
    assert "Thank you: your payment went through." in page
    assert 'data-testid="payment-state" data-state="captured"' in page and 'data-testid="pay-again-form"' not in page
    assert Order.objects.count() == 1
    assert list(Payment.objects.order_by("pk").values_list("state", flat=True)) == ["failed", "captured"]
    assert Payment.objects.get(state="captured").captured == order.total == eur("127.33")
    assert Stock.objects.get(variant=shop["oil"]).allocated == 1
    assert StockReservation.objects.get().released_at is None

    # paying again now starts nothing
    client.post(f"/en/orders/{order.number}/pay/", {"payment_method": "alipay"})
    assert Payment.objects.count() == 2 and DemoTransaction.objects.count() == 2


def test_a_retry_with_another_method_charges_its_fee_exactly(client, oil_checkout, commit):
    response = place(client, oil_checkout)
    order = Order.objects.get()
    pay_at_gateway(client, response.url, "4000000000009995", commit)  # insufficient funds

    retry = client.post(f"/en/orders/{order.number}/pay/", {"payment_method": "alipay"})

    order.refresh_from_db()
    assert (order.total, order.fees, order.payment_method) == (eur("128.60"), eur("1.27"), "alipay")
    payment = Payment.objects.get(state="requires_action")
    assert payment.amount == order.total and retry.url == payment.next_action["url"]
    reference = payment.provider_reference
    back = client.post(f"/en/pay/demo/{reference}/decision/", {"decision": "approve", "source": "page"})
    client.get(back.url)
    payment.refresh_from_db()
    assert payment.state == "captured" and payment.captured == eur("128.60")


def test_retry_refuses_a_method_not_offered(client, oil_checkout, commit):
    response = place(client, oil_checkout)
    order = Order.objects.get()
    pay_at_gateway(client, response.url, "4000000000000002", commit)
    page = client.post(f"/en/orders/{order.number}/pay/", {"payment_method": "grabpay"}, follow=True)
    assert "This payment method is not available" in page.content.decode()
    assert Payment.objects.count() == 1 and Order.objects.get().total == eur("127.33")


def test_double_submit_gives_one_order_and_one_payment(client, oil_checkout):
    first = place(client, oil_checkout, payment_method="card")
    second = place(client, oil_checkout, payment_method="card")
    assert first.url == second.url
    assert Order.objects.count() == 1 and Payment.objects.count() == 1 and DemoTransaction.objects.count() == 1
    assert StockReservation.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_parallel_submits_give_one_order_and_one_payment(shop, buyer, settings):
    settings.PAYMENT_METHODS = {"card": "payments.methods.demo.DemoCard"}
    cart = fill(buyer, (shop["oil"], 1))
    checkout = start_checkout(cart, buyer=buyer, address=Address(**ADDRESS_DE), currency=EUR, language="en")
    barrier = threading.Barrier(4)
    seen: list[int] = []

    def submit() -> None:
        try:
            barrier.wait()
            order = place_order(checkout.token, buyer=buyer)
            seen.append(pay_order(order, method_code="card", return_url="http://testserver/r/").pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 4 and len(set(seen)) == 1
    assert Order.objects.count() == 1 and Payment.objects.count() == 1 and DemoTransaction.objects.count() == 1
    assert Stock.objects.get(variant=shop["oil"]).allocated == 1


def test_someone_elses_order_cannot_be_paid_or_returned_to(client, oil_checkout):
    place(client, oil_checkout)
    order = Order.objects.get()
    client.force_login(UserFactory())
    assert client.get(f"/en/orders/{order.number}/pay/").status_code == 404
    assert client.post(f"/en/orders/{order.number}/pay/", {"payment_method": "card"}).status_code == 404
    assert client.get(f"/en/orders/{order.number}/payment/return/").status_code == 404
    assert Payment.objects.count() == 1


# --- What payments tell the order ------------------------------------------------------------------


def test_a_pending_provider_report_extends_the_reservation(client, oil_checkout, django_capture_on_commit_callbacks):
    place(client, oil_checkout)
    order = Order.objects.get()
    payment = Payment.objects.get()
    soon = timezone.now() + timedelta(minutes=1)
    Order.objects.filter(pk=order.pk).update(reservation_expires_at=soon)

    with django_capture_on_commit_callbacks(execute=True):
        apply_result(payment.pk, ProviderResult(state="pending", reference=payment.provider_reference), kind="provider")

    order.refresh_from_db()
    step = timedelta(minutes=settings.ORDER_RESERVATION_STEP_MINUTES)
    assert timezone.now() + step - timedelta(seconds=30) < order.reservation_expires_at <= timezone.now() + step


def test_reservation_steps_up_to_the_ceiling_never_down(client, oil_checkout):
    place(client, oil_checkout)
    order = Order.objects.get()
    placed = order.created_at
    first = order.reservation_expires_at
    assert first == placed + timedelta(minutes=settings.ORDER_RESERVATION_MINUTES) or abs(
        (first - placed) - timedelta(minutes=settings.ORDER_RESERVATION_MINUTES)
    ) < timedelta(seconds=2)
    minutes = timedelta(minutes=1)
    step = settings.ORDER_RESERVATION_STEP_MINUTES * minutes
    ceiling = placed + settings.ORDER_RESERVATION_CEILING_MINUTES * minutes

    assert extend_reservation(order.pk, now=placed + 5 * minutes).reservation_expires_at == first  # never shorter
    assert (
        extend_reservation(order.pk, now=placed + 25 * minutes).reservation_expires_at == placed + 25 * minutes + step
    )
    assert (
        extend_reservation(order.pk, now=placed + 25 * minutes).reservation_expires_at == placed + 25 * minutes + step
    )
    assert extend_reservation(order.pk, now=ceiling - 2 * minutes).reservation_expires_at == ceiling
    assert extend_reservation(order.pk, now=ceiling + 60 * minutes).reservation_expires_at == ceiling
    assert expire_unpaid_order(order.pk, now=ceiling - minutes).status == Order.Status.PENDING_PAYMENT
    assert expire_unpaid_order(order.pk, now=ceiling + minutes).status == Order.Status.EXPIRED
    assert extend_reservation(order.pk, now=ceiling).reservation_expires_at == ceiling  # expired: untouched


def test_a_confirmed_order_is_neither_extended_nor_expired(client, oil_checkout, shop, commit):
    response = place(client, oil_checkout)
    pay_at_gateway(client, response.url, "4242424242424242", commit)
    order = Order.objects.get()
    assert order.status == Order.Status.CONFIRMED and order.reservation_expires_at is None
    assert extend_reservation(order.pk).reservation_expires_at is None
    assert expire_unpaid_orders() == 0
    assert expire_unpaid_order(order.pk, now=timezone.now() + timedelta(days=3)).status == Order.Status.CONFIRMED
    assert Stock.objects.get(variant=shop["oil"]).allocated == 1


def test_an_expired_order_cancels_its_open_payment(client, oil_checkout, shop, django_capture_on_commit_callbacks):
    response = place(client, oil_checkout)
    order = Order.objects.get()
    Order.objects.filter(pk=order.pk).update(reservation_expires_at=timezone.now() - timedelta(seconds=1))

    with django_capture_on_commit_callbacks(execute=True):
        assert expire_unpaid_orders() == 1

    order.refresh_from_db()
    payment = Payment.objects.get()
    assert order.status == Order.Status.EXPIRED and Stock.objects.get(variant=shop["oil"]).allocated == 0
    assert payment.state == "cancelled" and DemoTransaction.objects.get().status == "canceled"
    # the gateway no longer takes the card, and the order cannot be paid again
    assert client.post(response.url, {"number": "4242424242424242", **VALID_CARD}).status_code == 302
    assert DemoTransaction.objects.get().status == "canceled"
    page = client.post(f"/en/orders/{order.number}/pay/", {"payment_method": "card"}, follow=True).content.decode()
    assert "not awaiting payment" in page and 'data-testid="pay-again-form"' not in page
    assert Payment.objects.count() == 1


def test_a_payment_made_but_not_reported_before_expiry_is_refunded(
    client, oil_checkout, shop, django_capture_on_commit_callbacks
):
    place(client, oil_checkout, payment_method="alipay", update="1")
    response = place(client, oil_checkout, payment_method="alipay")
    payment = Payment.objects.get()
    client.post(f"/en/pay/demo/{payment.provider_reference}/decision/", {"decision": "approve", "source": "page"})
    # the buyer closed the tab: the shop never heard of the approval before the reservation ran out
    assert response.status_code == 302 and Payment.objects.get().state == "requires_action"
    order = Order.objects.get()
    Order.objects.filter(pk=order.pk).update(reservation_expires_at=timezone.now() - timedelta(seconds=1))

    with django_capture_on_commit_callbacks(execute=True):
        expire_unpaid_orders()

    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.status == Order.Status.EXPIRED and Stock.objects.get(variant=shop["oil"]).allocated == 0
    assert (payment.state, payment.captured, payment.refunded) == ("refunded", order.total, order.total)
    assert Refund.objects.get().amount == order.total == eur("128.60")
    assert DemoTransaction.objects.get().refunded == eur("128.60")


def test_payment_secured_confirms_once(oil_checkout, django_capture_on_commit_callbacks):
    order = place_order(oil_checkout.token, buyer=oil_checkout.buyer)
    payment = pay_order(order, method_code="card", return_url="http://testserver/r/")
    tx = DemoTransaction.objects.get()
    DemoTransaction.objects.filter(pk=tx.pk).update(status="succeeded", captured=tx.amount)
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            apply_result(payment.pk, DemoCard.result(DemoTransaction.objects.get()), kind="provider")
    order.refresh_from_db()
    assert order.status == Order.Status.CONFIRMED
    assert PaymentEvent.objects.filter(payment=payment, to_state="captured").count() == 2  # the second: ignored
    assert PaymentEvent.objects.filter(payment=payment, kind="ignored").count() == 1


# --- Delivery choice per shipment -----------------------------------------------------------------


def test_each_shipment_offers_every_option_cheapest_first_and_the_choice_is_recomputed(client, shop, buyer):
    world = shop["world"]
    fill(buyer, (shop["wig"], 2))  # Frankfurt -> Berlin: domestic EUR 4.90 or regional EUR 8.90
    signed_in(client, buyer).post("/en/checkout/", ADDRESS_DE)
    checkout = Checkout.objects.get()
    page = quote_page(client)
    assert radios(page, "shipping-option") == [str(world.domestic.pk), str(world.regional.pk)]
    assert checked(page, "shipping-option") == [str(world.domestic.pk)]
    assert amount_of(page, "quote-shipping") == "4.90"
    assert f'name="shipping-{world.de_fra.pk}"' in page
    goods = Decimal(checkout.quote["goods"])

    place(client, checkout, **{f"shipping-{world.de_fra.pk}": world.regional.pk, "shipping": "0.01"}, update="1")

    checkout.refresh_from_db()
    quote = checkout.quote
    assert checkout.shipping_choices == {str(world.de_fra.pk): world.regional.pk}
    assert quote["shipping"] == "8.90" and quote["shipments"][0]["method_id"] == world.regional.pk
    assert Decimal(quote["taxes"]) == (Decimal("0.19") * (goods + Decimal("8.90"))).quantize(Decimal("0.01"))
    assert Decimal(quote["total"]) == goods + Decimal("8.90") + Decimal(quote["taxes"]) + Decimal(quote["duties"])
    assert checked(quote_page(client), "shipping-option") == [str(world.regional.pk)]

    place(client, checkout, **{f"shipping-{world.de_fra.pk}": world.regional.pk})

    order = Order.objects.get()
    assert order.shipping == eur("8.90") and order.total == Money(quote["total"], EUR)
    assert Shipment.objects.get(order_number=order.number).method == world.regional


def test_a_tampered_delivery_option_is_refused(client, shop, buyer):
    world = shop["world"]
    fill(buyer, (shop["wig"], 1))
    signed_in(client, buyer).post("/en/checkout/", ADDRESS_DE)
    checkout = Checkout.objects.get()
    before = stock_state()
    for data in (
        {f"shipping-{world.de_fra.pk}": world.express.pk},  # not offered from Frankfurt
        {f"shipping-{world.cn_origin.pk}": world.express.pk},  # no such shipment
        {f"shipping-{world.de_fra.pk}": "cheap"},
    ):
        response = place(client, checkout, **data)
        assert response.url == "/en/checkout/" and not Order.objects.exists() and stock_state() == before
        assert "This delivery option is not available" in client.get("/en/checkout/").content.decode()
    checkout.refresh_from_db()
    assert checkout.shipping_choices == {} and checkout.quote["shipping"] == "4.90"


def test_dap_or_ddp_is_the_buyers_choice_and_only_the_checkout_part_is_charged(client, shop, buyer):
    world = shop["world"]
    Stock.objects.filter(variant=shop["wig"]).update(on_hand=0)
    put(shop["wig"], world.cn_origin, 50)
    fill(buyer, (shop["wig"], 20))  # EUR 250 from Guangzhou: economy (DAP) EUR 10 or express (DDP) EUR 30
    signed_in(client, buyer).post("/en/checkout/", ADDRESS_DE)
    checkout = Checkout.objects.get()
    assert checkout.quote["shipments"][0]["incoterm"] == "DAP" and Decimal(checkout.quote["due_at_door"]) > 0

    place(client, checkout, **{f"shipping-{world.cn_origin.pk}": world.express.pk}, update="1")
    checkout.refresh_from_db()
    assert checkout.quote["shipments"][0]["incoterm"] == "DDP" and checkout.quote["shipping"] == "30.00"
    assert Decimal(checkout.quote["due_at_door"]) == 0

    place(client, checkout, **{f"shipping-{world.cn_origin.pk}": world.economy.pk}, update="1")
    checkout.refresh_from_db()
    door = Money(checkout.quote["due_at_door"], EUR)
    assert door.amount > 0 and checkout.quote["shipping"] == "10.00"

    place(client, checkout, **{f"shipping-{world.cn_origin.pk}": world.economy.pk})

    order = Order.objects.get()
    payment = Payment.objects.get()
    assert order.due_at_door == door and order.total == Money(checkout.quote["total"], EUR)
    assert payment.amount == order.total - door  # the carrier collects the rest at the door
    assert Shipment.objects.get(order_number=order.number).incoterm == ShippingMethod.Incoterm.DAP


# --- Cash on delivery (the "money" helper's method, through the interface) ------------------------


def test_cash_on_delivery_only_where_the_method_says_with_the_markets_fee(client, shop, buyer, commit):
    set_market(payment_methods=["card", "cod"], cod_enabled=True, cod_max=eur("500"), cod_fee=eur("3.50"))
    fill(buyer, (shop["wig"], 1))  # from Frankfurt to Berlin: domestic
    signed_in(client, buyer).post("/en/checkout/", ADDRESS_DE)
    checkout = Checkout.objects.get()
    page = quote_page(client)
    assert radios(page, "payment-method") == ["card", "cod"]
    base = Decimal(checkout.quote["total"])

    place(client, checkout, payment_method="cod", update="1")
    checkout.refresh_from_db()
    assert Decimal(checkout.quote["total"]) == base + Decimal("3.50")
    assert Decimal(checkout.quote["payment_fee"]) == Decimal("3.50")

    with commit():
        response = place(client, checkout, payment_method="cod")

    order = Order.objects.get()
    assert response.url == f"/en/orders/{order.number}/"  # no action: straight to the order
    assert order.status == Order.Status.CONFIRMED and order.total == Money(base + Decimal("3.50"), EUR)
    assert Payment.objects.get().state == "authorized"


def test_no_cash_on_delivery_across_a_border_or_above_the_maximum(client, shop, buyer):
    set_market(payment_methods=["card", "cod"], cod_enabled=True, cod_max=eur("500"), cod_fee=eur("3.50"))
    fill(buyer, (shop["oil"], 1))  # from Milan: crosses a border
    signed_in(client, buyer).post("/en/checkout/", ADDRESS_DE)
    assert radios(quote_page(client), "payment-method") == ["card"]
    before = stock_state()
    assert place(client, Checkout.objects.get(), payment_method="cod").url == "/en/checkout/"
    assert not Order.objects.exists() and stock_state() == before

    Cart.objects.update(status=Cart.Status.ORDERED)
    fill(buyer, (shop["wig"], 1))
    set_market(cod_max=eur("10"))
    client.post("/en/checkout/", ADDRESS_DE)
    assert radios(quote_page(client), "payment-method") == ["card"]


# --- Every currency: the order total is what the provider is asked for ------------------------------


class StripeLikeCard(DemoCard):
    """The demo card, but charged in Stripe's minor units (KWD and BHD in steps of 0.010), with a
    fee that lands on odd amounts. Records what would be sent to the provider."""

    provider = "stripe"
    fee_percent = Decimal("1.7")
    sent: list[tuple[str, int]] = []

    def start(self, payment, *, return_url, idempotency_key):
        type(self).sent.append((payment.amount.currency.code, to_minor_units(payment.amount, "stripe")))
        return super().start(payment, return_url=return_url, idempotency_key=idempotency_key)


def test_order_total_equals_the_amount_sent_to_the_provider_in_every_currency(shop, buyer, settings):
    settings.PAYMENT_METHODS = {"card": "tests.orders.test_checkout_payment.StripeLikeCard"}
    StripeLikeCard.sent = []
    known = set(ManualRate.objects.values_list("currency", flat=True))
    for n, code in enumerate(sorted(set(settings.CURRENCIES) - known - {EUR}), start=1):
        ManualRate.objects.create(currency=code, units_per_eur=Decimal("0.3173") * n + Decimal("0.0457"))
    refresh_fx_rates()
    Stock.objects.filter(variant__in=[shop["oil"], shop["syrup"]]).update(on_hand=1000)
    adjusted = 0
    for currency in settings.CURRENCIES:
        cart = fill(buyer, (shop["oil"], 1), (shop["syrup"], 1))
        checkout = start_checkout(cart, buyer=buyer, address=Address(**ADDRESS_DE), currency=currency, language="en")
        order = place_order(checkout.token, buyer=buyer)
        payment = pay_order(order, method_code="card", return_url="http://testserver/r/")

        sent_currency, units = StripeLikeCard.sent[-1]
        assert sent_currency == currency
        assert from_minor_units(units, currency, "stripe") == order.total == order.due_at_checkout, currency
        assert payment.amount == order.total == Money(checkout.quote["total"], currency), currency
        quantum = charge_quantum(currency, "stripe")
        assert order.total.amount % quantum == 0, currency
        nominal = (order.total - order.payment_fee).amount * Decimal("0.017")
        extra = order.payment_fee.amount - nominal.quantize(Decimal(1).scaleb(-currency_digits(currency)))
        assert Decimal(0) <= extra < quantum, currency  # the fee absorbs the step, nothing more
        adjusted += extra > 0
        assert order.fees == order.payment_fee + Money(checkout.quote["shipments"][0]["fees"], currency) + Money(
            checkout.quote["shipments"][1]["fees"], currency
        )
    assert len(StripeLikeCard.sent) == len(settings.CURRENCIES)
    assert adjusted >= 1  # at least one three-decimal total needed the fee to absorb a step
