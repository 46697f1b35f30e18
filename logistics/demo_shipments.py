"""Demo data for customs and shipments. Idempotent: rules are updated in place, shipments created once.

- One customs rule per seeded market and a duty table per destination: a default rate plus a few
  HS headings the catalogue sells (wigs, bags, shawls, tea, tableware, clothing, shoes, cosmetics).
  Figures are simplified public rates for the demo, each with its source; operators keep them
  current in admin (Customs: duty rates, market customs rules).
- One shipment at every status, sent with the simulated carrier from a seller's origin warehouse,
  its timeline exactly what the simulated carrier reports (``manage.py poll_tracking`` moves them
  on as time passes). Numbered ``DEMO-SHIP-<status>``; an existing one is left as it is.

Called from ``logistics.demo.seed`` (after the warehouses exist).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import IO, Any

from django.utils import timezone
from djmoney.money import Money

from catalog.models import Variant
from marketplace.models import Market

from .carriers.simulated import SimulatedCarrier, journey_kind
from .models import DutyRate, DutyRateTier, MarketCustomsRule, Shipment, TrackingEvent, Warehouse
from .shipments import create_shipment, mark_packed, mark_shipped
from .tracking import record_tracking_events, tracking_request

VERIFIED = date(2026, 11, 1)
TaxName = MarketCustomsRule.TaxName

EU = "EU IOSS: VAT at checkout up to EUR 150; carrier clearance fee above (typical)"
GCC = "GCC common customs law: 5 % above the threshold"


def rule(tax: str, source: str, *, checkout: Money | None = None, cif: bool = True, **more: Any) -> dict[str, Any]:
    return {
        "tax_name": tax,
        "source": source,
        "checkout_tax_up_to": checkout,
        "duty_base_includes_shipping": cif,
        **more,
    }


RULES: dict[str, dict[str, Any]] = {
    "DE": rule(TaxName.VAT, EU, checkout=Money("150", "EUR"), parcel_fee=Money("6", "EUR")),
    "FR": rule(TaxName.VAT, EU, checkout=Money("150", "EUR"), parcel_fee=Money("6", "EUR")),
    "ES": rule(TaxName.VAT, EU, checkout=Money("150", "EUR"), parcel_fee=Money("6", "EUR")),
    "GB": rule(
        TaxName.VAT,
        "HMRC: VAT at checkout up to GBP 135; Royal Mail handling fee when charges are due",
        checkout=Money("135", "GBP"),
        parcel_fee=Money("8", "GBP"),
    ),
    "US": rule(TaxName.SALES_TAX, "CBP: duty on the transaction value (FOB); no federal VAT", cif=False),
    "CA": rule(TaxName.GST, "CBSA courier low-value shipments"),
    "MX": rule(TaxName.VAT, "SAT courier imports, simplified"),
    "BR": rule(
        TaxName.ICMS,
        "Remessa Conforme; ICMS computed by inside; Correios clearance fee",
        tax_inclusive_base=True,
        parcel_fee=Money("15", "BRL"),
    ),
    "RU": rule(TaxName.VAT, "EAEU personal imports, simplified (duty on the whole value)"),
    "AE": rule(TaxName.VAT, GCC),
    "SA": rule(TaxName.VAT, GCC),
    "KW": rule(TaxName.VAT, f"{GCC}; no VAT"),
    "CN": rule(TaxName.VAT, "simplified: the cross-border e-commerce reduced rates are not modelled"),
    "JP": rule(TaxName.CONSUMPTION_TAX, "Japan Customs: small-value imports exempt up to JPY 10,000"),
    "VN": rule(TaxName.VAT, "VN: express imports taxed from the first dong since 2025-02-18"),
    "SG": rule(TaxName.GST, "IRAS: GST on low-value goods at checkout up to SGD 400", checkout=Money("400", "SGD")),
    "AU": rule(
        TaxName.GST, "ABF: duty on FOB; GST on low-value imports at checkout", checkout=Money("1000", "AUD"), cif=False
    ),
}

# country: default rate, {HS prefix: rate}. Simplified MFN-style figures for the demo.
EU_RATES = (
    "4",
    {
        "6704": "2.2",
        "4202": "3.7",
        "6214": "8",
        "0902": "3.2",
        "6912": "9",
        "61": "12",
        "62": "12",
        "64": "17",
        "3304": "0",
    },
)
DUTIES: dict[str, tuple[str, dict[str, str]]] = {
    "DE": EU_RATES,
    "FR": EU_RATES,
    "ES": EU_RATES,
    "GB": ("4", {"6704": "2", "4202": "4", "6214": "8", "61": "12", "62": "12", "64": "16", "3304": "0"}),
    "US": ("10", {"6704": "10", "4202": "20", "61": "25", "62": "25", "64": "25", "0902": "10"}),
    "CA": ("8", {"61": "18", "62": "18", "64": "18", "3304": "6.5"}),
    "MX": ("19", {}),
    "BR": ("20", {}),
    "RU": ("15", {}),
    "AE": ("5", {}),
    "SA": ("5", {}),
    "KW": ("5", {}),
    "CN": ("0", {}),
    "JP": ("5", {"61": "10", "62": "10", "64": "30", "4202": "10", "0902": "15"}),
    "VN": ("10", {"61": "20", "62": "20", "64": "30"}),
    "SG": ("0", {}),
    "AU": ("5", {"3304": "0", "0902": "0"}),
}
# Brazil: 20 % up to USD 50, above 60 % less USD 20 (Remessa Conforme, since 2024-08-01).
TIERS = {"BR": [(Money("50", "USD"), "60", Money("20", "USD"))]}

# status, destination, hours since shipped, simulated journey, Incoterm
SHIPMENTS = [
    (Shipment.Status.PENDING, "DE", None, "normal", "DDP"),
    (Shipment.Status.PACKED, "US", None, "normal", "DDP"),
    (Shipment.Status.SHIPPED, "GB", 1, "normal", "DAP"),
    (Shipment.Status.IN_TRANSIT, "JP", 12, "normal", "DDP"),
    (Shipment.Status.AT_CUSTOMS, "DE", 36, "normal", "DAP"),
    (Shipment.Status.OUT_FOR_DELIVERY, "AU", 58, "normal", "DDP"),
    (Shipment.Status.DELIVERED, "US", 80, "normal", "DDP"),
    (Shipment.Status.EXCEPTION, "BR", 50, "customs_hold", "DDP"),
    (Shipment.Status.RETURNED, "FR", 130, "refused", "DAP"),
    (Shipment.Status.CANCELLED, "GB", None, "normal", "DDP"),
]


def seed(stdout: IO[str]) -> None:
    rules = _rules()
    rates = _duty_rates()
    shipments = _shipments()
    stdout.write(f"customs rules: {rules}, duty rates: {rates}, demo shipments: {shipments}")


def _rules() -> int:
    count = 0
    for market in Market.objects.filter(country__in=list(RULES)):
        MarketCustomsRule.objects.update_or_create(
            market=market, defaults={**RULES[str(market.country)], "verified_on": VERIFIED}
        )
        count += 1
    return count


def _duty_rates() -> int:
    count = 0
    for country, (default, prefixes) in DUTIES.items():
        for prefix, rate in {"": default, **prefixes}.items():
            duty_rate, _ = DutyRate.objects.update_or_create(
                country=country,
                hs_prefix=prefix,
                defaults={
                    "rate": Decimal(rate),
                    "description": "" if prefix else "default",
                    "source": "demo figure, simplified; verify against the national tariff",
                    "verified_on": VERIFIED,
                },
            )
            count += 1
            if not prefix:
                for above, tier_rate, deduction in TIERS.get(country, []):
                    DutyRateTier.objects.update_or_create(
                        duty_rate=duty_rate,
                        above=above,
                        defaults={"rate": Decimal(tier_rate), "deduction": deduction},
                    )
    return count


def _shipments() -> int:
    origin = (
        Warehouse.objects.filter(kind=Warehouse.Kind.ORIGIN, active=True)
        .exclude(country__in=[destination for _s, destination, *_rest in SHIPMENTS])
        .order_by("code")
        .first()
    )
    if origin is None:
        return 0
    items = _items(origin)
    now = timezone.now().replace(microsecond=0)
    carrier = SimulatedCarrier()
    created = 0
    for n, (status, destination, hours, kind, incoterm) in enumerate(SHIPMENTS, start=1):
        order_number = f"DEMO-SHIP-{status}"
        if Shipment.objects.filter(order_number=order_number).exists():
            continue
        shipment = create_shipment(
            warehouse=origin,
            destination_country=destination,
            items=items,
            order_number=order_number,
            incoterm=incoterm,
            shipping_cost=Money("12", items[0]["currency"]),
            recipient_name="Demo Buyer",
            recipient_address=f"Demo street {n}",
        )
        created += 1
        if status == Shipment.Status.CANCELLED:  # its order was cancelled before it left (orders.cancellation)
            Shipment.objects.filter(pk=shipment.pk).update(status=status)
            continue
        if status == Shipment.Status.PENDING:
            continue
        mark_packed(shipment)
        if hours is None:
            continue
        shipment = mark_shipped(
            shipment, tracking_number=_number(f"DM{n}", kind), shipped_at=now - timedelta(hours=hours)
        )
        events = carrier.events(
            tracking_request(Shipment.objects.select_related("warehouse").get(pk=shipment.pk)), now=now
        )
        record_tracking_events(shipment.pk, events, source=TrackingEvent.Source.POLL)
    return created


def _number(prefix: str, kind: str) -> str:
    """The first DEMO tracking number with this prefix whose simulated journey is ``kind``."""
    for i in range(100_000):
        number = f"{prefix}X{i:07d}"
        if journey_kind(number) == kind and not Shipment.objects.filter(tracking_number=number).exists():
            return number
    raise RuntimeError(f"no tracking number of kind {kind}")


def _items(warehouse: Warehouse) -> list[dict[str, Any]]:
    variants = list(
        Variant.objects.filter(product__seller__in=warehouse.sellers.all(), active=True)
        .select_related("product")
        .order_by("pk")[:2]
    )
    if not variants:
        return [
            {
                "description": "Silk scarf",
                "hs_code": "621410",
                "origin": str(warehouse.country),
                "quantity": 2,
                "value": "25.00",
                "currency": "USD",
            }
        ]
    currency = variants[0].price.currency.code
    return [
        {
            "description": variant.product.name_en or variant.product.name,
            "hs_code": variant.product.hs_code,
            "origin": str(variant.product.origin_country),
            "quantity": 1 + i,
            "value": str(variant.price.amount),
            "currency": currency,
        }
        for i, variant in enumerate(v for v in variants if v.price.currency.code == currency)
    ]
