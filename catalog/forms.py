from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .selectors import Sort


class ListingForm(forms.Form):
    """The listing's query string. Invalid values are reported and ignored, never a 500."""

    q = forms.CharField(required=False, max_length=200, label=_("Search"))
    category = forms.SlugField(required=False, label=_("Category"))
    seller = forms.SlugField(required=False, label=_("Seller"))
    origin = forms.CharField(required=False, max_length=2, min_length=2, label=_("Country of origin"))
    min_price = forms.DecimalField(
        required=False, min_value=Decimal(0), max_digits=14, decimal_places=3, label=_("Minimum price")
    )
    max_price = forms.DecimalField(
        required=False, min_value=Decimal(0), max_digits=14, decimal_places=3, label=_("Maximum price")
    )
    in_stock = forms.BooleanField(required=False, label=_("In stock"))
    local_stock = forms.BooleanField(required=False, label=_("Ships from my country"))
    sort = forms.ChoiceField(
        required=False,
        choices=[
            (Sort.RELEVANCE, _("Relevance")),
            (Sort.PRICE_ASC, _("Price: low to high")),
            (Sort.PRICE_DESC, _("Price: high to low")),
            (Sort.NEWEST, _("Newest")),
        ],
        label=_("Sort by"),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            self.add_error("max_price", _("The maximum price must not be below the minimum price."))
        return data

    def valid_filters(self) -> dict[str, Any]:
        """Every field that validated; the invalid ones are dropped (and shown as errors)."""
        self.is_valid()
        return {name: value for name, value in self.cleaned_data.items() if name not in self.errors}
