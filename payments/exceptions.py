"""Payment errors carry a message a person can read (translated) and change nothing."""

from __future__ import annotations

from django.utils.translation import gettext as _


class PaymentError(Exception):
    def __init__(self, message: str | None = None) -> None:
        self.message = message or _("The payment could not be processed.")
        super().__init__(self.message)


class UnknownMethod(PaymentError):
    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(_("Unknown payment method: %(code)s.") % {"code": code})


class MethodUnavailable(PaymentError):
    pass


class IllegalTransition(PaymentError):
    def __init__(self, from_state: str, to_state: str) -> None:
        self.from_state, self.to_state = from_state, to_state
        super().__init__(_("A payment cannot go from %(from)s to %(to)s.") % {"from": from_state, "to": to_state})


class InvalidAmount(PaymentError):
    pass


class ProviderError(PaymentError):
    """The provider refused or could not be reached; nothing was changed on our side."""
