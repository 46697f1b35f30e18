"""The payment-method interface (ARCHITECTURE.md, "Pluggable backends").

A method is a class named in ``settings.PAYMENT_METHODS`` (code -> dotted path) and looked up
through ``payments.registry``. It describes itself (code, translated label, currencies,
countries, limits, fee) and talks to its provider. It never changes a ``Payment`` itself: it
returns a ``ProviderResult`` and ``payments.services`` applies it through the state machine, so
a browser return and a webhook reporting the same thing move the payment once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from djmoney.money import Money

from marketplace.money import round_money

if TYPE_CHECKING:
    from django.utils.functional import Promise

    from marketplace.models import Market

    from .models import Payment


@dataclass(frozen=True)
class NextAction:
    """What the browser must do after ``start``: nothing, follow a redirect, use a client secret
    (Stripe.js confirms the card), or show a QR code to scan with a wallet app."""

    NONE = "none"
    REDIRECT = "redirect"
    CLIENT_SECRET = "client_secret"
    QR = "qr"

    kind: str = NONE
    url: str = ""
    client_secret: str = ""
    qr_data: str = ""

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass(frozen=True)
class ProviderResult:
    """What the provider says the payment now is. ``state`` is a ``Payment.State`` value;
    ``amount`` is what was captured or refunded by this call (None: the whole amount)."""

    state: str
    reference: str = ""
    amount: Money | None = None
    next_action: NextAction = field(default_factory=NextAction)
    failure_code: str = ""
    failure_message: str = ""
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PaymentContext:
    """What decides whether a method may be offered for one checkout."""

    market: Market | None
    country: str
    currency: str
    amount: Money  # what the buyer would pay (goods, shipping, duties, taxes; before the method's fee)
    buyer_id: int | None = None
    all_shipments_domestic: bool = False  # every shipment leaves a warehouse in the destination country


class PaymentMethod:
    code: ClassVar[str]
    label: ClassVar[str | Promise]
    kind: ClassVar[str] = "card"  # "card", "wallet", "cod": how the checkout presents it
    provider: ClassVar[str] = "demo"  # which provider's events this method understands
    currencies: ClassVar[frozenset[str] | None] = None  # None: any currency
    countries: ClassVar[frozenset[str] | None] = None  # None: any destination
    min_amount: ClassVar[dict[str, Decimal]] = {}  # per currency; missing: no minimum beyond > 0
    max_amount: ClassVar[dict[str, Decimal]] = {}  # per currency; missing: no maximum
    fee_percent: ClassVar[Decimal] = Decimal("0")
    fee_fixed: ClassVar[dict[str, Decimal]] = {}  # per currency
    manual_capture: ClassVar[bool] = False  # authorize at checkout, capture later (on shipping or delivery)

    # --- Describing ------------------------------------------------------------------------------

    def unavailable_reason(self, ctx: PaymentContext) -> str | None:
        """None when the method may be offered for ``ctx``, else why not (translated, for admin and logs)."""
        from django.utils.translation import gettext as _

        code = ctx.currency
        if ctx.market is not None and self.code not in (ctx.market.payment_methods or []):
            return _("Not offered in this market.")
        if self.currencies is not None and code not in self.currencies:
            return _("Does not support %(currency)s.") % {"currency": code}
        if self.countries is not None and ctx.country not in self.countries:
            return _("Not available for this destination.")
        if code in self.min_amount and ctx.amount.amount < self.min_amount[code]:
            return _("The amount is below this method's minimum.")
        if code in self.max_amount and ctx.amount.amount > self.max_amount[code]:
            return _("The amount is above this method's maximum.")
        return None

    def fee(self, ctx: PaymentContext) -> Money:
        """The method's fee for ``ctx`` in the buyer's currency, rounded once here."""
        percent = ctx.amount * (self.fee_percent / Decimal(100))
        fixed = Money(self.fee_fixed.get(ctx.currency, Decimal(0)), ctx.currency)
        return round_money(percent + fixed)

    def supports_currency(self, currency: str) -> bool:
        return self.currencies is None or currency in self.currencies

    # --- Talking to the provider (each call carries an idempotency key) --------------------------

    def start(self, payment: Payment, *, return_url: str, idempotency_key: str) -> ProviderResult:
        raise NotImplementedError

    def confirm(self, payment: Payment, *, params: dict[str, Any]) -> ProviderResult:
        """The buyer came back (redirect return, demo form, 3-D Secure page): ask the provider."""
        raise NotImplementedError

    def capture(self, payment: Payment, amount: Money, *, idempotency_key: str) -> ProviderResult:
        raise NotImplementedError

    def cancel(self, payment: Payment, *, idempotency_key: str) -> ProviderResult:
        raise NotImplementedError

    def refund(self, payment: Payment, amount: Money, *, idempotency_key: str) -> ProviderResult:
        """Returns the refund's outcome: ``state`` is the Refund.State value ("succeeded", "pending", "failed")."""
        raise NotImplementedError

    def retrieve(self, payment: Payment) -> ProviderResult:
        """The provider's current view of a payment (reconciliation of payments left pending)."""
        raise NotImplementedError
