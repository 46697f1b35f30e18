"""Customs and landed cost: what a parcel costs the buyer once it is at their door.

``landed_cost(parcel, destination=..., buyer_currency=...)`` takes plain frozen inputs and returns
a frozen breakdown in the buyer's currency: goods, shipping, duties, taxes, fees, total, what is
paid at checkout and what is due at the door (DAP), the rules applied (translated, for people)
and the FX conversions used. It reads the destination's ``Market`` (VAT rate, duty and tax
de-minimis), its ``MarketCustomsRule`` and its ``DutyRate`` table, through one cached selector.

How a parcel is priced (each step writes a rule):

1. Every amount is converted into the buyer's currency with the FX table (plus the market's
   margin when the caller passes it), unrounded. Thresholds compare the *goods* value converted
   into the threshold's own currency at the official cross rate (no margin): EUR 150, GBP 135...
2. From a warehouse in the destination country (or the same customs union, e.g. DE -> FR) there is
   no import: no duty, no fee, and the destination's VAT on goods and shipping, as a domestic sale.
3. Otherwise duty applies above the duty de minimis: per line, the longest HS prefix's rate (or
   its tier for the parcel's value) on the goods, plus the line's share of shipping (by value)
   when the rule says CIF; a tier's deduction comes off the duty once per parcel; a flat fee per
   item is added to fees.
4. VAT/GST applies above the tax de minimis, on goods plus (per the rule) shipping and duty, or
   "by inside" (base / (1 - rate)). Up to a low-value scheme's threshold it is collected at
   checkout whatever the Incoterm; above it, it is import tax, assessed at the border.
5. A clearance fee per parcel applies when anything is assessed at the border.
6. Each line's goods, duty and tax are rounded once (ROUND_HALF_UP, the currency's digits), and
   totals are sums of rounded lines. DDP: everything at checkout. DAP: duty, import tax and fees
   are due at the door.

Not modelled: preferential origin (trade agreements), excise, the JP 60 % simplified value rule.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.core.cache import cache
from django.utils.translation import gettext as _
from django_countries import countries
from djmoney.money import Money

from marketplace.fx.services import Conversion, RateTable, convert, current_rates
from marketplace.markets import market_for_country
from marketplace.money import format_money, round_money

from .exceptions import MissingDutyRate, UnknownDestination
from .models import DutyRate, MarketCustomsRule, ShippingMethod

ZERO = Decimal(0)
HUNDRED = Decimal(100)
CACHE_SECONDS = 3600  # cleared when a rate, tier, rule or market changes (logistics.receivers)

# Goods circulate freely inside a customs union: no import between its members.
EU = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()  # noqa: SIM905
)
CUSTOMS_UNIONS: dict[str, frozenset[str]] = {"EU": EU}


# --- Inputs and result ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LandedCostLine:
    """One line of a parcel: the unit's customs value (what the buyer pays for one), how many."""

    customs_value: Money
    quantity: int
    hs_code: str
    origin_country: str
    description: str = ""


@dataclass(frozen=True)
class Parcel:
    """What one warehouse sends: its lines, the warehouse's country, the shipping price, the Incoterm."""

    lines: tuple[LandedCostLine, ...]
    ship_from: str
    shipping: Money
    incoterm: str = ShippingMethod.Incoterm.DDP


@dataclass(frozen=True)
class AppliedRule:
    code: str  # stable, for code and tests: "duty_exempt", "tax_at_checkout", ...
    text: str  # translated, for people


@dataclass(frozen=True)
class LineCost:
    line: LandedCostLine
    goods: Money
    duty: Money
    tax: Money
    duty_rate: Decimal | None  # percent; None when no duty applies
    duty_prefix: str | None  # the HS prefix whose rate was used ('' = the default)


@dataclass(frozen=True)
class LandedCost:
    destination: str
    currency: str
    incoterm: str
    domestic: bool
    goods: Money
    shipping: Money
    duties: Money
    taxes: Money
    fees: Money
    total: Money
    due_at_checkout: Money
    due_at_door: Money
    tax_at_checkout: bool
    lines: tuple[LineCost, ...]
    rules: tuple[AppliedRule, ...]
    fx: tuple[Conversion, ...]

    def rule_codes(self) -> list[str]:
        return [rule.code for rule in self.rules]


# --- The destination's rules, cached ---------------------------------------------------------------


@dataclass(frozen=True)
class Tier:
    above: Money
    rate: Decimal
    deduction: Money | None


@dataclass(frozen=True)
class Rate:
    prefix: str
    rate: Decimal
    per_item_fee: Money | None
    tiers: tuple[Tier, ...]


@dataclass(frozen=True)
class CustomsRules:
    country: str
    currency: str
    vat_rate: Decimal
    duty_de_minimis: Money
    tax_de_minimis: Money
    tax_name: str  # a MarketCustomsRule.TaxName value
    checkout_tax_up_to: Money | None
    duty_base_includes_shipping: bool
    tax_base_includes_shipping: bool
    tax_base_includes_duty: bool
    tax_inclusive_base: bool
    parcel_fee: Money | None
    rates: dict[str, Rate]

    def rate_for(self, hs_code: str) -> Rate | None:
        """The longest prefix of ``hs_code`` that has a rate ('' is the default)."""
        for length in range(len(hs_code), -1, -1):
            if (rate := self.rates.get(hs_code[:length])) is not None:
                return rate
        return None


def cache_key(country: str) -> str:
    return f"customs:rules:{country.upper()}:v1"


def customs_rules(country: str) -> CustomsRules:
    """The destination's customs rules (three queries, then cached). Unknown: ``UnknownDestination``."""
    key = cache_key(country)
    rules = cache.get(key)
    if rules is None:
        rules = _load_rules(country.upper())
        cache.set(key, rules, CACHE_SECONDS)
    return rules


def clear_customs_cache(country: str) -> None:
    cache.delete(cache_key(str(country)))


def _load_rules(country: str) -> CustomsRules:
    market = market_for_country(country)
    if market is None:
        raise UnknownDestination(country=str(countries.name(country) or country))
    rule = MarketCustomsRule.objects.filter(market=market).first() or MarketCustomsRule(market=market)
    rates = {
        r.hs_prefix: Rate(
            r.hs_prefix,
            r.rate,
            r.per_item_fee,
            tuple(Tier(t.above, t.rate, t.deduction) for t in sorted(r.tiers.all(), key=lambda t: t.above.amount)),
        )
        for r in DutyRate.objects.filter(country=country).prefetch_related("tiers")
    }
    return CustomsRules(
        country=country,
        currency=market.currency,
        vat_rate=market.vat_rate,
        duty_de_minimis=market.duty_de_minimis,
        tax_de_minimis=market.tax_de_minimis,
        tax_name=rule.tax_name,
        checkout_tax_up_to=rule.checkout_tax_up_to,
        duty_base_includes_shipping=rule.duty_base_includes_shipping,
        tax_base_includes_shipping=rule.tax_base_includes_shipping,
        tax_base_includes_duty=rule.tax_base_includes_duty,
        tax_inclusive_base=rule.tax_inclusive_base,
        parcel_fee=rule.parcel_fee,
        rates=rates,
    )


def same_customs_territory(a: str, b: str) -> bool:
    return a == b or any(a in members and b in members for members in CUSTOMS_UNIONS.values())


# --- The computation -------------------------------------------------------------------------------


class _Fx:
    """Conversions for one quote: unrounded amounts, and the ``Conversion`` records that show them.

    Buyer-currency amounts carry the market's margin (they are prices); threshold checks use the
    official cross rate.
    """

    def __init__(self, table: RateTable, buyer_currency: str, margin_percent: Decimal) -> None:
        self.table = table
        self.currency = buyer_currency
        self.margin = margin_percent
        self.factor = 1 + margin_percent / HUNDRED
        self._to_buyer: dict[str, Decimal] = defaultdict(Decimal)  # source currency -> amount converted
        self._official: dict[tuple[str, str], Decimal] = {}  # (source, target) -> goods amount compared

    def to_buyer(self, money: Money) -> Decimal:
        code = money.currency.code
        if code == self.currency:
            return money.amount
        self._to_buyer[code] += money.amount
        return money.amount * self.table.cross_rate(code, self.currency) * self.factor

    def value_in(self, amounts: dict[str, Decimal], target: str) -> Decimal:
        """Official value (no margin) of ``amounts`` (by currency) in ``target``: threshold checks."""
        total = ZERO
        for code, amount in amounts.items():
            if code != target:
                self._official[(code, target)] = amount
            total += amount * self.table.cross_rate(code, target)
        return total

    def records(self) -> tuple[Conversion, ...]:
        out = [
            convert(Money(amount, code), self.currency, margin_percent=self.margin, table=self.table)
            for code, amount in sorted(self._to_buyer.items())
        ]
        for (code, target), amount in sorted(self._official.items()):
            if target == self.currency and not self.margin and code in self._to_buyer:
                continue  # the same rate is already listed
            out.append(convert(Money(amount, code), target, table=self.table))
        return tuple(out)


def _money(amount: Decimal, currency: str) -> str:
    return format_money(Money(amount, currency))


def _pct(rate: Decimal) -> str:
    return f"{rate.normalize():f}"


def landed_cost(
    parcel: Parcel,
    *,
    destination: str,
    buyer_currency: str,
    fx_margin_percent: Decimal = ZERO,
    rates: RateTable | None = None,
) -> LandedCost:
    """The landed cost of ``parcel`` sent to ``destination``, in ``buyer_currency``.

    ``rates``: a locked FX table (checkout quotes); default the current one. Raises
    ``UnknownDestination`` and ``MissingDutyRate`` (domain errors) when the rules are missing.
    """
    if not parcel.lines:
        raise ValueError("A parcel has at least one line.")
    if any(line.quantity < 1 or line.customs_value.amount < 0 for line in parcel.lines):
        raise ValueError("Quantities are at least 1 and values not negative.")
    destination = destination.upper()
    rules = customs_rules(destination)
    fx = _Fx(rates or current_rates(), buyer_currency, fx_margin_percent)
    cur = buyer_currency
    applied: list[AppliedRule] = []

    def rule(code: str, text: str) -> None:
        if not any(r.code == code and r.text == text for r in applied):
            applied.append(AppliedRule(code, text))

    # 1. goods and shipping in the buyer's currency, unrounded; shipping shared by value
    raw_goods: dict[str, Decimal] = defaultdict(Decimal)
    goods: list[Decimal] = []
    for line in parcel.lines:
        raw = line.customs_value * line.quantity
        raw_goods[raw.currency.code] += raw.amount
        goods.append(fx.to_buyer(raw))
    shipping = fx.to_buyer(parcel.shipping)
    goods_total = sum(goods, ZERO)
    shares = [g / goods_total if goods_total else Decimal(1) / len(goods) for g in goods]
    ship_share = [shipping * share for share in shares]

    n = len(parcel.lines)
    duties = [ZERO] * n
    taxes = [ZERO] * n
    fees: list[Decimal] = []
    rates_used: list[tuple[Decimal | None, str | None]] = [(None, None)] * n
    vat = rules.vat_rate / HUNDRED
    tax_label = str(MarketCustomsRule.TaxName(rules.tax_name).label)
    country_name = str(countries.name(destination) or destination)
    domestic = same_customs_territory(parcel.ship_from.upper(), destination)
    tax_at_checkout = True
    border_assessed = False

    def worth(threshold: Money) -> Decimal:
        return fx.value_in(raw_goods, threshold.currency.code)

    if domestic:
        # 2. no import: the destination's VAT on goods and shipping, as a domestic sale
        if parcel.ship_from.upper() == destination:
            rule(
                "domestic",
                _("Ships from inside %(country)s: no import, so no duty; %(tax)s %(rate)s%% as on a domestic sale.")
                % {"country": country_name, "tax": tax_label, "rate": _pct(rules.vat_rate)},
            )
        else:
            rule(
                "customs_union",
                _(
                    "Ships from %(origin)s, in the same customs union as %(country)s: no customs, so no duty; "
                    "%(country)s %(tax)s %(rate)s%% applies."
                )
                % {
                    "origin": countries.name(parcel.ship_from.upper()),
                    "country": country_name,
                    "tax": tax_label,
                    "rate": _pct(rules.vat_rate),
                },
            )
        taxes = [(g + s) * vat for g, s in zip(goods, ship_share, strict=True)]
    else:
        # 3. duty
        threshold = rules.duty_de_minimis
        value = worth(threshold)
        if value <= threshold.amount and threshold.amount > 0:
            rule(
                "duty_exempt",
                _("Goods worth %(value)s, within the %(threshold)s duty exemption: no import duty.")
                % {"value": _money(value, threshold.currency.code), "threshold": format_money(threshold)},
            )
        else:
            if threshold.amount > 0:
                rule(
                    "duty_due",
                    _("Goods worth %(value)s, above the %(threshold)s duty exemption: import duty applies.")
                    % {"value": _money(value, threshold.currency.code), "threshold": format_money(threshold)},
                )
            else:
                rule(
                    "duty_due",
                    _("Import duty is due from the first cent: %(country)s has no duty exemption.")
                    % {"country": country_name},
                )
            rule(
                "duty_base",
                _("Duty is charged on the goods and their shipping (CIF).")
                if rules.duty_base_includes_shipping
                else _("Duty is charged on the goods only, not on shipping (FOB)."),
            )
            deductions: dict[str, Decimal] = {}
            for i, line in enumerate(parcel.lines):
                rate = rules.rate_for(line.hs_code)
                if rate is None:
                    raise MissingDutyRate(country=country_name, hs_code=line.hs_code)
                percent, tier = rate.rate, None
                for candidate in rate.tiers:
                    if worth(candidate.above) > candidate.above.amount:
                        percent, tier = candidate.rate, candidate
                base = goods[i] + (ship_share[i] if rules.duty_base_includes_shipping else ZERO)
                duties[i] = base * percent / HUNDRED
                rates_used[i] = (percent, rate.prefix)
                if tier is not None:
                    rule(
                        "duty_tier",
                        _("Goods worth %(value)s, above %(above)s: duty %(rate)s%%%(less)s.")
                        % {
                            "value": _money(worth(tier.above), tier.above.currency.code),
                            "above": format_money(tier.above),
                            "rate": _pct(tier.rate),
                            "less": (_(", less %(amount)s per parcel") % {"amount": format_money(tier.deduction)})
                            if tier.deduction
                            else "",
                        },
                    )
                    if tier.deduction:
                        deductions[rate.prefix] = fx.to_buyer(tier.deduction)
                rule(
                    "duty_rate",
                    (
                        _("Duty %(rate)s%% on HS %(hs)s (the rate for %(prefix)s…).")
                        if rate.prefix
                        else _("Duty %(rate)s%% on HS %(hs)s (%(country)s's default rate).")
                    )
                    % {"rate": _pct(percent), "hs": line.hs_code, "prefix": rate.prefix, "country": country_name},
                )
                if rate.per_item_fee:
                    fees.append(fx.to_buyer(rate.per_item_fee) * line.quantity)
                    rule(
                        "item_fee",
                        _("A flat %(fee)s per item on HS %(hs)s.")
                        % {"fee": format_money(rate.per_item_fee), "hs": line.hs_code},
                    )
            for prefix, deduction in deductions.items():
                members = [i for i in range(n) if rates_used[i][1] == prefix]
                gross = sum((duties[i] for i in members), ZERO)
                if gross > 0:
                    keep = max(gross - deduction, ZERO) / gross
                    for i in members:
                        duties[i] *= keep

        # 4. VAT / GST
        threshold = rules.tax_de_minimis
        value = worth(threshold)
        if vat == 0:
            pass
        elif value <= threshold.amount and threshold.amount > 0:
            rule(
                "tax_exempt",
                _("Goods worth %(value)s, within the %(threshold)s exemption: no %(tax)s.")
                % {
                    "value": _money(value, threshold.currency.code),
                    "threshold": format_money(threshold),
                    "tax": tax_label,
                },
            )
        else:
            for i in range(n):
                base = goods[i]
                base += ship_share[i] if rules.tax_base_includes_shipping else ZERO
                base += duties[i] if rules.tax_base_includes_duty else ZERO
                taxes[i] = base * vat / (1 - vat) if rules.tax_inclusive_base else base * vat
            on = {
                (True, True): _("%(tax)s %(rate)s%% on goods, shipping and duty."),
                (True, False): _("%(tax)s %(rate)s%% on goods and shipping."),
                (False, True): _("%(tax)s %(rate)s%% on goods and duty."),
                (False, False): _("%(tax)s %(rate)s%% on the goods."),
            }[(rules.tax_base_includes_shipping, rules.tax_base_includes_duty)]
            rule("tax_base", on % {"tax": tax_label, "rate": _pct(rules.vat_rate)})
            if rules.tax_inclusive_base:
                rule(
                    "tax_inclusive",
                    _("%(tax)s is part of its own base: base ÷ (1 − %(rate)s%%).")
                    % {"tax": tax_label, "rate": _pct(rules.vat_rate)},
                )
            scheme = rules.checkout_tax_up_to
            if scheme is not None and worth(scheme) <= scheme.amount:
                rule(
                    "tax_at_checkout",
                    _(
                        "Goods worth %(value)s, up to %(threshold)s: %(tax)s is collected at checkout "
                        "(low-value import scheme)."
                    )
                    % {
                        "value": _money(worth(scheme), scheme.currency.code),
                        "threshold": format_money(scheme),
                        "tax": tax_label,
                    },
                )
            else:
                tax_at_checkout = False
                border_assessed = True
                rule(
                    "import_tax",
                    _("Import %(tax)s is assessed at the border.") % {"tax": tax_label},
                )

        # 5. clearance fee
        if any(d > 0 for d in duties):
            border_assessed = True
        if border_assessed and rules.parcel_fee:
            fees.append(fx.to_buyer(rules.parcel_fee))
            rule("parcel_fee", _("Clearance fee of %(fee)s per parcel.") % {"fee": format_money(rules.parcel_fee)})

    # 6. round each line once, sum the rounded lines
    def r(amount: Decimal) -> Money:
        return round_money(Money(amount, cur))

    line_costs = tuple(
        LineCost(line, r(goods[i]), r(duties[i]), r(taxes[i]), rates_used[i][0], rates_used[i][1])
        for i, line in enumerate(parcel.lines)
    )
    zero = Money(ZERO, cur)
    goods_m = sum((lc.goods for lc in line_costs), zero)
    duties_m = sum((lc.duty for lc in line_costs), zero)
    taxes_m = sum((lc.tax for lc in line_costs), zero)
    fees_m = sum((r(fee) for fee in fees), zero)
    shipping_m = r(shipping)
    total = goods_m + shipping_m + duties_m + taxes_m + fees_m
    if parcel.incoterm == ShippingMethod.Incoterm.DAP:
        door = duties_m + fees_m + (zero if tax_at_checkout else taxes_m)
        if door.amount:
            rule(
                "dap",
                _("DAP: %(amount)s in duty, import tax and fees is collected at the door.")
                % {"amount": format_money(door)},
            )
        else:
            rule("dap", _("DAP: nothing is due at the door for this parcel."))
    else:
        door = zero
        rule("ddp", _("DDP: duty, taxes and fees are paid at checkout; nothing is due at the door."))
    return LandedCost(
        destination=destination,
        currency=cur,
        incoterm=parcel.incoterm,
        domestic=domestic,
        goods=goods_m,
        shipping=shipping_m,
        duties=duties_m,
        taxes=taxes_m,
        fees=fees_m,
        total=total,
        due_at_checkout=total - door,
        due_at_door=door,
        tax_at_checkout=tax_at_checkout,
        lines=line_costs,
        rules=tuple(applied),
        fx=fx.records(),
    )


def landed_cost_total(costs: Sequence[LandedCost]) -> Money | None:
    """The sum of several parcels' totals (one order, several warehouses), all in one currency."""
    if not costs:
        return None
    return sum((c.total for c in costs[1:]), costs[0].total)
