"""QR codes drawn locally (segno), as inline SVG: no image service, no network."""

from __future__ import annotations

import segno
from django.utils.safestring import SafeString, mark_safe


def qr_svg(data: str, *, title: str = "") -> SafeString:
    """An SVG QR code of ``data`` to put straight into a page (segno escapes the title)."""
    code = segno.make(data, error="m")
    return mark_safe(code.svg_inline(scale=4, border=2, title=title or None))  # noqa: S308 (segno's own SVG)
