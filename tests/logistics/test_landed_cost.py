"""Landed cost, computed by hand for each destination below and above its thresholds.

FX (units per 1 EUR) chosen so the arithmetic is exact: USD 1.25, GBP 0.80, AUD 1.60, JPY 160,
BRL 6.25, CNY 8, KWD 0.375. Cross rates used below:
    CNY->EUR 0.125   CNY->USD 0.15625   CNY->JPY 20   USD->GBP 0.64   USD->AUD 1.28
    USD->BRL 5       USD->KWD 0.3       EUR->USD 1.25
Every line is rounded once, ROUND_HALF_UP, to the currency's digits (EUR 2, JPY 0, KWD 3).
The markets' thresholds are the real ones (marketplace/demo.py); the duty rates and fees are
test figures, stated in each fixture.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone
from djmoney.money import Money

from logistics.customs import LandedCostLine, Parcel, customs_rules, landed_cost
from logistics.exceptions import MissingDutyRate, UnknownDestination
from logistics.models import DutyRate, DutyRateTier, MarketCustomsRule
from marketplace.fx.services import RateInfo, RateTable
from marketplace.models import Market

D = Decimal
RATES = {"USD": "1.25", "GBP": "0.80", "AUD": "1.60", "JPY": "160", "BRL": "6.25", "CNY": "8", "KWD": "0.375"}
TODAY = date(2026, 11, 1)
TaxName = MarketCustomsRule.TaxName


@pytest.fixture
def table() -> RateTable:
    now = timezone.now()
    return RateTable(
        refresh_id=None, checked_at=now, rates={c: RateInfo(D(v), "test", now, False) for c, v in RATES.items()}
    )


def market(country: str, currency: str, vat: str, duty_dm: Money, tax_dm: Money, region: str = "europe") -> Market:
    return Market.objects.create(
        country=country,
        region=region,
        currency=currency,
        language="en",
        vat_rate=D(vat),
        duty_de_minimis=duty_dm,
        duty_de_minimis_verified_on=TODAY,
        tax_de_minimis=tax_dm,
        tax_de_minimis_verified_on=TODAY,
    )


def rates(country: str, *entries: tuple[str, str]) -> dict[str, DutyRate]:
    return {
        prefix: DutyRate.objects.create(country=country, hs_prefix=prefix, rate=D(rate), verified_on=TODAY)
        for prefix, rate in entries
    }


@pytest.fixture
def customs_world(db) -> None:
    # DE: EU rules. No duty up to EUR 150 (IOSS), VAT 19 % from the first cent, collected at checkout
    # up to EUR 150; duty on CIF; test clearance fee EUR 6; duty 4 % default, 5 % for 64, 8 % for 6403.
    de = market("DE", "EUR", "19", Money("150", "EUR"), Money("0", "EUR"))
    MarketCustomsRule.objects.create(
        market=de, checkout_tax_up_to=Money("150", "EUR"), parcel_fee=Money("6", "EUR"), verified_on=TODAY
    )
    rates("DE", ("", "4"), ("64", "5"), ("6403", "8"))
    market("FR", "EUR", "20", Money("150", "EUR"), Money("0", "EUR"))
    rates("FR", ("", "4"))
    # GB: no duty up to GBP 135, VAT 20 % from the first penny, at checkout up to GBP 135; handling fee GBP 8.
    gb = market("GB", "GBP", "20", Money("135", "GBP"), Money("0", "GBP"))
    MarketCustomsRule.objects.create(
        market=gb, checkout_tax_up_to=Money("135", "GBP"), parcel_fee=Money("8", "GBP"), verified_on=TODAY
    )
    rates("GB", ("", "4"), ("64", "12"))
    # US: duty from the first cent (de minimis suspended 2025-08-29), on FOB; no VAT; fee USD 5;
    # 10 % default, 15 % plus USD 1 per item for 6704.
    us = market("US", "USD", "0", Money("0", "USD"), Money("0", "USD"), "americas")
    MarketCustomsRule.objects.create(
        market=us,
        tax_name=TaxName.SALES_TAX,
        duty_base_includes_shipping=False,
        parcel_fee=Money("5", "USD"),
        verified_on=TODAY,
    )
    rates("US", ("", "10"))
    DutyRate.objects.create(
        country="US", hs_prefix="6704", rate=D("15"), per_item_fee=Money("1", "USD"), verified_on=TODAY
    )
    # AU: no duty up to AUD 1,000, GST 10 % collected at checkout up to AUD 1,000; duty on FOB,
    # GST on customs value + duty + shipping; test processing charge AUD 50; duty 5 %.
    au = market("AU", "AUD", "10", Money("1000", "AUD"), Money("0", "AUD"), "asia_pacific")
    MarketCustomsRule.objects.create(
        market=au,
        tax_name=TaxName.GST,
        checkout_tax_up_to=Money("1000", "AUD"),
        duty_base_includes_shipping=False,
        parcel_fee=Money("50", "AUD"),
        verified_on=TODAY,
    )
    rates("AU", ("", "5"))
    # JP: duty and consumption tax exempt up to JPY 10,000; CIF; 10 %; no fee.
    jp = market("JP", "JPY", "10", Money("10000", "JPY"), Money("10000", "JPY"), "asia_pacific")
    MarketCustomsRule.objects.create(market=jp, tax_name=TaxName.CONSUMPTION_TAX, verified_on=TODAY)
    rates("JP", ("", "10"))
    # BR: taxed from the first cent; import duty 20 % up to USD 50, above 60 % less USD 20 per
    # parcel; CIF; ICMS 17 % "by inside" on goods + shipping + duty; Correios fee BRL 15.
    br = market("BR", "BRL", "17", Money("0", "USD"), Money("0", "USD"), "americas")
    MarketCustomsRule.objects.create(
        market=br,
        tax_name=TaxName.ICMS,
        tax_inclusive_base=True,
        parcel_fee=Money("15", "BRL"),
        verified_on=TODAY,
    )
    (default,) = rates("BR", ("", "20")).values()
    DutyRateTier.objects.create(duty_rate=default, above=Money("50", "USD"), rate=D("60"), deduction=Money("20", "USD"))
    # KW: no duty up to KWD 100 (GCC tariff 5 %), no VAT.
    market("KW", "KWD", "0", Money("100", "KWD"), Money("100", "KWD"), "middle_east")
    rates("KW", ("", "5"))


def parcel(*lines: tuple[str, str, int, str], shipping: Money, ship_from: str = "CN", incoterm: str = "DDP") -> Parcel:
    return Parcel(
        lines=tuple(LandedCostLine(Money(value, cur), qty, hs, "CN") for value, cur, qty, hs in lines),
        ship_from=ship_from,
        shipping=shipping,
        incoterm=incoterm,
    )


def amounts(cost) -> dict[str, Decimal]:
    return {
        "goods": cost.goods.amount,
        "shipping": cost.shipping.amount,
        "duties": cost.duties.amount,
        "taxes": cost.taxes.amount,
        "fees": cost.fees.amount,
        "total": cost.total.amount,
        "checkout": cost.due_at_checkout.amount,
        "door": cost.due_at_door.amount,
    }


# --- Germany -----------------------------------------------------------------------------------


@pytest.mark.parametrize("incoterm", ["DDP", "DAP"])
def test_de_below_150_eur_no_duty_and_vat_at_checkout_whatever_the_incoterm(customs_world, table, incoterm):
    # goods 2 x CNY 400 = CNY 800 x 0.125 = EUR 100.00 (<= 150: no duty); shipping CNY 80 = EUR 10.00
    # VAT 19 % x (100 + 10) = 20.90, collected at checkout (IOSS) even under DAP; no clearance fee
    # total 100 + 10 + 20.90 = 130.90, nothing at the door
    cost = landed_cost(
        parcel(("400", "CNY", 2, "640391"), shipping=Money("80", "CNY"), incoterm=incoterm),
        destination="DE",
        buyer_currency="EUR",
        rates=table,
    )
    assert amounts(cost) == {
        "goods": D("100.00"),
        "shipping": D("10.00"),
        "duties": D("0.00"),
        "taxes": D("20.90"),
        "fees": D("0.00"),
        "total": D("130.90"),
        "checkout": D("130.90"),
        "door": D("0.00"),
    }
    assert {"duty_exempt", "tax_at_checkout", "tax_base"} <= set(cost.rule_codes())
    assert "parcel_fee" not in cost.rule_codes()
    assert cost.tax_at_checkout is True


def test_de_above_150_eur_dap_duty_import_vat_and_fee_due_at_the_door(customs_world, table):
    # goods CNY 1,600 = EUR 200.00 (> 150: duty); shipping CNY 120 = EUR 15.00
    # duty 8 % (HS 640391, prefix 6403) x CIF (200 + 15) = 17.20
    # import VAT 19 % x (215 + 17.20) = 44.118 -> 44.12; clearance fee 6.00
    # total 200 + 15 + 17.20 + 44.12 + 6 = 282.32; at the door 17.20 + 44.12 + 6 = 67.32; checkout 215.00
    cost = landed_cost(
        parcel(("1600", "CNY", 1, "640391"), shipping=Money("120", "CNY"), incoterm="DAP"),
        destination="DE",
        buyer_currency="EUR",
        rates=table,
    )
    assert amounts(cost) == {
        "goods": D("200.00"),
        "shipping": D("15.00"),
        "duties": D("17.20"),
        "taxes": D("44.12"),
        "fees": D("6.00"),
        "total": D("282.32"),
        "checkout": D("215.00"),
        "door": D("67.32"),
    }
    assert cost.lines[0].duty_rate == D("8") and cost.lines[0].duty_prefix == "6403"
    assert {"duty_due", "import_tax", "parcel_fee", "dap"} <= set(cost.rule_codes())
    assert cost.tax_at_checkout is False


def test_de_above_150_eur_ddp_everything_at_checkout(customs_world, table):
    # the same parcel as above, DDP: 282.32 at checkout, nothing at the door
    cost = landed_cost(
        parcel(("1600", "CNY", 1, "640391"), shipping=Money("120", "CNY"), incoterm="DDP"),
        destination="DE",
        buyer_currency="EUR",
        rates=table,
    )
    assert (cost.total.amount, cost.due_at_checkout.amount, cost.due_at_door.amount) == (
        D("282.32"),
        D("282.32"),
        D("0.00"),
    )
    assert "ddp" in cost.rule_codes()


def test_de_longest_prefix_wins_and_shipping_is_shared_by_value(customs_world, table):
    # line A: HS 640391 CNY 800 = EUR 100 -> prefix 6403, 8 %;  line B: HS 670420 CNY 800 = EUR 100 -> default 4 %
    # line C: HS 640299 CNY 400 = EUR 50 -> prefix 64, 5 %.  goods 250 > 150; shipping CNY 200 = EUR 25,
    # shared by value: A 10, B 10, C 5
    # duty A (100 + 10) x 8 % = 8.80; B 110 x 4 % = 4.40; C 55 x 5 % = 2.75 -> 15.95
    # VAT A (110 + 8.80) x 19 % = 22.572 -> 22.57; B (110 + 4.40) x 19 % = 21.736 -> 21.74;
    #     C (55 + 2.75) x 19 % = 10.9725 -> 10.97  -> 55.28
    # total 250 + 25 + 15.95 + 55.28 + 6 = 352.23
    cost = landed_cost(
        parcel(
            ("800", "CNY", 1, "640391"),
            ("800", "CNY", 1, "670420"),
            ("400", "CNY", 1, "640299"),
            shipping=Money("200", "CNY"),
        ),
        destination="DE",
        buyer_currency="EUR",
        rates=table,
    )
    assert [(line.duty_prefix, line.duty.amount, line.tax.amount) for line in cost.lines] == [
        ("6403", D("8.80"), D("22.57")),
        ("", D("4.40"), D("21.74")),
        ("64", D("2.75"), D("10.97")),
    ]
    assert (cost.duties.amount, cost.taxes.amount, cost.total.amount) == (D("15.95"), D("55.28"), D("352.23"))


def test_de_quote_in_dollars_records_the_rates_and_compares_the_threshold_in_euros(customs_world, table):
    # goods CNY 1,600 x 0.15625 = USD 250.00; in EUR 200 (> 150); shipping CNY 120 = USD 18.75
    # duty 8 % x (250 + 18.75) = 21.50; VAT 19 % x (268.75 + 21.50) = 55.1475 -> 55.15
    # fee EUR 6 x 1.25 = USD 7.50; total 250 + 18.75 + 21.50 + 55.15 + 7.50 = 352.90
    cost = landed_cost(
        parcel(("1600", "CNY", 1, "640391"), shipping=Money("120", "CNY")),
        destination="DE",
        buyer_currency="USD",
        rates=table,
    )
    assert cost.currency == "USD"
    assert (cost.duties.amount, cost.taxes.amount, cost.fees.amount, cost.total.amount) == (
        D("21.50"),
        D("55.15"),
        D("7.50"),
        D("352.90"),
    )
    used = {(c.source.currency.code, c.result.currency.code): c.rate for c in cost.fx}
    assert used == {("CNY", "USD"): D("0.15625"), ("EUR", "USD"): D("1.25"), ("CNY", "EUR"): D("0.125")}


def test_margin_raises_prices_but_not_the_threshold_comparison(customs_world, table):
    # 2 % margin: goods EUR 100 x 1.02 = 102.00, shipping 10.20; customs still sees EUR 100 (<= 150)
    # VAT 19 % x 112.20 = 21.318 -> 21.32; total 133.52
    cost = landed_cost(
        parcel(("400", "CNY", 2, "640391"), shipping=Money("80", "CNY")),
        destination="DE",
        buyer_currency="EUR",
        fx_margin_percent=D("2"),
        rates=table,
    )
    assert (cost.goods.amount, cost.duties.amount, cost.taxes.amount, cost.total.amount) == (
        D("102.00"),
        D("0.00"),
        D("21.32"),
        D("133.52"),
    )


@pytest.mark.parametrize(("ship_from", "code"), [("DE", "domestic"), ("FR", "customs_union")])
def test_stock_inside_the_destination_pays_no_duty_and_the_domestic_vat(customs_world, table, ship_from, code):
    # goods EUR 200 (above EUR 150, but no import); shipping EUR 5; VAT 19 % x 205 = 38.95 at checkout
    # total 243.95; DAP: nothing at the door, no clearance fee
    cost = landed_cost(
        parcel(("200", "EUR", 1, "640391"), shipping=Money("5", "EUR"), ship_from=ship_from, incoterm="DAP"),
        destination="DE",
        buyer_currency="EUR",
        rates=table,
    )
    assert cost.domestic is True
    assert amounts(cost) == {
        "goods": D("200.00"),
        "shipping": D("5.00"),
        "duties": D("0.00"),
        "taxes": D("38.95"),
        "fees": D("0.00"),
        "total": D("243.95"),
        "checkout": D("243.95"),
        "door": D("0.00"),
    }
    assert code in cost.rule_codes()
    assert "duty_due" not in cost.rule_codes()


# --- United Kingdom ----------------------------------------------------------------------------


def test_gb_below_135_gbp_vat_at_checkout(customs_world, table):
    # goods USD 100 x 0.64 = GBP 64.00 (<= 135: no duty); shipping USD 12.50 = GBP 8.00
    # VAT 20 % x 72 = 14.40 at checkout; total 86.40
    cost = landed_cost(
        parcel(("100", "USD", 1, "640391"), shipping=Money("12.50", "USD")),
        destination="GB",
        buyer_currency="GBP",
        rates=table,
    )
    assert (cost.goods.amount, cost.duties.amount, cost.taxes.amount, cost.fees.amount, cost.total.amount) == (
        D("64.00"),
        D("0.00"),
        D("14.40"),
        D("0.00"),
        D("86.40"),
    )
    assert "tax_at_checkout" in cost.rule_codes()


def test_gb_above_135_gbp_dap(customs_world, table):
    # goods USD 250 = GBP 160.00 (> 135); shipping USD 25 = GBP 16.00
    # duty 12 % (prefix 64) x (160 + 16) = 21.12; import VAT 20 % x (176 + 21.12) = 39.424 -> 39.42
    # handling fee 8.00; total 160 + 16 + 21.12 + 39.42 + 8 = 244.54; door 21.12 + 39.42 + 8 = 68.54
    cost = landed_cost(
        parcel(("250", "USD", 1, "640391"), shipping=Money("25", "USD"), incoterm="DAP"),
        destination="GB",
        buyer_currency="GBP",
        rates=table,
    )
    assert amounts(cost) == {
        "goods": D("160.00"),
        "shipping": D("16.00"),
        "duties": D("21.12"),
        "taxes": D("39.42"),
        "fees": D("8.00"),
        "total": D("244.54"),
        "checkout": D("176.00"),
        "door": D("68.54"),
    }


# --- United States -----------------------------------------------------------------------------


def test_us_small_parcel_pays_duty_from_the_first_cent_on_goods_only(customs_world, table):
    # goods CNY 160 = USD 25.00; shipping CNY 40 = USD 6.25; no de minimis since 2025-08-29
    # duty 10 % x 25 (FOB: shipping not included) = 2.50; no VAT; fee 5.00; total 38.75
    cost = landed_cost(
        parcel(("160", "CNY", 1, "420221"), shipping=Money("40", "CNY")),
        destination="US",
        buyer_currency="USD",
        rates=table,
    )
    assert (cost.goods.amount, cost.shipping.amount, cost.duties.amount, cost.taxes.amount) == (
        D("25.00"),
        D("6.25"),
        D("2.50"),
        D("0.00"),
    )
    assert (cost.fees.amount, cost.total.amount) == (D("5.00"), D("38.75"))
    assert "duty_due" in cost.rule_codes() and "duty_exempt" not in cost.rule_codes()


def test_us_flat_fee_per_item_and_dap(customs_world, table):
    # 3 x CNY 320 = USD 150.00, HS 670420 -> prefix 6704: 15 % + USD 1 per item; shipping CNY 80 = USD 12.50
    # duty 15 % x 150 = 22.50; fees 3 x 1 + 5 = 8.00; total 150 + 12.50 + 22.50 + 8 = 193.00
    # DAP: door 22.50 + 8 = 30.50, checkout 162.50
    cost = landed_cost(
        parcel(("320", "CNY", 3, "670420"), shipping=Money("80", "CNY"), incoterm="DAP"),
        destination="US",
        buyer_currency="USD",
        rates=table,
    )
    assert amounts(cost) == {
        "goods": D("150.00"),
        "shipping": D("12.50"),
        "duties": D("22.50"),
        "taxes": D("0.00"),
        "fees": D("8.00"),
        "total": D("193.00"),
        "checkout": D("162.50"),
        "door": D("30.50"),
    }
    assert "item_fee" in cost.rule_codes()


# --- Australia ---------------------------------------------------------------------------------


def test_au_below_1000_aud_gst_at_checkout_even_under_dap(customs_world, table):
    # goods USD 400 x 1.28 = AUD 512.00 (<= 1,000: no duty); shipping USD 20 = AUD 25.60
    # GST 10 % x (512 + 25.60) = 53.76 at checkout; total 591.36; DAP: nothing at the door
    cost = landed_cost(
        parcel(("400", "USD", 1, "691200"), shipping=Money("20", "USD"), incoterm="DAP"),
        destination="AU",
        buyer_currency="AUD",
        rates=table,
    )
    assert amounts(cost) == {
        "goods": D("512.00"),
        "shipping": D("25.60"),
        "duties": D("0.00"),
        "taxes": D("53.76"),
        "fees": D("0.00"),
        "total": D("591.36"),
        "checkout": D("591.36"),
        "door": D("0.00"),
    }


def test_au_above_1000_aud_duty_on_fob_gst_on_everything(customs_world, table):
    # goods 2 x USD 500 = AUD 1,280.00 (> 1,000); shipping USD 50 = AUD 64.00
    # duty 5 % x 1,280 (FOB) = 64.00; GST 10 % x (1,280 + 64 shipping + 64 duty) = 140.80
    # processing charge 50.00; total 1,280 + 64 + 64 + 140.80 + 50 = 1,598.80
    cost = landed_cost(
        parcel(("500", "USD", 2, "691200"), shipping=Money("50", "USD")),
        destination="AU",
        buyer_currency="AUD",
        rates=table,
    )
    assert (cost.goods.amount, cost.duties.amount, cost.taxes.amount, cost.fees.amount, cost.total.amount) == (
        D("1280.00"),
        D("64.00"),
        D("140.80"),
        D("50.00"),
        D("1598.80"),
    )
    assert "import_tax" in cost.rule_codes()


# --- Japan (JPY: no minor unit) ----------------------------------------------------------------


def test_jp_below_10000_jpy_no_duty_no_tax(customs_world, table):
    # goods CNY 400 x 20 = JPY 8,000 (<= 10,000: neither duty nor consumption tax); shipping CNY 60 = 1,200
    # total 9,200
    cost = landed_cost(
        parcel(("400", "CNY", 1, "610910"), shipping=Money("60", "CNY"), incoterm="DAP"),
        destination="JP",
        buyer_currency="JPY",
        rates=table,
    )
    assert (cost.goods.amount, cost.duties.amount, cost.taxes.amount, cost.total.amount, cost.due_at_door.amount) == (
        D("8000"),
        D("0"),
        D("0"),
        D("9200"),
        D("0"),
    )
    assert {"duty_exempt", "tax_exempt"} <= set(cost.rule_codes())


def test_jp_above_10000_jpy_rounds_to_whole_yen_once_per_line(customs_world, table):
    # goods CNY 650.37 x 20 = 13,007.4 -> 13,007 (> 10,000); shipping CNY 75.03 x 20 = 1,500.6 -> 1,501
    # duty 10 % x CIF (13,007.4 + 1,500.6 = 14,508) = 1,450.8 -> 1,451
    # consumption tax 10 % x (14,508 + 1,450.8) = 1,595.88 -> 1,596
    # total 13,007 + 1,501 + 1,451 + 1,596 = 17,555 (DDP)
    cost = landed_cost(
        parcel(("650.37", "CNY", 1, "610910"), shipping=Money("75.03", "CNY")),
        destination="JP",
        buyer_currency="JPY",
        rates=table,
    )
    assert amounts(cost) == {
        "goods": D("13007"),
        "shipping": D("1501"),
        "duties": D("1451"),
        "taxes": D("1596"),
        "fees": D("0"),
        "total": D("17555"),
        "checkout": D("17555"),
        "door": D("0"),
    }


# --- Brazil (tiers, tax "by inside") -----------------------------------------------------------


def test_br_up_to_50_usd_20_percent_and_icms_by_inside(customs_world, table):
    # goods USD 40 x 5 = BRL 200.00 (<= USD 50: 20 %); shipping USD 5 = BRL 25.00
    # duty 20 % x (200 + 25) = 45.00
    # ICMS 17 % by inside: (225 + 45) x 0.17 / 0.83 = 55.3012... -> 55.30; Correios fee 15.00
    # total 200 + 25 + 45 + 55.30 + 15 = 340.30
    cost = landed_cost(
        parcel(("40", "USD", 1, "420221"), shipping=Money("5", "USD")),
        destination="BR",
        buyer_currency="BRL",
        rates=table,
    )
    assert (cost.duties.amount, cost.taxes.amount, cost.fees.amount, cost.total.amount) == (
        D("45.00"),
        D("55.30"),
        D("15.00"),
        D("340.30"),
    )
    assert "duty_tier" not in cost.rule_codes() and "tax_inclusive" in cost.rule_codes()


def test_br_above_50_usd_60_percent_less_20_usd(customs_world, table):
    # goods USD 100 = BRL 500.00 (> USD 50: 60 %, less USD 20 = BRL 100); shipping USD 10 = BRL 50.00
    # duty 60 % x (500 + 50) = 330 - 100 = 230.00
    # ICMS (550 + 230) x 0.17 / 0.83 = 159.7590... -> 159.76; fee 15.00
    # total 500 + 50 + 230 + 159.76 + 15 = 954.76
    cost = landed_cost(
        parcel(("100", "USD", 1, "420221"), shipping=Money("10", "USD")),
        destination="BR",
        buyer_currency="BRL",
        rates=table,
    )
    assert (cost.goods.amount, cost.duties.amount, cost.taxes.amount, cost.fees.amount, cost.total.amount) == (
        D("500.00"),
        D("230.00"),
        D("159.76"),
        D("15.00"),
        D("954.76"),
    )
    assert cost.lines[0].duty_rate == D("60")
    assert "duty_tier" in cost.rule_codes()


# --- Kuwait (KWD: three decimals) --------------------------------------------------------------


def test_kw_above_100_kwd_three_decimals(customs_world, table):
    # goods USD 400.05 x 0.3 = KWD 120.015 (> 100); shipping USD 20.01 = KWD 6.003
    # duty 5 % x (120.015 + 6.003) = 6.3009 -> 6.301; no VAT; total 132.319, all at the door (DAP)
    cost = landed_cost(
        parcel(("400.05", "USD", 1, "330499"), shipping=Money("20.01", "USD"), incoterm="DAP"),
        destination="KW",
        buyer_currency="KWD",
        rates=table,
    )
    assert amounts(cost) == {
        "goods": D("120.015"),
        "shipping": D("6.003"),
        "duties": D("6.301"),
        "taxes": D("0.000"),
        "fees": D("0.000"),
        "total": D("132.319"),
        "checkout": D("126.018"),
        "door": D("6.301"),
    }


def test_kw_below_100_kwd_no_duty(customs_world, table):
    # goods USD 300 x 0.3 = KWD 90.000 (<= 100); shipping USD 10 = KWD 3.000; total 93.000
    cost = landed_cost(
        parcel(("300", "USD", 1, "330499"), shipping=Money("10", "USD")),
        destination="KW",
        buyer_currency="KWD",
        rates=table,
    )
    assert (cost.duties.amount, cost.total.amount) == (D("0.000"), D("93.000"))


# --- Errors, rules text, cache -----------------------------------------------------------------


def test_missing_rules_are_domain_errors(customs_world, table):
    DutyRate.objects.filter(country="GB", hs_prefix="").delete()
    with pytest.raises(MissingDutyRate) as missing:
        landed_cost(
            parcel(("250", "USD", 1, "851712"), shipping=Money("25", "USD")),
            destination="GB",
            buyer_currency="GBP",
            rates=table,
        )
    assert missing.value.code == "missing_duty_rate"
    with pytest.raises(UnknownDestination):
        landed_cost(
            parcel(("1", "USD", 1, "851712"), shipping=Money("1", "USD")), destination="ZZ", buyer_currency="USD"
        )


def test_rules_are_human_readable(customs_world, table):
    cost = landed_cost(
        parcel(("1600", "CNY", 1, "640391"), shipping=Money("120", "CNY"), incoterm="DAP"),
        destination="DE",
        buyer_currency="EUR",
        rates=table,
    )
    texts = " ".join(rule.text for rule in cost.rules)
    assert "€200.00" in texts and "€150.00" in texts  # goods value and threshold, in euros
    assert "VAT 19%" in texts and "HS 640391" in texts


def test_rule_changes_reach_the_next_quote(customs_world, table, django_assert_num_queries):
    def quote():
        return landed_cost(
            parcel(("1600", "CNY", 1, "640391"), shipping=Money("120", "CNY")),
            destination="DE",
            buyer_currency="EUR",
            rates=table,
        )

    assert quote().duties.amount == D("17.20")
    with django_assert_num_queries(0):  # the destination's rules are cached
        quote()
    rate = DutyRate.objects.get(country="DE", hs_prefix="6403")
    rate.rate = D("10")
    rate.save()
    # duty 10 % x 215 = 21.50
    assert quote().duties.amount == D("21.50")
    assert customs_rules("DE").rates["6403"].rate == D("10")
