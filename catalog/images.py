"""Image uploads: validated with Pillow (type, size, dimensions), thumbnails made locally."""

from __future__ import annotations

from io import BytesIO

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP"}
MAX_BYTES = 5 * 1024 * 1024
MIN_SIDE = 200
MAX_SIDE = 6000
THUMBNAIL_SIZE = (480, 480)


def validate_image(upload: UploadedFile) -> None:
    """Raise ``ValidationError`` unless ``upload`` is a JPEG, PNG or WebP within our limits."""
    if upload.size is not None and upload.size > MAX_BYTES:
        raise ValidationError(_("The image is larger than 5 MB."), code="too_large")
    upload.seek(0)
    try:
        with Image.open(upload) as image:
            image_format = image.format
            width, height = image.size
            image.verify()  # detects truncated or corrupt files
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValidationError(_("The file is not an image we can read."), code="not_an_image") from exc
    finally:
        upload.seek(0)
    if image_format not in ALLOWED_FORMATS:
        raise ValidationError(_("Upload a JPEG, PNG or WebP image."), code="bad_format")
    if min(width, height) < MIN_SIDE:
        raise ValidationError(
            _("The image must be at least %(n)s pixels on each side.") % {"n": MIN_SIDE}, code="too_small"
        )
    if max(width, height) > MAX_SIDE:
        raise ValidationError(
            _("The image must be at most %(n)s pixels on each side.") % {"n": MAX_SIDE}, code="too_big"
        )


def make_thumbnail(source: UploadedFile | ContentFile, name: str) -> ContentFile:
    source.seek(0)
    with Image.open(source) as image:
        image = image.convert("RGB")
        image.thumbnail(THUMBNAIL_SIZE)
        buffer = BytesIO()
        image.save(buffer, format="WEBP", quality=82)
    source.seek(0)
    return ContentFile(buffer.getvalue(), name=f"{name}.webp")
