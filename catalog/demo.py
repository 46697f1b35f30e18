"""Demo data for the catalog: sellers and their users, categories, products, variants, prices, images.

Idempotent: rows are found by slug, SKU or e-mail and saved only when a value differs, so a second
run changes nothing (not even ``updated_at``) and fires no search-refresh signals. Publication
dates are set from the clock only when a product is created. Images are drawn locally with Pillow
into file names derived from what they show, and an existing file is reused, never drawn again.
The data itself (ten languages of texts) lives in ``catalog/demo_data.py``.
"""

from __future__ import annotations

import functools
import hashlib
import os
import random
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from io import BytesIO
from typing import IO, Any, TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.db import models, transaction
from django.utils import timezone, translation
from django_countries.fields import Country
from djmoney.money import Money
from PIL import Image, ImageDraw, ImageFont, ImageOps

from marketplace.demo import DEMO_PASSWORD

from . import demo_data as data
from .images import make_thumbnail
from .models import Category, Product, ProductImage, Seller, SellerMember, Variant, VariantPrice
from .selectors import CATEGORY_CACHE_KEY

M = TypeVar("M", bound=models.Model)

IMAGE_SIZE = 800
LOGO_SIZE = 400
# Part of every image file name: bump it when the drawing changes, so new files replace the old.
IMAGE_VERSION = 1
DEMO_IMAGE_PREFIXES = ("products/demo/", "products/thumbs/demo/", "sellers/demo/")
# Colour pairs for product images, by product family.
PALETTES = {
    "hair": [("#6d214f", "#f8a5c2"), ("#3d1e6d", "#c39bd3"), ("#7b2d26", "#f5b7a5"), ("#4a235a", "#f1948a")],
    "electronics": [("#0b3d91", "#31c6d4"), ("#1b2631", "#5dade2"), ("#154360", "#48c9b0"), ("#212f3d", "#a569bd")],
    "outdoor": [("#1f4d2b", "#a9d18e"), ("#784212", "#f5b041"), ("#1b4f72", "#85c1e9"), ("#145a32", "#f0b27a")],
    "craft": [("#2b3a67", "#c9a66b"), ("#6e2c00", "#e59866"), ("#1c2833", "#aeb6bf"), ("#4d5656", "#d5dbdb")],
    "textile": [("#8c1c13", "#f2c14e"), ("#1a5276", "#d4e6f1"), ("#6c3483", "#f5cba7"), ("#0e6251", "#a2d9ce")],
}
FAMILY_PALETTE = {
    "wig_human": "hair", "wig_synth": "hair", "hair_piece": "hair", "hair_care": "hair", "skincare": "hair",
    "audio": "electronics", "power": "electronics", "computer": "electronics", "smart": "electronics",
    "outerwear": "outdoor", "layers": "outdoor", "footwear": "outdoor", "gear": "outdoor",
    "jp_ceramics": "craft", "jp_tools": "craft", "vn_ceramics": "craft", "vn_craft": "craft",
    "jp_textile": "textile", "vn_textile": "textile",
}  # fmt: skip


@dataclass
class _Counts:
    variants: int = 0
    prices: int = 0
    images: int = 0
    drawn: int = 0


def seed(stdout: IO[str]) -> None:
    counts = _Counts()
    now = timezone.now()  # only for rows created now: reruns keep the dates they have
    with translation.override(settings.MODELTRANSLATION_DEFAULT_LANGUAGE):
        categories = _seed_categories()
        sellers = {spec.slug: _seed_seller(spec, counts) for spec in data.SELLERS}
        _seed_seller_users(sellers)
        pictures = {spec.slug: _pictures(spec) for spec in data.PRODUCTS}
        counts.drawn += _draw_missing_pictures([p for group in pictures.values() for p in group])
        for index, spec in enumerate(data.PRODUCTS):
            product = _seed_product(spec, index, sellers[spec.seller], categories[spec.category], now)
            _seed_variants(product, spec, sellers[spec.seller], counts)
            _seed_images(product, pictures[spec.slug], counts)
    transaction.on_commit(lambda: cache.delete(CATEGORY_CACHE_KEY))
    stdout.write(
        f"catalog: {len(sellers)} sellers, {len(categories)} categories, {len(data.PRODUCTS)} products, "
        f"{counts.variants} variants, {counts.prices} explicit prices, {counts.images} images "
        f"({counts.drawn} drawn now)"
    )


# --- Rows ----------------------------------------------------------------------------------------------


def _upsert(model: type[M], lookup: dict[str, Any], values: dict[str, Any], **create_only: Any) -> M:
    """``update_or_create`` that saves only when a value differs (and ``create_only`` only on create)."""
    obj = model._default_manager.filter(**lookup).first()
    if obj is None:
        obj = model(**lookup, **values, **create_only)
        obj.save()
        return obj
    if any(not _same(getattr(obj, name), value) for name, value in values.items()):
        for name, value in values.items():
            setattr(obj, name, value)
        obj.save()
    return obj


def _same(current: Any, wanted: Any) -> bool:
    if isinstance(current, Country):
        return current.code == wanted
    return bool(current == wanted)


def _columns(field: str, texts: data.Texts) -> dict[str, str]:
    return {f"{field}_{lang}": text for lang, text in texts.items()}


def _seed_categories() -> dict[str, Category]:
    categories: dict[str, Category] = {}
    positions: dict[str | None, int] = {}
    for spec in data.CATEGORIES:
        position = positions[spec.parent] = positions.get(spec.parent, -1) + 1
        parent_id = categories[spec.parent].pk if spec.parent else None
        categories[spec.slug] = _upsert(
            Category,
            {"slug": spec.slug},
            {"parent_id": parent_id, "position": position, **_columns("name", spec.name)},
        )
    return categories


def _seed_seller(spec: data.SellerSpec, counts: _Counts) -> Seller:
    seller = _upsert(
        Seller,
        {"slug": spec.slug},
        {
            "name": spec.name,
            "country": spec.country,
            "base_currency": spec.currency,
            "verified": spec.verified,
            "commission_rate": Decimal(spec.commission),
            **_columns("tagline", spec.tagline),
            **_columns("description", spec.profile),
        },
    )
    storage = Seller._meta.get_field("logo").storage
    name = f"sellers/demo/{spec.slug}-{_digest('logo', spec.name, *spec.colours)}.png"
    if not storage.exists(name):
        _store(storage, name, _draw_logo(_initials(spec.name), spec.colours))
        counts.drawn += 1
    if seller.logo.name != name:
        _replace_demo_files(storage, [seller.logo.name], keep={name})
        seller.logo.name = name
        seller.save(update_fields=["logo", "updated_at"])
    return seller


def _seed_seller_users(sellers: dict[str, Seller]) -> None:
    user_model = get_user_model()
    password = None  # hashed once: the hasher's cost would dominate otherwise
    for spec in data.SELLERS:
        first_name, last_name = spec.contact
        user = _upsert(
            user_model,
            {"email": f"seller-{spec.slug}@example.com"},
            {
                "first_name": first_name,
                "last_name": last_name,
                "country": spec.country,
                "preferred_language": spec.language,
                "preferred_currency": spec.currency,
            },
        )
        if not user.password:  # just created: set the demo password, never reset a changed one
            password = password or make_password(DEMO_PASSWORD)
            user.password = password
            user.save(update_fields=["password"])
        _upsert(SellerMember, {"user_id": user.pk}, {"seller_id": sellers[spec.slug].pk})


def _seed_product(spec: data.ProductSpec, index: int, seller: Seller, category: Category, now: datetime) -> Product:
    # Spread over the last 90 days by a fixed rule, so the newest-first order is the same every time.
    published_at = now - timedelta(days=2 + (index * 37) % 87, hours=(index * 7) % 24)
    written_at = published_at - timedelta(days=1)
    return _upsert(
        Product,
        {"slug": spec.slug},
        {
            "seller_id": seller.pk,
            "category_id": category.pk,
            "status": Product.Status.ACTIVE,
            "brand": data.SELLERS_BY_SLUG[spec.seller].brand,
            "hs_code": spec.hs_code,
            "origin_country": spec.origin or seller.country.code,
            "featured": spec.featured,
            **data.product_texts(spec),
        },
        published_at=published_at,
        source_changed_at=written_at,
        translations_updated={code: written_at.isoformat() for code, _name in settings.LANGUAGES},
    )


def _seed_variants(product: Product, spec: data.ProductSpec, seller: Seller, counts: _Counts) -> None:
    prefix = data.SELLERS_BY_SLUG[spec.seller].sku_prefix
    for position, variant_spec in enumerate(spec.variants):
        length, width, height = variant_spec.dims
        variant = _upsert(
            Variant,
            {"sku": f"{prefix}-{spec.code}-{variant_spec.suffix}"},
            {
                "product_id": product.pk,
                "options": variant_spec.options,
                "price": Money(variant_spec.price, seller.base_currency),
                "weight_grams": variant_spec.grams,
                "length_mm": length,
                "width_mm": width,
                "height_mm": height,
                "position": position,
                "active": True,
            },
        )
        for currency, amount in variant_spec.prices.items():
            _upsert(
                VariantPrice, {"variant_id": variant.pk, "price_currency": currency}, {"price": Money(amount, currency)}
            )
        VariantPrice.objects.filter(variant=variant).exclude(price_currency__in=list(variant_spec.prices)).delete()
        counts.variants += 1
        counts.prices += len(variant_spec.prices)


# --- Images ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Picture:
    """One demo product image: what it shows decides its file names, so a file is drawn only once."""

    slug: str
    position: int
    initials: str
    colours: tuple[str, str]

    @property
    def stem(self) -> str:
        digest = _digest("product", self.slug, self.position, self.initials, *self.colours)
        return f"{self.slug}-{self.position + 1}-{digest}"

    @property
    def name(self) -> str:
        return f"products/demo/{self.stem}.jpg"

    @property
    def thumbnail(self) -> str:
        return f"products/thumbs/demo/{self.stem}.webp"


def _pictures(spec: data.ProductSpec) -> list[_Picture]:
    palette = PALETTES[FAMILY_PALETTE[spec.family]]
    first = zlib.crc32(spec.slug.encode())
    return [
        _Picture(spec.slug, position, _initials(spec.name["en"]), palette[(first + position) % len(palette)])
        for position in range(spec.images)
    ]


def _draw_missing_pictures(pictures: list[_Picture]) -> int:
    """Draw the pictures whose files are missing, on every core (Pillow releases the GIL)."""
    storage = ProductImage._meta.get_field("image").storage
    missing = [p for p in pictures if not (storage.exists(p.name) and storage.exists(p.thumbnail))]
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        for picture, (image, thumbnail) in zip(missing, pool.map(_rendered, missing), strict=True):
            _store(storage, picture.name, image)
            _store(storage, picture.thumbnail, thumbnail)
    return len(missing)


@functools.cache
def _rendered(picture: _Picture) -> tuple[bytes, bytes]:
    """The image and its thumbnail; kept for the process, as the same picture always gives the same bytes."""
    image = _draw_product_image(
        picture.initials, picture.colours, seed=f"{picture.slug}:{picture.position}", style=picture.position
    )
    return image, make_thumbnail(ContentFile(image), picture.stem).read()


def _seed_images(product: Product, pictures: list[_Picture], counts: _Counts) -> None:
    storage = ProductImage._meta.get_field("image").storage
    existing = {image.position: image for image in product.images.all()}
    for picture in pictures:
        image = existing.get(picture.position)
        if image is None:
            ProductImage.objects.create(
                product=product, position=picture.position, image=picture.name, thumbnail=picture.thumbnail
            )
        elif (image.image.name, image.thumbnail.name) != (picture.name, picture.thumbnail):
            _replace_demo_files(
                storage, [image.image.name, image.thumbnail.name], keep={picture.name, picture.thumbnail}
            )
            image.image.name, image.thumbnail.name = picture.name, picture.thumbnail
            image.save(update_fields=["image", "thumbnail", "updated_at"])
        counts.images += 1
    for position, image in existing.items():  # demo images the data no longer has
        if position >= len(pictures) and image.image.name.startswith(DEMO_IMAGE_PREFIXES):
            _replace_demo_files(storage, [image.image.name, image.thumbnail.name], keep=set())
            image.delete()


def _digest(*parts: object) -> str:
    text = "|".join(str(p) for p in (IMAGE_VERSION, IMAGE_SIZE, *parts))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _store(storage: Storage, name: str, content: bytes) -> None:
    if storage.exists(name):
        storage.delete(name)
    saved = storage.save(name, ContentFile(content))
    if saved != name:  # pragma: no cover - a storage that renames would break idempotency
        raise RuntimeError(f"storage saved {name} as {saved}")


def _replace_demo_files(storage: Storage, names: list[str], *, keep: set[str]) -> None:
    """Delete files that earlier demo runs drew and nothing uses any more (never a seller's upload)."""
    for name in names:
        if name and name not in keep and name.startswith(DEMO_IMAGE_PREFIXES) and storage.exists(name):
            storage.delete(name)


def _initials(name: str) -> str:
    words = [w for w in name.replace("-", " ").split() if w[:1].isalpha()]
    return "".join(w[0] for w in words[:2]).upper()


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)  # Pillow's bundled font: no system fonts needed


@lru_cache(maxsize=2)
def _gradient(size: int) -> Image.Image:
    return Image.linear_gradient("L").resize((size, size))


def _centered_text(draw: ImageDraw.ImageDraw, size: int, text: str, font_size: int, fill: tuple[int, ...]) -> None:
    font = _font(font_size)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    draw.text(((size - (right - left)) / 2 - left, (size - (bottom - top)) / 2 - top), text, font=font, fill=fill)


def _draw_product_image(initials: str, colours: tuple[str, str], *, seed: str, style: int) -> bytes:
    """A colour gradient with soft shapes and the product's initials: the same input, the same bytes."""
    gradient = _gradient(IMAGE_SIZE)
    if style % 2:
        gradient = gradient.transpose(Image.Transpose.ROTATE_90)
    image = ImageOps.colorize(gradient, colours[0], colours[1]).convert("RGBA")
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    rng = random.Random(zlib.crc32(seed.encode()))
    for _ in range(6):
        x, y, r = rng.randrange(IMAGE_SIZE), rng.randrange(IMAGE_SIZE), rng.randrange(60, 260)
        box = (x - r, y - r, x + r, y + r)
        alpha = rng.randrange(25, 70)
        if style % 2:
            draw.rectangle(box, fill=(255, 255, 255, alpha))
        else:
            draw.ellipse(box, fill=(255, 255, 255, alpha))
    image = Image.alpha_composite(image, overlay)
    _centered_text(ImageDraw.Draw(image), IMAGE_SIZE, initials, 300, (255, 255, 255, 235))
    buffer = BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def _draw_logo(initials: str, colours: tuple[str, str]) -> bytes:
    image = ImageOps.colorize(_gradient(LOGO_SIZE), colours[0], colours[1]).convert("RGBA")
    draw = ImageDraw.Draw(image)
    margin = LOGO_SIZE // 10
    draw.ellipse((margin, margin, LOGO_SIZE - margin, LOGO_SIZE - margin), outline=(255, 255, 255, 230), width=12)
    _centered_text(draw, LOGO_SIZE, initials, 150, (255, 255, 255, 255))
    buffer = BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()
