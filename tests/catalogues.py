"""The gettext catalogues as tests see them: where they are, and compiled before a page is rendered.

``make test`` and ``make e2e`` compile the catalogues first; compiling stale ones here too means a
plain ``pytest`` after editing a ``django.po`` renders the new translations instead of old ones.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import django.test.signals  # noqa: F401  (registers the receiver that resets translations)
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.signals import setting_changed
from django.utils.translation import to_locale

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
# Django's directory names: "zh-hans" -> "zh_Hans", "pt-br" -> "pt_BR".
LANGUAGE_DIRS = {code: to_locale(code) for code, _name in settings.LANGUAGES}


def po_path(language_dir: str) -> Path:
    return LOCALE_DIR / language_dir / "LC_MESSAGES" / "django.po"


def compile_stale_catalogues() -> list[Path]:
    """Compile every ``django.po`` whose ``django.mo`` is missing or older; returns what it compiled."""
    compiled = []
    for language_dir in LANGUAGE_DIRS.values():
        po = po_path(language_dir)
        mo = po.with_suffix(".mo")
        if not po.exists() or (mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime):
            continue
        with po.open("rb") as f:
            catalog = read_po(f, locale=language_dir, domain="django")
        fd, tmp = tempfile.mkstemp(dir=mo.parent, suffix=".mo.tmp")
        with os.fdopen(fd, "wb") as f:
            write_mo(f, catalog)
        os.replace(tmp, mo)  # atomic: a server thread never reads half a file
        compiled.append(mo)
    if compiled:
        # What Django does when a test changes LOCALE_PATHS: forget the loaded translations.
        setting_changed.send(
            sender=settings.__class__, setting="LOCALE_PATHS", value=settings.LOCALE_PATHS, enter=False
        )
    return compiled
