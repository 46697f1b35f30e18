"""Card and e-wallets through the demo gateway (``payments.demo_gateway``): the embedded default,
no network. ``start`` opens a transaction at the gateway and sends the buyer to its page (card
form, or wallet QR code); ``confirm`` and ``retrieve`` ask the gateway what became of it, so the
browser's return and a later reconciliation answer the same way, as with a real provider.

Currencies and customer locations follow what Stripe documents for each wallet
(https://docs.stripe.com/payments/alipay, /wechat-pay, /grabpay), so the demo offers a method
where the real one would work. Alipay and WeChat Pay serve Chinese wallet holders wherever they
ship to, so only the market's choice and the currency limit them; GrabPay serves Singapore and
Malaysia. Wallets capture at once (Stripe supports no manual capture for them); a card in a market
with ``manual_capture`` is only authorized, and captured later.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from djmoney.money import Money

from marketplace.markets import market_for_country

from .. import demo_gateway as gateway
from ..base import NextAction, PaymentMethod, ProviderResult
from ..demo_gateway import DemoTransaction
from ..exceptions import ProviderError

if TYPE_CHECKING:
    from ..models import Payment

Status = DemoTransaction.Status


class DemoMethod(PaymentMethod):
    provider = "demo"

    def _transaction(self, payment: Payment) -> DemoTransaction:
        tx = DemoTransaction.objects.filter(reference=payment.provider_reference).first()
        if tx is None:  # the start was interrupted before its answer was stored
            tx = DemoTransaction.objects.filter(attempt=payment.attempt).order_by("pk").first()
        if tx is None:
            raise ProviderError(_("The demo gateway has no such transaction."))
        return tx

    def _manual_capture(self, payment: Payment) -> bool:
        if self.kind != "card":
            return False
        market = market_for_country(str(payment.order.country))
        return bool(market and market.manual_capture)

    @staticmethod
    def result(tx: DemoTransaction) -> ProviderResult:
        """The gateway's transaction as the shop's payment state."""
        payload = tx.as_payload()
        if tx.status == Status.CHALLENGE:
            url = reverse("payments:demo-challenge", kwargs={"reference": tx.reference})
            return ProviderResult(
                state="requires_action",
                reference=tx.reference,
                next_action=NextAction(NextAction.REDIRECT, url=url),
                payload=payload,
            )
        if tx.status == Status.REQUIRES_ACTION:
            return ProviderResult(
                state="requires_action",
                reference=tx.reference,
                next_action=NextAction(NextAction.REDIRECT, url=tx.page_url),
                payload=payload,
            )
        if tx.status == Status.REQUIRES_CAPTURE:
            return ProviderResult(state="authorized", reference=tx.reference, payload=payload)
        if tx.status == Status.SUCCEEDED:
            return ProviderResult(state="captured", reference=tx.reference, amount=tx.captured, payload=payload)
        if tx.status == Status.FAILED:
            return ProviderResult(
                state="failed",
                reference=tx.reference,
                failure_code=tx.failure_code,
                failure_message=tx.failure_message,
                payload=payload,
            )
        return ProviderResult(state="cancelled", reference=tx.reference, payload=payload)

    # --- The provider calls ----------------------------------------------------------------------

    def start(self, payment: Payment, *, return_url: str, idempotency_key: str) -> ProviderResult:
        tx = gateway.create_transaction(
            key=idempotency_key,
            attempt=payment.attempt,
            method=self.code,
            kind="card" if self.kind == "card" else "wallet",
            amount=payment.amount,
            manual_capture=self._manual_capture(payment),
            return_url=return_url,
            page_url=lambda reference: reverse("payments:demo-gateway", kwargs={"reference": reference}),
        )
        return self.result(tx)

    def confirm(self, payment: Payment, *, params: dict[str, Any]) -> ProviderResult:
        return self.result(self._transaction(payment))  # never what the browser says: what the gateway knows

    def retrieve(self, payment: Payment) -> ProviderResult:
        return self.result(self._transaction(payment))

    def capture(self, payment: Payment, amount: Money, *, idempotency_key: str) -> ProviderResult:
        tx = self._transaction(payment)
        answer = gateway.capture(tx.reference, amount, key=idempotency_key)
        tx.refresh_from_db()
        return ProviderResult(
            state="captured",
            reference=tx.reference,
            amount=Money(answer["amount"], tx.amount.currency),
            payload=tx.as_payload(),
        )

    def cancel(self, payment: Payment, *, idempotency_key: str) -> ProviderResult:
        tx = self._transaction(payment)
        gateway.cancel(tx.reference, key=idempotency_key)
        tx.refresh_from_db()
        return self.result(tx)

    def refund(self, payment: Payment, amount: Money, *, idempotency_key: str) -> ProviderResult:
        tx = self._transaction(payment)
        answer = gateway.refund(tx.reference, amount, key=idempotency_key)
        return ProviderResult(
            state=answer["status"],
            reference=answer["refund"],
            amount=Money(answer["amount"], tx.amount.currency),
            payload=answer,
        )


class DemoCard(DemoMethod):
    code = "card"
    label = _("Card")
    kind = "card"


_ALIPAY_CURRENCIES = frozenset({"AUD", "CAD", "CNY", "EUR", "GBP", "HKD", "JPY", "MYR", "NZD", "SGD", "USD"})
_WECHAT_PAY_CURRENCIES = frozenset(
    {"AUD", "CAD", "CHF", "CNY", "DKK", "EUR", "GBP", "HKD", "JPY", "NOK", "SEK", "SGD", "USD"}
)


class DemoAlipay(DemoMethod):
    code = "alipay"
    label = _("Alipay")
    kind = "wallet"
    currencies = _ALIPAY_CURRENCIES
    fee_percent = Decimal("1")  # demo figure: what the marketplace passes on for wallet payments


class DemoWeChatPay(DemoMethod):
    code = "wechat_pay"
    label = _("WeChat Pay")
    kind = "wallet"
    currencies = _WECHAT_PAY_CURRENCIES
    fee_percent = Decimal("1")


class DemoGrabPay(DemoMethod):
    code = "grabpay"
    label = _("GrabPay")
    kind = "wallet"
    currencies = frozenset({"SGD", "MYR"})
    countries = frozenset({"SG", "MY"})
    # Wallet limits as the wallet's acquirers publish them (a basic wallet holds less).
    min_amount = {"SGD": Decimal("1"), "MYR": Decimal("1")}
    max_amount = {"SGD": Decimal("5000"), "MYR": Decimal("1500")}
    fee_percent = Decimal("1")
