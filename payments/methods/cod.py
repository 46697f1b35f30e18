"""Cash on delivery: the order is confirmed without payment; the carrier collects the cash.

Offered only when every rule holds (``unavailable_reason``):

- the market offers it (``Market.payment_methods`` lists "cod") and allows it (``cod_enabled``);
- what the carrier would collect (the amount plus this method's fee) is at most ``Market.cod_max``.
  The limit is in the market's currency; a checkout in another currency is compared after
  converting the limit into the buyer's currency with today's rates (no margin), which is the
  rate the buyer sees their own amounts in;
- every shipment leaves a warehouse inside the destination country (``all_shipments_domestic``):
  a courier crossing a border cannot collect cash;
- the buyer has no refused delivery in the last ``settings.COD_REFUSAL_LOOKBACK_DAYS`` days: a
  parcel of one of their orders that came back to the sender without being delivered.

The payment is ``authorized`` at start (no next action). ``payments.receivers`` captures it when
the carrier reports the last shipment delivered, and cancels it when a parcel is refused. Capture,
cancel and refund move no money here: the cash is handled offline (refunds by bank transfer or in
cash) and the payment's event log records it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from djmoney.money import Money

from logistics.models import Shipment
from marketplace.fx.services import MissingRate, convert
from marketplace.money import round_money

from ..base import PaymentContext, PaymentMethod, ProviderResult
from ..exceptions import PaymentError
from ..models import Payment

if TYPE_CHECKING:
    from marketplace.models import Market

logger = logging.getLogger(__name__)


def refused_recently(buyer_id: int, *, days: int | None = None) -> bool:
    """Did a parcel of one of the buyer's orders come back undelivered within ``days``? The
    orders are reached through the payment's foreign key (payments never imports orders)."""
    days = settings.COD_REFUSAL_LOOKBACK_DAYS if days is None else days
    since = timezone.now() - timedelta(days=days)
    order_model = Payment._meta.get_field("order").related_model
    numbers = order_model.objects.filter(buyer_id=buyer_id).values("number")  # type: ignore[union-attr]
    return (
        Shipment.objects.filter(order_number__in=numbers, status=Shipment.Status.RETURNED, delivered_at__isnull=True)
        .filter(Q(events__status=Shipment.Status.RETURNED, events__occurred_at__gte=since) | Q(updated_at__gte=since))
        .exists()
    )


def _in_currency(money: Money, currency: str) -> Money:
    """``money`` in ``currency`` with today's rates, no margin (raises ``MissingRate``)."""
    if money.currency.code == currency:
        return round_money(money)
    return convert(money, currency).result


class CashOnDelivery(PaymentMethod):
    code = "cod"
    label = gettext_lazy("Cash on delivery")
    kind = "cod"
    provider = "cod"
    manual_capture = True  # "captured" = the carrier collected the cash at the door

    def unavailable_reason(self, ctx: PaymentContext) -> str | None:
        if (reason := super().unavailable_reason(ctx)) is not None:
            return reason
        market = ctx.market
        if market is None or not market.cod_enabled or market.cod_max is None:
            return _("Cash on delivery is not offered in this market.")
        try:
            limit = _in_currency(market.cod_max, ctx.currency)
            due = ctx.amount + self.fee(ctx)
        except MissingRate:
            return _("Cash on delivery is not available in %(currency)s.") % {"currency": ctx.currency}
        if due > limit:
            return _("Cash on delivery is available for orders up to %(limit)s.") % {"limit": limit}
        if not ctx.all_shipments_domestic:
            return _("Cash on delivery needs every parcel to ship from within the destination country.")
        if ctx.buyer_id is not None and refused_recently(ctx.buyer_id):
            return _("Cash on delivery is not available after a recently refused delivery.")
        return None

    def fee(self, ctx: PaymentContext) -> Money:
        """The market's cash-on-delivery fee in the buyer's currency (today's rates plus the
        market's FX margin, like every converted price the buyer sees); 0 without one."""
        market: Market | None = ctx.market
        if market is None or not market.cod_enabled or market.cod_fee is None or market.cod_fee.amount <= 0:
            return Money(0, ctx.currency)
        if market.cod_fee.currency.code == ctx.currency:
            return round_money(market.cod_fee)
        return convert(market.cod_fee, ctx.currency, margin_percent=market.fx_margin or Decimal(0)).result

    # --- No provider: every call is answered here, and recorded by payments.services -------------

    def start(self, payment: Payment, *, return_url: str, idempotency_key: str) -> ProviderResult:
        return ProviderResult(state=Payment.State.AUTHORIZED, reference=f"cod-{payment.attempt}")

    def confirm(self, payment: Payment, *, params: dict[str, Any]) -> ProviderResult:
        return ProviderResult(state=payment.state)

    def capture(self, payment: Payment, amount: Money, *, idempotency_key: str) -> ProviderResult:
        return ProviderResult(state=Payment.State.CAPTURED, amount=amount, payload={"collected": "cash at the door"})

    def cancel(self, payment: Payment, *, idempotency_key: str) -> ProviderResult:
        return ProviderResult(state=Payment.State.CANCELLED)

    def refund(self, payment: Payment, amount: Money, *, idempotency_key: str) -> ProviderResult:
        return ProviderResult(
            state="succeeded", reference=f"cod-refund-{idempotency_key}"[:255], payload={"handled": "offline"}
        )

    def retrieve(self, payment: Payment) -> ProviderResult:
        return ProviderResult(state=payment.state)


# --- Delivery and refusal (called by payments.receivers on logistics' signals) ----------------------


def _cod_payment(order_number: str) -> Payment | None:
    """The order's authorized cash-on-delivery payment, if that is how it is paid."""
    from ..registry import get_method

    payment = Payment.objects.filter(order__number=order_number, state=Payment.State.AUTHORIZED).first()
    if payment is None:
        return None
    try:
        kind = get_method(payment.method).kind
    except PaymentError:  # the method is no longer configured
        return None
    return payment if kind == "cod" else None


def _delivery_states(order_number: str) -> list[datetime | None]:
    return list(
        Shipment.objects.filter(order_number=order_number)
        .exclude(status=Shipment.Status.CANCELLED)
        .values_list("delivered_at", flat=True)
    )


def capture_on_delivery(order_number: str) -> Payment | None:
    """Every parcel of the order is delivered: the carrier collected the cash, capture it. The key
    is per payment, so two deliveries reported at once capture once."""
    from ..services import capture_payment

    payment = _cod_payment(order_number)
    delivered = _delivery_states(order_number)
    if payment is None or not delivered or any(when is None for when in delivered):
        return None
    return capture_payment(payment.pk, idempotency_key=f"{payment.attempt}:cod-delivered")


def cancel_on_refusal(order_number: str) -> Payment | None:
    """A parcel came back refused: no cash was collected, the payment is cancelled. When another
    parcel of the order was delivered (and paid at the door) it is left to an operator."""
    from ..services import cancel_payment

    payment = _cod_payment(order_number)
    if payment is None:
        return None
    if any(when is not None for when in _delivery_states(order_number)):
        logger.warning(
            "order %s: a parcel was refused and another delivered; payment left to an operator", order_number
        )
        return None
    return cancel_payment(payment.pk, idempotency_key=f"{payment.attempt}:cod-refused")
