"""Forms of the feedback threads: they check that input is well-formed (the services check again
and decide); photos are validated like catalog images (``catalog.images.validate_image``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from catalog.models import Product

from .feedback import check_photos, clean_body
from .feedback_exceptions import FeedbackError
from .feedback_models import MAX_MESSAGE_CHARS, MAX_SUBJECT_CHARS, FeedbackThread

LANGUAGE_NAMES = dict(settings.LANGUAGES)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Up to four photos in one input (``<input type=file multiple>``)."""

    widget = MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"})

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        single = super().clean
        items = data if isinstance(data, list | tuple) else [data]
        files = [single(item, initial) for item in items if item]
        try:
            return check_photos(files)
        except FeedbackError as exc:
            raise forms.ValidationError(exc.message) from exc


class MessageFields(forms.Form):
    body = forms.CharField(
        label=_("Message"),
        strip=False,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "maxlength": MAX_MESSAGE_CHARS, "data-testid": "message-input"}),
        help_text=_("Plain text. Links are shown as text."),
    )
    language = forms.ChoiceField(
        label=_("Written in"),
        choices=settings.LANGUAGES,
        widget=forms.Select(attrs={"data-testid": "message-language"}),
    )
    photos = PhotosField(label=_("Photos"), required=False, help_text=_("Up to 4 JPEG, PNG or WebP images, 5 MB each."))
    key = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["language"].initial = get_language() or settings.LANGUAGE_CODE

    def clean_body(self) -> str:
        try:
            return clean_body(self.cleaned_data.get("body"))
        except FeedbackError as exc:
            raise forms.ValidationError(exc.message) from exc


class ReplyForm(MessageFields):
    pass


class ThreadForm(MessageFields):
    subject = forms.CharField(
        label=_("Subject"), max_length=MAX_SUBJECT_CHARS, widget=forms.TextInput(attrs={"data-testid": "subject"})
    )
    category = forms.ChoiceField(
        label=_("What is it about?"),
        choices=FeedbackThread.Category.choices,
        widget=forms.Select(attrs={"data-testid": "category"}),
    )
    product = forms.SlugField(required=False, widget=forms.HiddenInput)
    line = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    field_order = ["subject", "category", "body", "language", "photos", "key", "product", "line"]


class ThreadFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All")), *FeedbackThread.Status.choices]
    )
    product = forms.TypedChoiceField(label=_("Product"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args: Any, products: Iterable[Product] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = [("", _("All products")), *((p.pk, p.name) for p in products)]

    def values(self) -> tuple[str | None, int | None]:
        if not self.is_valid():
            return None, None
        return self.cleaned_data.get("status") or None, self.cleaned_data.get("product")


class ReportForm(forms.Form):
    reason = forms.CharField(label=_("What is wrong with this message?"), max_length=1000, required=False)


class RevisionForm(forms.Form):
    """What changed in a product, in any of the ten languages, and the conversations it answers."""

    product = forms.ModelChoiceField(label=_("Product"), queryset=Product.objects.none())
    threads = forms.ModelMultipleChoiceField(
        label=_("Conversations it answers"),
        queryset=FeedbackThread.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    key = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, products: Any, threads: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = products
        self.fields["threads"].queryset = threads
        self.fields["threads"].label_from_instance = lambda t: f"#{t.pk} {t.subject} ({t.product.name})"
        for code, _name in settings.LANGUAGES:
            self.fields[f"summary_{code}"] = forms.CharField(
                label=_("What changed"), max_length=200, required=False, widget=forms.TextInput(attrs={"lang": code})
            )
            self.fields[f"body_{code}"] = forms.CharField(
                label=_("Details"),
                max_length=MAX_MESSAGE_CHARS,
                required=False,
                widget=forms.Textarea(attrs={"rows": 3, "lang": code}),
            )

    def language_groups(self) -> list[dict[str, Any]]:
        active = get_language() or settings.LANGUAGE_CODE
        codes = sorted((code for code, _n in settings.LANGUAGES), key=lambda c: (c != active, c != "en"))
        return [
            {
                "code": code,
                "name": LANGUAGE_NAMES[code],
                "summary": self[f"summary_{code}"],
                "body": self[f"body_{code}"],
                "open": code == active or bool(self[f"summary_{code}"].value()),
            }
            for code in codes
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not any((data.get(f"summary_{code}") or "").strip() for code, _n in settings.LANGUAGES):
            raise forms.ValidationError(_("Say what changed, in at least one language."))
        product = data.get("product")
        threads = data.get("threads") or []
        if product is not None and any(t.product_id != product.pk for t in threads):
            self.add_error("threads", _("A revision can answer only your conversations about this product."))
        return data

    def summaries(self) -> dict[str, str]:
        return {code: self.cleaned_data.get(f"summary_{code}") or "" for code, _n in settings.LANGUAGES}

    def bodies(self) -> dict[str, str]:
        return {code: self.cleaned_data.get(f"body_{code}") or "" for code, _n in settings.LANGUAGES}


class ReasonForm(forms.Form):
    """Admin actions that hide a message or lock a thread ask for the reason (it is logged)."""

    reason = forms.CharField(label=_("Reason (logged)"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)
