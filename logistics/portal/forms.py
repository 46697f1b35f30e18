"""The seller's stock change form: well-formedness only (the service enforces the stock rules)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from catalog.models import Seller

from ..exceptions import InvalidTrackingNumber
from ..models import Shipment, StockAdjustment
from ..models.shipments import TRACKING_NUMBER_MAX
from ..shipments import normalise_tracking_number
from ..stock import Operation
from .selectors import variants_for_seller, warehouses_for_seller

MAX_UNITS = 1_000_000
SELLER_REASONS = [
    (value, label) for value, label in StockAdjustment.Reason.choices if value != StockAdjustment.Reason.SHIPPED
]


class StockChangeForm(forms.Form):
    variant = forms.ModelChoiceField(queryset=None, label=_("Variant"), empty_label=None)  # type: ignore[arg-type]
    warehouse = forms.ModelChoiceField(queryset=None, label=_("Warehouse"), empty_label=None)  # type: ignore[arg-type]
    operation = forms.ChoiceField(
        choices=[
            (Operation.ADD, _("Add units")),
            (Operation.REMOVE, _("Remove units")),
            (Operation.SET, _("Set count to")),
        ],
        label=_("Change"),
    )
    quantity = forms.IntegerField(
        min_value=0,
        max_value=MAX_UNITS,
        label=_("Units"),
        error_messages={
            "min_value": _("Enter a number of units, zero or more; to take units away choose “Remove units”."),
            "invalid": _("Enter a whole number of units."),
        },
    )
    reason = forms.ChoiceField(choices=SELLER_REASONS, label=_("Reason"))
    note = forms.CharField(max_length=300, required=False, label=_("Note"))

    def __init__(self, *args: Any, seller: Seller, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["variant"].queryset = variants_for_seller(seller)  # type: ignore[attr-defined]
        self.fields["variant"].label_from_instance = lambda v: f"{v.sku} · {v.product.name} {v.option_label}".strip()  # type: ignore[attr-defined]
        self.fields["warehouse"].queryset = warehouses_for_seller(seller)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("operation") in (Operation.ADD, Operation.REMOVE) and data.get("quantity") == 0:
            self.add_error("quantity", _("Enter how many units to add or remove."))
        return data


class ShipForm(forms.Form):
    """ "Mark shipped": a tracking number (checked like the service does; never stripped, so a space
    is an error the seller sees) and one of the configured carriers."""

    tracking_number = forms.CharField(
        label=_("Tracking number"),
        max_length=TRACKING_NUMBER_MAX,
        strip=False,
        help_text=_("6 to 40 characters: capital letters, digits and hyphens."),
    )
    carrier = forms.ChoiceField(choices=(), label=_("Carrier"))

    def __init__(self, *args: Any, shipment: Shipment, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"id_ship{shipment.pk}_%s")
        kwargs.setdefault("initial", {"carrier": shipment.carrier, "tracking_number": shipment.tracking_number})
        super().__init__(*args, **kwargs)
        self.shipment = shipment
        self.fields["carrier"].choices = [(code, code) for code in settings.CARRIERS]  # type: ignore[attr-defined]

    def clean_tracking_number(self) -> str:
        try:
            return normalise_tracking_number(self.cleaned_data["tracking_number"])
        except InvalidTrackingNumber as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from exc
