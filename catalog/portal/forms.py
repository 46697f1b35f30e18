"""Forms of the seller portal. They only check that input is well-formed; services write."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _
from django_countries import countries
from djmoney.money import Money

from ..images import validate_image
from ..models import Category, Product, Variant, hs_code_validator
from ..services import LANGUAGE_CODES, TRANSLATED_PRODUCT_FIELDS, column
from .services import PRODUCT_FIELDS, TEXT_COLUMNS, price_problem

MAX_OPTION_KEY = 40
MAX_OPTION_VALUE = 100
MAX_IMPORT_BYTES = 5 * 1024 * 1024
LANGUAGE_NAMES = dict(settings.LANGUAGES)


def parse_option_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """``["size=M", "colour=black"]`` -> ``{"size": "M", "colour": "black"}``; blank items are skipped."""
    options: dict[str, str] = {}
    for raw in pairs:
        pair = raw.strip()
        if not pair:
            continue
        key, sep, value = pair.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise forms.ValidationError(
                _("Write each option as name=value (e.g. size=M), not “%(pair)s”."), params={"pair": pair[:60]}
            )
        if len(key) > MAX_OPTION_KEY or len(value) > MAX_OPTION_VALUE:
            raise forms.ValidationError(
                _("Option names have at most %(k)s characters and values at most %(v)s."),
                params={"k": MAX_OPTION_KEY, "v": MAX_OPTION_VALUE},
            )
        if key in options:
            raise forms.ValidationError(_("The option “%(key)s” is given twice."), params={"key": key})
        options[key] = value
    return options


def options_as_lines(options: dict[str, Any] | None) -> str:
    return "\n".join(f"{k}={v}" for k, v in (options or {}).items())


class CategoryChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Category) -> str:
        return f"{obj.parent.name} › {obj.name}" if obj.parent_id else obj.name


def _country_choices() -> list[tuple[str, str]]:
    return [("", "—"), *((c.code, c.name) for c in countries)]


class ProductForm(forms.Form):
    """A product's facts and its texts in every language (``name_en``, ``name_de``, ...).

    Only the English name is required; a language left empty falls back to English in the shop.
    """

    category = CategoryChoiceField(
        queryset=Category.objects.select_related("parent").order_by("parent__position", "position", "slug"),
        label=_("Category"),
    )
    brand = forms.CharField(label=_("Brand"), max_length=80, required=False)
    hs_code = forms.CharField(
        label=_("HS code"),
        max_length=20,
        validators=[hs_code_validator],
        help_text=_("6 to 10 digits, from your customs tariff (e.g. 670411)."),
    )
    origin_country = forms.ChoiceField(label=_("Country of origin"), choices=_country_choices)

    def __init__(self, *args: Any, creating: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.creating = creating
        for lang in LANGUAGE_CODES:
            attrs = {"lang": lang, "dir": "auto"}
            self.fields[column("name", lang)] = forms.CharField(
                label=_("Name"), max_length=200, required=lang == "en", widget=forms.TextInput(attrs=attrs)
            )
            self.fields[column("short_description", lang)] = forms.CharField(
                label=_("Short description"), max_length=300, required=False, widget=forms.TextInput(attrs=attrs)
            )
            self.fields[column("description", lang)] = forms.CharField(
                label=_("Description"), required=False, widget=forms.Textarea(attrs={**attrs, "rows": 6})
            )
            self.fields[column("material_care", lang)] = forms.CharField(
                label=_("Material and care"), required=False, widget=forms.Textarea(attrs={**attrs, "rows": 3})
            )
        if creating:
            self.fields["slug"] = forms.SlugField(
                label=_("Web address"),
                max_length=120,
                required=False,
                help_text=_(
                    "Letters, digits and dashes; made from the English name when left empty. Cannot change later."
                ),
            )

    @classmethod
    def initial_for(cls, product: Product) -> dict[str, Any]:
        initial: dict[str, Any] = {name: getattr(product, name) or "" for name in TEXT_COLUMNS}
        initial.update(
            category=product.category_id,
            brand=product.brand,
            hs_code=product.hs_code,
            origin_country=product.origin_country.code if product.origin_country else "",
        )
        return initial

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        if slug and Product.objects.filter(slug=slug).exists():
            raise forms.ValidationError(_("This web address is already used. Choose another."))
        return slug

    def product_values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in PRODUCT_FIELDS}

    def language_groups(self, statuses: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """One entry per language tab: its fields, whether one has an error, and its
        translation status (``catalog.services.translation_status``) when editing."""
        groups = []
        for lang in LANGUAGE_CODES:
            fields = [self[column(f, lang)] for f in TRANSLATED_PRODUCT_FIELDS]
            groups.append(
                {
                    "code": lang,
                    "name": LANGUAGE_NAMES[lang],
                    "fields": fields,
                    "has_errors": any(f.errors for f in fields),
                    "status": (statuses or {}).get(lang, ""),
                }
            )
        return groups


class VariantForm(forms.Form):
    sku = forms.CharField(label=_("SKU"), max_length=64)
    options = forms.CharField(
        label=_("Options"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "size=M\ncolour=black"}),
        help_text=_("One per line, as name=value."),
    )
    price = forms.DecimalField(label=_("Price"))
    weight_grams = forms.IntegerField(label=_("Weight (g)"), min_value=1)
    length_mm = forms.IntegerField(label=_("Length (mm)"), min_value=0, required=False)
    width_mm = forms.IntegerField(label=_("Width (mm)"), min_value=0, required=False)
    height_mm = forms.IntegerField(label=_("Height (mm)"), min_value=0, required=False)
    active = forms.BooleanField(label=_("Available for sale"), required=False, initial=True)

    def __init__(self, *args: Any, currency: str, variant: Variant | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.variant = variant

    @classmethod
    def initial_for(cls, variant: Variant) -> dict[str, Any]:
        return {
            "sku": variant.sku,
            "options": options_as_lines(variant.options),
            "price": format(variant.price.amount.normalize(), "f") if variant.price is not None else None,
            "weight_grams": variant.weight_grams,
            "length_mm": variant.length_mm,
            "width_mm": variant.width_mm,
            "height_mm": variant.height_mm,
            "active": variant.active,
        }

    def clean_sku(self) -> str:
        sku = self.cleaned_data["sku"].strip()
        if any(ch.isspace() for ch in sku):
            raise forms.ValidationError(_("A SKU has no spaces."))
        taken = Variant.objects.filter(sku=sku)
        if self.variant is not None:
            taken = taken.exclude(pk=self.variant.pk)
        if taken.exists():
            raise forms.ValidationError(
                _("The SKU %(sku)s is already used. Each SKU must be unique."), params={"sku": sku}
            )
        return sku

    def clean_options(self) -> dict[str, str]:
        return parse_option_pairs(self.cleaned_data["options"].splitlines())

    def clean_price(self) -> Decimal:
        amount = self.cleaned_data["price"]
        if problem := price_problem(amount, self.currency):
            raise forms.ValidationError(problem)
        return amount

    def variant_values(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "sku": data["sku"],
            "options": data["options"],
            "price": Money(data["price"], self.currency),
            "weight_grams": data["weight_grams"],
            "length_mm": data["length_mm"] or 0,
            "width_mm": data["width_mm"] or 0,
            "height_mm": data["height_mm"] or 0,
            "active": data["active"],
        }


class ExplicitPriceForm(forms.Form):
    """A price in another currency, which wins over conversion for buyers paying in it."""

    currency = forms.CharField(label=_("Currency"), widget=forms.TextInput(attrs={"list": "currency-codes", "size": 5}))
    amount = forms.DecimalField(label=_("Price"))

    def __init__(self, *args: Any, seller_currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seller_currency = seller_currency

    def clean_currency(self) -> str:
        code = self.cleaned_data["currency"].strip().upper()
        if code not in settings.CURRENCIES:
            raise forms.ValidationError(
                _("Unknown currency: %(code)s. Use one of the supported currency codes."), params={"code": code[:10]}
            )
        if code == self.seller_currency:
            raise forms.ValidationError(
                _("%(code)s is your own currency: change the variant's price instead."), params={"code": code}
            )
        return code

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        code, amount = data.get("currency"), data.get("amount")
        if code and amount is not None and (problem := price_problem(amount, code)):
            self.add_error("amount", problem)
        return data

    def price(self) -> Money:
        return Money(self.cleaned_data["amount"], self.cleaned_data["currency"])


class ImageForm(forms.Form):
    image = forms.FileField(label=_("Image"), help_text=_("JPEG, PNG or WebP, at least 200 pixels a side, up to 5 MB."))
    alt = forms.CharField(label=_("Description for screen readers"), max_length=200, required=False)

    def clean_image(self) -> UploadedFile:
        upload = self.cleaned_data["image"]
        validate_image(upload)
        return upload


class StatusFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("All")), *Product.Status.choices])


class ImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"))
    dry_run = forms.BooleanField(
        label=_("Dry run: check the file and show what would change, without saving"), required=False, initial=True
    )

    def clean_file(self) -> UploadedFile:
        upload = self.cleaned_data["file"]
        if upload.size is not None and upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(_("The file is larger than 5 MB. Split it into several files."))
        return upload
