"""The demo gateway's card form: well-formed input only (Luhn, expiry, CVC); which test number
does what is the gateway's business (``payments.demo_gateway.TEST_CARDS``)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .demo_gateway import TEST_CARDS


def luhn_ok(number: str) -> bool:
    """The check digit of card numbers (ISO/IEC 7812): every second digit from the right doubled."""
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


class DemoCardForm(forms.Form):
    number = forms.CharField(
        label=_("Card number"),
        max_length=23,
        widget=forms.TextInput(
            attrs={"autocomplete": "cc-number", "inputmode": "numeric", "data-testid": "card-number"}
        ),
    )
    expiry = forms.CharField(
        label=_("Expiry (MM/YY)"),
        max_length=7,
        widget=forms.TextInput(attrs={"autocomplete": "cc-exp", "placeholder": "MM/YY", "data-testid": "card-expiry"}),
    )
    cvc = forms.CharField(
        label=_("Security code (CVC)"),
        max_length=4,
        widget=forms.TextInput(attrs={"autocomplete": "cc-csc", "inputmode": "numeric", "data-testid": "card-cvc"}),
    )

    def clean_number(self) -> str:
        number = re.sub(r"[\s-]", "", self.cleaned_data["number"])
        if not number.isdigit() or not 12 <= len(number) <= 19 or not luhn_ok(number):
            raise forms.ValidationError(_("This card number is not valid."))
        if number not in TEST_CARDS:
            raise forms.ValidationError(_("The demo gateway accepts only its test card numbers."))
        return number

    def clean_expiry(self) -> date:
        match = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*", self.cleaned_data["expiry"])
        if match is None or not 1 <= int(match[1]) <= 12:
            raise forms.ValidationError(_("Enter the expiry date as MM/YY."))
        month, year = int(match[1]), int(match[2])
        year = year + 2000 if year < 100 else year
        today = timezone.localdate()
        if (year, month) < (today.year, today.month):
            raise forms.ValidationError(_("This card has expired."))
        return date(year, month, 1)

    def clean_cvc(self) -> str:
        cvc = self.cleaned_data["cvc"].strip()
        if not re.fullmatch(r"\d{3,4}", cvc):
            raise forms.ValidationError(_("The security code is 3 or 4 digits."))
        return cvc

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        number, cvc = data.get("number"), data.get("cvc")
        if number and cvc:
            amex = number[:2] in {"34", "37"}
            if len(cvc) != (4 if amex else 3):
                self.add_error("cvc", _("The security code is 3 or 4 digits."))
        return data
