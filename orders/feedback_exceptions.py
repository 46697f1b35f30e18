"""Domain errors of the feedback threads (STYLE.md, 5): a translated message and a stable ``code``.
Views show ``message`` to the person with ``data-testid="form-error"``; nothing is saved."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from marketplace.errors import DomainError

from .feedback_models import MAX_MESSAGE_CHARS, MAX_PHOTOS_PER_MESSAGE


class FeedbackError(DomainError):
    code = "feedback_error"


class ProductNotAvailable(FeedbackError):
    code = "product_not_available"

    def __init__(self) -> None:
        super().__init__(_("This product is not available, so you cannot write to its producer about it."))


class NotYourPurchase(FeedbackError):
    code = "not_your_purchase"

    def __init__(self) -> None:
        super().__init__(_("You can give feedback only on items of your own orders that are paid."))


class OwnProduct(FeedbackError):
    code = "own_product"

    def __init__(self) -> None:
        super().__init__(_("This is your own shop's product: you cannot open a conversation with yourself."))


class EmptyMessage(FeedbackError):
    code = "empty_message"

    def __init__(self) -> None:
        super().__init__(_("Write a message before sending."))


class MessageTooLong(FeedbackError):
    code = "message_too_long"

    def __init__(self, *, length: int) -> None:
        super().__init__(
            _("Your message has %(length)s characters; the limit is %(max)s. Please shorten it.")
            % {"length": length, "max": MAX_MESSAGE_CHARS}
        )


class TooManyPhotos(FeedbackError):
    code = "too_many_photos"

    def __init__(self) -> None:
        super().__init__(
            ngettext(
                "Attach at most %(n)s photo to a message.",
                "Attach at most %(n)s photos to a message.",
                MAX_PHOTOS_PER_MESSAGE,
            )
            % {"n": MAX_PHOTOS_PER_MESSAGE}
        )


class ThreadLocked(FeedbackError):
    code = "thread_locked"

    def __init__(self) -> None:
        super().__init__(_("The marketplace team closed this conversation: no new messages can be sent."))


class ThreadResolved(FeedbackError):
    code = "thread_resolved"

    def __init__(self) -> None:
        super().__init__(_("This conversation is resolved. Only the buyer can reopen it."))


class InvalidTransition(FeedbackError):
    code = "invalid_transition"

    def __init__(self) -> None:
        super().__init__(_("This conversation cannot change to that status now."))


class RateLimited(FeedbackError):
    code = "rate_limited"

    def __init__(self, *, minutes: int) -> None:
        super().__init__(
            ngettext(
                "You are writing faster than we allow. Please wait %(n)s minute and try again.",
                "You are writing faster than we allow. Please wait %(n)s minutes and try again.",
                minutes,
            )
            % {"n": minutes}
        )


class InvalidRevision(FeedbackError):
    code = "invalid_revision"


class CannotReport(FeedbackError):
    code = "cannot_report"

    def __init__(self) -> None:
        super().__init__(_("You can report only messages the other side wrote."))


class InvalidThread(FeedbackError):
    code = "invalid_thread"


class InvalidPhoto(FeedbackError):
    code = "invalid_photo"
