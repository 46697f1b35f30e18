"""Forms check that input is well-formed; prices and quantities are never taken from them."""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
from django import forms
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from .models import MAX_LINE_QUANTITY

# Countries without postal codes (a small rule; everywhere else the code is required).
_NO_POSTAL_CODE = "AE AG AO AW BF BI BJ BO BS BW BZ CD CF CG CI CK CM DJ DM ER FJ GA GD GH GM GQ GY HK JM KI KM KN KP LC ML MO MR MS MW NR NU QA RW SB SC SL SR ST SY TF TG TK TL TO TT TV UG VU YE ZW"  # noqa: E501
NO_POSTAL_CODE = frozenset(_NO_POSTAL_CODE.split())
POSTAL_CODE_FORMATS = {
    "US": r"\d{5}(-\d{4})?",
    "DE": r"\d{5}",
    "FR": r"\d{5}",
    "ES": r"\d{5}",
    "IT": r"\d{5}",
    "BR": r"\d{5}-?\d{3}",
    "JP": r"\d{3}-?\d{4}",
    "CN": r"\d{6}",
    "RU": r"\d{6}",
    "VN": r"\d{5,6}",
}


class AddToCartForm(forms.Form):
    variant = forms.IntegerField(min_value=1)
    quantity = forms.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY, initial=1)


class LineQuantityForm(forms.Form):
    quantity = forms.IntegerField(min_value=0, max_value=MAX_LINE_QUANTITY)


class CheckoutAddressForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"))
    name = forms.CharField(label=_("Full name"), max_length=200)
    line1 = forms.CharField(label=_("Address"), max_length=200)
    line2 = forms.CharField(label=_("Address (continued)"), max_length=200, required=False)
    city = forms.CharField(label=_("City"), max_length=120)
    postal_code = forms.CharField(label=_("Postal code"), max_length=20, required=False)
    country = forms.ChoiceField(label=_("Country"), choices=[])
    phone = forms.CharField(label=_("Phone"), max_length=32, help_text=_("With the country code, e.g. +49 30 1234567."))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [("", "---------"), *countries]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        country = data.get("country")
        if not country:
            return data
        postal = (data.get("postal_code") or "").strip().upper()
        if country not in NO_POSTAL_CODE:
            if not postal:
                self.add_error("postal_code", _("A postal code is required for this country."))
            elif (pattern := POSTAL_CODE_FORMATS.get(country)) and not re.fullmatch(pattern, postal):
                self.add_error("postal_code", _("This is not a valid postal code for this country."))
        data["postal_code"] = postal
        phone = data.get("phone")
        if phone:
            try:
                number = phonenumbers.parse(phone, country)
            except phonenumbers.NumberParseException:
                number = None
            if number is None or not phonenumbers.is_valid_number(number):
                self.add_error("phone", _("Enter a valid phone number, with the country code."))
            else:
                data["phone"] = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        return data


class PlaceOrderForm(forms.Form):
    """The checkout's token and the buyer's choices: a payment method code and, per shipment, a
    delivery option (``shipping-<warehouse id>`` = shipping method id). Only ids and codes: the
    services check them against what is offered and recompute every amount."""

    token = forms.UUIDField()
    payment_method = forms.CharField(max_length=32, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        shipping: dict[int, int] = {}
        for key, value in self.data.items():
            if not key.startswith("shipping-"):
                continue
            try:
                shipping[int(key.removeprefix("shipping-"))] = int(value)
            except (TypeError, ValueError):
                raise forms.ValidationError(_("This delivery option is not available for this shipment.")) from None
        data["shipping"] = shipping
        return data


class PayOrderForm(forms.Form):
    payment_method = forms.CharField(max_length=32)
