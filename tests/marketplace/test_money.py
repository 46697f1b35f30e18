"""Money on its way to a person: rounding to the minor unit, conversion, locale formatting, markup.

Expected strings are written from CLDR's patterns (as Babel applies them): symbol, its side, the
grouping and decimal separators, and the spaces (U+00A0 no-break, U+202F narrow no-break, U+200F
right-to-left mark).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.template import Context, Template
from django.utils import translation
from djmoney.money import Money

from marketplace.fx.services import MissingRate, RateInfo, RateTable, convert
from marketplace.money import amount_string, currency_digits, format_money, round_money

NBSP = "\u00a0"
NNBSP = "\u202f"
RLM = "\u200f"


# --- Rounding ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "digits"),
    [("JPY", 0), ("VND", 0), ("KRW", 0), ("EUR", 2), ("USD", 2), ("GBP", 2), ("KWD", 3), ("BHD", 3)],
)
def test_each_currency_has_its_own_minor_unit(code: str, digits: int) -> None:
    # when / then
    assert currency_digits(code) == digits


@pytest.mark.parametrize(
    ("amount", "code", "expected"),
    [
        ("1234.5", "JPY", "1235"),
        ("1234.4999", "JPY", "1234"),
        ("2.5", "JPY", "3"),  # half up: banker's rounding would give 2
        ("-2.5", "JPY", "-3"),  # half up is away from zero
        ("12345.5", "VND", "12346"),
        ("0.4", "VND", "0"),
        ("2.675", "EUR", "2.68"),
        ("2.665", "EUR", "2.67"),  # banker's rounding would give 2.66
        ("0.125", "USD", "0.13"),
        ("5", "EUR", "5.00"),
        ("1234567.891", "EUR", "1234567.89"),
        ("0.0005", "KWD", "0.001"),
        ("0.0004999", "KWD", "0.000"),
        ("1.2345", "BHD", "1.235"),
        ("7", "BHD", "7.000"),
        ("1E+3", "EUR", "1000.00"),  # never exponent notation in data-amount
    ],
)
def test_rounding_is_half_up_to_the_minor_unit(amount: str, code: str, expected: str) -> None:
    # given
    money = Money(amount, code)

    # when
    rounded = round_money(money)

    # then
    assert rounded == Money(expected, code)
    assert rounded.currency.code == code
    assert amount_string(money) == expected


# --- Conversion through EUR ---------------------------------------------------------------------

_AS_OF = datetime(2025, 1, 15, 15, 0, tzinfo=UTC)
_TABLE = RateTable(
    refresh_id=7,
    checked_at=_AS_OF,
    rates={
        code: RateInfo(Decimal(value), "test", _AS_OF, False)
        for code, value in {
            "USD": "1.0850",
            "JPY": "162.35",
            "KWD": "0.3432",
            "BHD": "0.4101",
            "VND": "29450",
        }.items()
    },
)


@pytest.mark.parametrize(
    ("amount", "source", "target", "expected"),
    [
        ("100", "EUR", "VND", "2945000"),
        # 10 x 29450 / 1.0850 = 271428.57...
        ("10", "USD", "VND", "271429"),
        # 19.99 x 162.35 / 1.0850 = 2991.13...
        ("19.99", "USD", "JPY", "2991"),
        # 1 x 0.3432 / 0.4101 = 0.83687...
        ("1", "BHD", "KWD", "0.837"),
        # 1000 x 0.4101 / 162.35 = 2.52602...
        ("1000", "JPY", "BHD", "2.526"),
        # 30 x 162.35 = 4870.5
        ("30", "EUR", "JPY", "4871"),
        # 2945000 VND is 100 EUR: 100 x 1.0850
        ("2945000", "VND", "USD", "108.50"),
    ],
)
def test_conversion_goes_through_eur_and_rounds_once(amount: str, source: str, target: str, expected: str) -> None:
    # when
    conversion = convert(Money(amount, source), target, table=_TABLE)

    # then
    assert conversion.result == Money(expected, target)
    assert amount_string(conversion.result) == expected
    assert conversion.source == Money(amount, source)
    assert conversion.refresh_id == 7


def test_conversion_adds_and_records_the_market_margin() -> None:
    # when: 100 / 1.0850 = 92.1659 EUR, plus 2 % = 94.0092
    conversion = convert(Money("100", "USD"), "EUR", margin_percent=Decimal("2"), table=_TABLE)

    # then: the rate recorded is the one applied, margin included, unrounded
    assert conversion.result == Money("94.01", "EUR")
    assert conversion.margin_percent == Decimal("2")
    assert conversion.rate == Decimal("1.02") / Decimal("1.0850")


def test_conversion_into_the_same_currency_changes_nothing() -> None:
    # when
    conversion = convert(Money("12.345", "EUR"), "EUR", margin_percent=Decimal("5"), table=_TABLE)

    # then: no rate, no margin, no rounding
    assert conversion.result == Money("12.345", "EUR")
    assert conversion.rate == Decimal(1)
    assert conversion.margin_percent == Decimal(0)


def test_conversion_without_a_rate_is_refused() -> None:
    # when / then: the table has no AED
    with pytest.raises(MissingRate):
        convert(Money("10", "EUR"), "AED", table=_TABLE)


# --- Money arithmetic ------------------------------------------------------------------------------


def test_adding_or_subtracting_two_currencies_raises() -> None:
    # given
    euros, dollars = Money("1", "EUR"), Money("1", "USD")

    # when / then
    with pytest.raises(TypeError):
        euros + dollars
    with pytest.raises(TypeError):
        euros - dollars
    assert euros + Money("2.50", "EUR") == Money("3.50", "EUR")


# --- Formatting in the ten languages -------------------------------------------------------------

# Per language: 1,234,567.891 EUR and 1,234,567.5 JPY (both rounded first), as CLDR writes them.
_FORMATS = {
    "en": ("€1,234,567.89", "¥1,234,568"),
    "zh-hans": ("€1,234,567.89", "JP¥1,234,568"),
    "es": (f"1.234.567,89{NBSP}€", f"1.234.568{NBSP}JPY"),
    "pt-br": (f"€{NBSP}1.234.567,89", f"JP¥{NBSP}1.234.568"),
    "ru": (f"1{NBSP}234{NBSP}567,89{NBSP}€", f"1{NBSP}234{NBSP}568{NBSP}¥"),
    "ar": (f"{RLM}1,234,567.89{NBSP}€", f"{RLM}1,234,568{NBSP}JP¥"),
    "de": (f"1.234.567,89{NBSP}€", f"1.234.568{NBSP}¥"),
    "fr": (f"1{NNBSP}234{NNBSP}567,89{NBSP}€", f"1{NNBSP}234{NNBSP}568{NBSP}JPY"),
    "ja": ("€1,234,567.89", "￥1,234,568"),
    "vi": (f"1.234.567,89{NBSP}€", f"1.234.568{NBSP}¥"),
}


def test_every_supported_language_has_a_formatting_case(settings: object) -> None:
    # then
    assert set(_FORMATS) == {code for code, _name in settings.LANGUAGES}  # type: ignore[attr-defined]


@pytest.mark.parametrize("language", list(_FORMATS))
def test_money_is_formatted_for_each_language(language: str) -> None:
    # given
    euros, yen = Money("1234567.891", "EUR"), Money("1234567.5", "JPY")
    expected_euros, expected_yen = _FORMATS[language]

    # when / then: explicitly, and from the active language
    assert format_money(euros, language) == expected_euros
    assert format_money(yen, language) == expected_yen
    with translation.override(language):
        assert format_money(euros) == expected_euros


@pytest.mark.parametrize(
    ("language", "money", "expected"),
    [
        ("ja", Money("1234.5", "JPY"), "￥1,235"),
        ("de", Money("1234.56", "EUR"), f"1.234,56{NBSP}€"),
        ("en", Money("1234.5", "USD"), "$1,234.50"),
        ("pt-br", Money("99.999", "BRL"), f"R${NBSP}100,00"),
        ("vi", Money("1234567.5", "VND"), f"1.234.568{NBSP}₫"),
        ("ar", Money("1234.5678", "KWD"), f"{RLM}1,234.568{NBSP}د.ك.{RLM}"),
        ("en", Money("-2.5", "JPY"), "-¥3"),
    ],
)
def test_money_is_rounded_before_it_is_formatted(language: str, money: Money, expected: str) -> None:
    # when / then
    assert format_money(money, language) == expected


@pytest.mark.parametrize(
    ("language", "money", "expected"),
    [
        # CLDR's currency spacing: a no-break space between digits and a symbol ending in a letter ...
        ("en", Money("1234.5", "CHF"), f"CHF{NBSP}1,234.50"),
        ("en", Money("-1234.5678", "KWD"), f"-KWD{NBSP}1,234.568"),
        ("ja", Money("1234.5", "SEK"), f"SEK{NBSP}1,234.50"),
        ("zh-hans", Money("99", "AED"), f"AED{NBSP}99.00"),
        # ... but none after a currency sign, and no second one where the pattern has a space
        ("zh-hans", Money("1234.5", "USD"), "US$1,234.50"),
        ("pt-br", Money("1234.5", "CHF"), f"CHF{NBSP}1.234,50"),
        ("de", Money("1234.5", "CHF"), f"1.234,50{NBSP}CHF"),
    ],
)
def test_letter_symbols_are_spaced_from_the_digits(language: str, money: Money, expected: str) -> None:
    # when / then
    assert format_money(money, language) == expected


# --- The {% money %} tag ------------------------------------------------------------------------------


class _Spans(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.spans: list[tuple[dict[str, str | None], str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "span":
            self.spans.append((dict(attrs), ""))

    def handle_data(self, data: str) -> None:
        if self.spans:
            attrs, text = self.spans[-1]
            self.spans[-1] = (attrs, text + data)


def render(source: str, language: str = "en", **context: object) -> str:
    with translation.override(language):
        return Template("{% load money %}" + source).render(Context(context))


def test_the_money_tag_renders_the_contract_markup() -> None:
    # when
    html = render("{% money price %}", "de", price=Money("1234.555", "EUR"))

    # then
    assert html == (
        f'<span class="money" data-testid="price" data-amount="1234.56" data-currency="EUR">1.234,56{NBSP}€</span>'
    )


@pytest.mark.parametrize(
    ("language", "money", "testid", "amount", "text"),
    [
        ("ja", Money("1234.5", "JPY"), "cart-total", "1235", "￥1,235"),
        ("en", Money("0.0005", "KWD"), "quote-total", "0.001", f"KWD{NBSP}0.001"),
        ("fr", Money("19.9", "EUR"), "price", "19.90", f"19,90{NBSP}€"),
    ],
)
def test_the_money_tag_carries_machine_readable_values(
    language: str, money: Money, testid: str, amount: str, text: str
) -> None:
    # when
    parser = _Spans()
    parser.feed(render('{% money value "' + testid + '" %}', language, value=money))

    # then
    [(attrs, shown)] = parser.spans
    assert attrs["data-testid"] == testid
    assert attrs["data-amount"] == amount
    assert attrs["data-currency"] == money.currency.code
    assert shown == text


def test_the_money_tag_escapes_what_it_is_given() -> None:
    # when
    html = render(
        "{% money value testid title=title %}",
        value=Money("1", "USD"),
        testid='x"><script>alert(1)</script>',
        title="<b>rate</b> & co",
    )

    # then
    assert "<script>" not in html and "<b>" not in html
    parser = _Spans()
    parser.feed(html)
    [(attrs, _shown)] = parser.spans
    assert attrs["data-testid"] == 'x"><script>alert(1)</script>'
    assert attrs["title"] == "<b>rate</b> & co"


def test_the_money_tag_shows_nothing_for_no_amount_and_can_store_its_result() -> None:
    # when / then
    assert render("[{% money value %}]", value=None) == "[]"
    assert render("{% money value testid='fx-rate' as shown %}<p>{{ shown }}</p>", value=Money("2", "EUR")) == (
        '<p><span class="money" data-testid="fx-rate" data-amount="2.00" data-currency="EUR">€2.00</span></p>'
    )
