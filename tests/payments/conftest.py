"""Payments on top of the orders world: a placed order for a German buyer, and a scripted method
whose provider answers are set per test (the real methods have their own tests)."""

from __future__ import annotations

from typing import Any

import pytest
from djmoney.money import Money

from orders.models import Cart, CartLine, Order
from orders.services import Address, place_order, start_checkout
from payments.base import PaymentContext, PaymentMethod, ProviderResult
from tests.orders.conftest import ADDRESS_DE, buyer, fx, shop  # noqa: F401  (fixtures)


class ScriptedMethod(PaymentMethod):
    """Answers with what the test queued; records every call and its idempotency key."""

    code = "scripted"
    label = "Scripted"
    provider = "scripted"
    calls: list[tuple[str, str]] = []
    answers: dict[str, ProviderResult] = {}

    def _answer(self, name: str, key: str, default: ProviderResult) -> ProviderResult:
        type(self).calls.append((name, key))
        return type(self).answers.get(name, default)

    def start(self, payment, *, return_url, idempotency_key):
        return self._answer("start", idempotency_key, ProviderResult(state="authorized", reference="sc_1"))

    def confirm(self, payment, *, params):
        return self._answer("confirm", "", ProviderResult(state="captured"))

    def capture(self, payment, amount, *, idempotency_key):
        return self._answer("capture", idempotency_key, ProviderResult(state="captured", amount=amount))

    def cancel(self, payment, *, idempotency_key):
        return self._answer("cancel", idempotency_key, ProviderResult(state="cancelled"))

    def refund(self, payment, amount, *, idempotency_key):
        return self._answer("refund", idempotency_key, ProviderResult(state="succeeded", reference="re_1"))


@pytest.fixture
def scripted(settings: Any) -> type[ScriptedMethod]:
    settings.PAYMENT_METHODS = {"scripted": "tests.payments.conftest.ScriptedMethod"}
    ScriptedMethod.calls = []
    ScriptedMethod.answers = {}
    return ScriptedMethod


@pytest.fixture
def order(shop: dict[str, Any], buyer: Any) -> Order:  # noqa: F811 (fixtures imported above)
    cart = Cart.objects.create(user=buyer)
    CartLine.objects.create(cart=cart, variant=shop["oil"], quantity=1)
    checkout = start_checkout(cart, buyer=buyer, address=Address(**ADDRESS_DE), currency="EUR", language="en")
    return place_order(checkout.token, buyer=buyer)


def ctx_for(order: Order) -> PaymentContext:
    return PaymentContext(market=None, country=str(order.country), currency=order.currency, amount=order.total)


def eur(amount: str) -> Money:
    return Money(amount, "EUR")
