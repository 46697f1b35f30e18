"""Optional machine translation of thread messages (issue 7, "Languages").

``settings.MESSAGE_TRANSLATOR`` names a class by dotted path; ``None`` (the default) means no
translation: each side reads messages as written. A translator returns ``None`` when it cannot
translate (unknown pair, provider down): the page then shows the original, never an error. Pages
always offer the original one click away, and translations are stored on the message
(``Message.translations``) so a provider is asked once per message and language.
"""

from __future__ import annotations

import functools
import logging
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class MessageTranslator(Protocol):
    def translate(self, text: str, *, source: str, target: str) -> str | None:
        """``text`` (written in ``source``) in ``target``, or None when it cannot."""
        ...


class BracketTranslator:
    """No network, for tests and demos: marks the text with the language pair, e.g.
    ``[zh-hans→en] 我们换了防水胶``. Never use it in production."""

    def translate(self, text: str, *, source: str, target: str) -> str | None:
        if source == target:
            return None
        return f"[{source}→{target}] {text}"


@functools.cache
def _load(path: str) -> MessageTranslator:
    return import_string(path)()


def message_translator() -> MessageTranslator | None:
    """The configured translator or None; the setting is read on every call (tests override it)."""
    path = getattr(settings, "MESSAGE_TRANSLATOR", None)
    return _load(path) if path else None


def translate(text: str, *, source: str, target: str) -> str | None:
    """The configured translator's answer, or None (no translator, same language, or a failure)."""
    translator = message_translator()
    if translator is None or not text or source == target:
        return None
    try:
        return translator.translate(text, source=source, target=target) or None
    except Exception:  # a provider's failure must never break reading a thread
        logger.exception("message translation %s -> %s failed", source, target)
        return None
