from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.forms import BaseUserCreationForm
from django.utils.translation import gettext_lazy as _

from .models import User


class CurrencyForm(forms.Form):
    currency = forms.CharField(max_length=3)
    next = forms.CharField(required=False)

    def clean_currency(self) -> str:
        code = self.cleaned_data["currency"].strip().upper()
        if code not in settings.CURRENCIES:
            raise forms.ValidationError(
                _("%(code)s is not a currency we support.") % {"code": self.cleaned_data["currency"][:3]}
            )
        return code


class SignUpForm(BaseUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "country", "preferred_currency")
