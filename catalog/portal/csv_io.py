"""CSV export and import of a seller's products and variants.

The format: UTF-8, a header row with exactly the columns of ``HEADER`` (in any order), then one
row per variant with its product's columns repeated on each of the product's rows. A product
without variants is one row whose variant columns are all empty. ``price`` is a decimal with a
dot, in the seller's own currency; ``options`` is ``size=M;colour=black`` or a JSON object.

An import is all or nothing: every row is checked first and *every* bad row is reported with its
line number; if any row is bad, nothing is written. A dry run checks and reports what would be
created or updated, and writes nothing. A good import creates new products as drafts, updates
the seller's existing products and variants, and never deletes anything. A slug or SKU that
belongs to another seller is a bad row: an import can never touch another seller's data.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction
from django.utils.translation import gettext as _
from django_countries import countries
from djmoney.money import Money

from marketplace.errors import DomainError
from marketplace.money import currency_digits

from ..models import Category, Product, Seller, Variant, hs_code_validator
from ..selectors import category_tree
from ..services import LANGUAGE_CODES, column
from . import services
from .forms import MAX_OPTION_KEY, MAX_OPTION_VALUE, parse_option_pairs
from .selectors import products_for_export

NAME_COLUMNS: tuple[str, ...] = tuple(column("name", lang) for lang in LANGUAGE_CODES)
PRODUCT_COLUMNS: tuple[str, ...] = (
    "product_slug",
    "category_slug",
    "brand",
    "hs_code",
    "origin_country",
    *NAME_COLUMNS,
)
VARIANT_COLUMNS: tuple[str, ...] = ("sku", "options", "price", "weight_grams", "length_mm", "width_mm", "height_mm")
HEADER: tuple[str, ...] = (*PRODUCT_COLUMNS, *VARIANT_COLUMNS)
MAX_ROWS = 5000  # one import is one transaction: keep it short enough not to hold locks for long
MAX_INT = 2_147_483_647  # PositiveIntegerField on every database
COUNTRY_CODES = frozenset(code for code, _name in countries)
WHOLE_NUMBER = re.compile(r"[0-9]+")
DECIMAL_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


# --- Export ------------------------------------------------------------------------------


def price_for_csv(money: Money) -> str:
    """``12.50`` for EUR, ``1200`` for JPY: the currency's digits, more only if the stored amount has them."""
    amount = money.amount
    quantized = amount.quantize(Decimal(1).scaleb(-currency_digits(money.currency.code)))
    return format(quantized if quantized == amount else amount.normalize(), "f")


def _kv_safe(key: Any, value: Any) -> bool:
    return (
        isinstance(key, str)
        and isinstance(value, str)
        and all(ch not in text for text in (key, value) for ch in ";=\r\n")
        and key == key.strip()
        and value == value.strip()
        and bool(key)
        and bool(value)
        and not key.startswith("{")
        and len(key) <= MAX_OPTION_KEY
        and len(value) <= MAX_OPTION_VALUE
    )


def options_for_csv(options: dict[str, Any] | None) -> str:
    """``colour=black;size=M`` when that reads back identically, else JSON (exact for anything).

    Keys are sorted: PostgreSQL's jsonb does not keep insertion order, so this is the one order
    every database agrees on (and an export diffs cleanly against the next)."""
    if not options:
        return ""
    items = sorted(options.items())
    if all(_kv_safe(k, v) for k, v in items):
        return ";".join(f"{k}={v}" for k, v in items)
    return json.dumps(dict(items), ensure_ascii=False)


def export_csv(seller: Seller, *, product_ids: list[int] | None = None) -> str:
    """The seller's products (or the given ones, if they are the seller's) as CSV text."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for product in products_for_export(seller, product_ids=product_ids):
        product_cells = [
            product.slug,
            product.category.slug,
            product.brand,
            product.hs_code,
            product.origin_country.code if product.origin_country else "",
            *(getattr(product, name) or "" for name in NAME_COLUMNS),
        ]
        if not product.variant_list:
            writer.writerow([*product_cells, *[""] * len(VARIANT_COLUMNS)])
        for variant in product.variant_list:
            writer.writerow(
                [
                    *product_cells,
                    variant.sku,
                    options_for_csv(variant.options),
                    price_for_csv(variant.price),
                    variant.weight_grams,
                    variant.length_mm,
                    variant.width_mm,
                    variant.height_mm,
                ]
            )
    return out.getvalue()


# --- Import ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    line: int | None  # None: about the whole file
    message: str


@dataclass(frozen=True)
class Change:
    """What the import does (or would do) to one product or variant."""

    action: str  # "create", "update" or "unchanged"
    key: str  # product slug or SKU
    line: int
    fields: tuple[str, ...] = ()


@dataclass
class ImportReport:
    dry_run: bool
    errors: list[RowError] = field(default_factory=list)
    products: list[Change] = field(default_factory=list)
    variants: list[Change] = field(default_factory=list)
    applied: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def count(self, kind: str, action: str) -> int:
        return sum(1 for c in getattr(self, kind) if c.action == action)

    @property
    def summary(self) -> dict[str, int]:
        return {
            f"{kind}_{action}": self.count(kind, action)
            for kind in ("products", "variants")
            for action in ("create", "update", "unchanged")
        }


class ImportConflict(DomainError):
    code = "import_conflict"


@dataclass
class _ProductRow:
    line: int
    slug: str
    raw: tuple[str, ...]  # the product cells as written, to check that repeated rows agree
    values: dict[str, Any]


@dataclass
class _VariantRow:
    line: int
    product_slug: str
    values: dict[str, Any]


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")  # a BOM is what spreadsheet programs write
    except UnicodeDecodeError as exc:
        raise ValueError(_("The file is not UTF-8 text. Save it as “CSV UTF-8”.")) from exc


def _read_rows(text: str, report: ImportReport) -> list[tuple[int, dict[str, str]]]:
    """The data rows with their first line number; the header and shape errors go in ``report``."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        header = [cell.strip().lower() for cell in next(reader, [])]
        if not any(header):
            report.errors.append(RowError(None, _("The file is empty.")))
            return []
        missing = [c for c in HEADER if c not in header]
        unknown = [c for c in header if c not in HEADER]
        duplicate = sorted({c for c in header if header.count(c) > 1})
        if missing or unknown or duplicate:
            parts = []
            if missing:
                parts.append(_("missing columns: %(cols)s") % {"cols": ", ".join(missing)})
            if unknown:
                parts.append(_("unknown columns: %(cols)s") % {"cols": ", ".join(c or '""' for c in unknown)})
            if duplicate:
                parts.append(_("repeated columns: %(cols)s") % {"cols": ", ".join(duplicate)})
            report.errors.append(
                RowError(
                    1,
                    _("Wrong columns (%(problems)s). Export a file to see the expected header.")
                    % {"problems": "; ".join(parts)},
                )
            )
            return []
        last_line = reader.line_num
        for cells in reader:
            line, last_line = last_line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # blank lines, e.g. at the end of a spreadsheet's export
            if len(rows) >= MAX_ROWS:
                report.errors.append(
                    RowError(
                        line, _("The file has more than %(n)s rows. Split it into several files.") % {"n": MAX_ROWS}
                    )
                )
                return rows
            if len(cells) != len(header):
                report.errors.append(
                    RowError(
                        line,
                        _("Expected %(expected)s values, found %(found)s.")
                        % {"expected": len(header), "found": len(cells)},
                    )
                )
                continue
            rows.append((line, {name: cell.strip() for name, cell in zip(header, cells, strict=True)}))
    except csv.Error as exc:
        report.errors.append(RowError(reader.line_num, _("The file is not valid CSV: %(error)s") % {"error": exc}))
    if not rows and not report.errors:
        report.errors.append(RowError(None, _("The file has a header but no rows.")))
    return rows


def _parse_int(row: dict[str, str], name: str, *, minimum: int, required: bool, errors: list[str]) -> int:
    text = row[name]
    if not text:
        if required:
            errors.append(_("%(column)s is missing.") % {"column": name})
        return 0
    if not WHOLE_NUMBER.fullmatch(text):
        errors.append(_("%(column)s must be a whole number, not “%(value)s”.") % {"column": name, "value": text[:40]})
        return 0
    value = int(text)
    if not minimum <= value <= MAX_INT:
        errors.append(_("%(column)s must be at least %(min)s.") % {"column": name, "min": minimum})
    return value


def _parse_options(text: str, errors: list[str]) -> dict[str, Any]:
    if not text:
        return {}
    if text.startswith("{"):
        try:
            options = json.loads(text)
        except ValueError:
            errors.append(_("options is not valid JSON."))
            return {}
        scalar = (str, int, float, bool)
        if not isinstance(options, dict) or not all(isinstance(v, scalar) for v in options.values()):
            errors.append(_("options must be a JSON object of names and values."))
            return {}
        return options
    try:
        return parse_option_pairs(text.split(";"))
    except ValidationError as exc:
        errors.extend(exc.messages)
        return {}


def _parse_product(row: dict[str, str], errors: list[str], categories: dict[str, Category]) -> dict[str, Any]:
    slug = row["product_slug"]
    if not slug:
        errors.append(_("product_slug is missing."))
    else:
        try:
            validate_slug(slug)
        except ValidationError:
            errors.append(_("product_slug “%(slug)s” may only contain letters, digits, - and _.") % {"slug": slug[:60]})
        if len(slug) > 120:
            errors.append(_("product_slug has at most 120 characters."))
    category = categories.get(row["category_slug"])
    if category is None:
        errors.append(_("Unknown category “%(slug)s”.") % {"slug": row["category_slug"][:60]})
    if len(row["brand"]) > 80:
        errors.append(_("brand has at most 80 characters."))
    try:
        hs_code_validator(row["hs_code"])
    except ValidationError as exc:
        errors.append(
            _("Bad HS code “%(code)s”: %(reason)s") % {"code": row["hs_code"][:20], "reason": exc.messages[0]}
        )
    origin = row["origin_country"].upper()
    if origin not in COUNTRY_CODES:
        errors.append(
            _("Unknown country of origin “%(code)s” (use a two-letter code, e.g. CN).") % {"code": origin[:10]}
        )
    if not row["name_en"]:
        errors.append(_("name_en is missing: every product needs its English name."))
    for name in NAME_COLUMNS:
        if len(row[name]) > 200:
            errors.append(_("%(column)s has at most 200 characters.") % {"column": name})
    return {
        "category": category,
        "brand": row["brand"],
        "hs_code": row["hs_code"],
        "origin_country": origin,
        **{name: row[name] for name in NAME_COLUMNS},
    }


def _parse_variant(row: dict[str, str], errors: list[str], currency: str) -> dict[str, Any] | None:
    if not any(row[name] for name in VARIANT_COLUMNS):
        return None  # a product without variants
    sku = row["sku"]
    if not sku:
        errors.append(_("sku is missing."))
    elif len(sku) > 64 or any(ch.isspace() for ch in sku):
        errors.append(_("The SKU “%(sku)s” must have at most 64 characters and no spaces.") % {"sku": sku[:70]})
    options = _parse_options(row["options"], errors)
    price: Money | None = None
    try:
        if not DECIMAL_NUMBER.fullmatch(row["price"]):  # Decimal() alone would take "1_000", "NaN", "٣"
            raise InvalidOperation
        amount = Decimal(row["price"])
    except InvalidOperation:
        if row["price"]:
            errors.append(
                _("The price “%(price)s” is not a number (write e.g. 12.50, with a dot).")
                % {"price": row["price"][:30]}
            )
        else:
            errors.append(_("price is missing."))
    else:
        if problem := services.price_problem(amount, currency):
            errors.append(_("Bad price “%(price)s”: %(reason)s") % {"price": row["price"][:30], "reason": problem})
        else:
            price = Money(amount, currency)
    return {
        "sku": sku,
        "options": options,
        "price": price,
        "weight_grams": _parse_int(row, "weight_grams", minimum=1, required=True, errors=errors),
        "length_mm": _parse_int(row, "length_mm", minimum=0, required=False, errors=errors),
        "width_mm": _parse_int(row, "width_mm", minimum=0, required=False, errors=errors),
        "height_mm": _parse_int(row, "height_mm", minimum=0, required=False, errors=errors),
    }


def _validate(
    seller: Seller, rows: list[tuple[int, dict[str, str]]], report: ImportReport, *, lock: bool
) -> tuple[dict[str, Any], list[_VariantRow]]:
    """Check every row against the file and the database; plan the changes into ``report``."""
    categories = category_tree().by_slug
    slugs = {row["product_slug"] for _line, row in rows if row["product_slug"]}
    skus = {row["sku"] for _line, row in rows if row["sku"]}
    existing_products = Product.objects.filter(slug__in=slugs)
    if lock:  # an import racing an edit of the same products waits for it, in pk order
        existing_products = existing_products.select_for_update(of=("self",)).order_by("pk")
    products_by_slug = {p.slug: p for p in existing_products}
    variants_by_sku = {v.sku: v for v in Variant.objects.filter(sku__in=skus).select_related("product")}

    product_rows: dict[str, _ProductRow] = {}
    variant_rows: list[_VariantRow] = []
    first_sku_line: dict[str, int] = {}
    for line, row in rows:
        errors: list[str] = []
        values = _parse_product(row, errors, categories)
        slug = row["product_slug"]
        owner = products_by_slug.get(slug)
        if owner is not None and owner.seller_id != seller.pk:
            errors.append(
                _("The product “%(slug)s” belongs to another seller; choose another product_slug.") % {"slug": slug}
            )
        raw = tuple(row[name] for name in PRODUCT_COLUMNS)
        if slug in product_rows and product_rows[slug].raw != raw:
            errors.append(
                _("The product columns differ from line %(line)s, which has the same product_slug.")
                % {"line": product_rows[slug].line}
            )
        variant = _parse_variant(row, errors, seller.base_currency)
        if variant is not None and (sku := variant["sku"]):
            if sku in first_sku_line:
                errors.append(
                    _("The SKU %(sku)s appears more than once in the file (first on line %(line)s).")
                    % {"sku": sku, "line": first_sku_line[sku]}
                )
            else:
                first_sku_line[sku] = line
            known = variants_by_sku.get(sku)
            if known is not None and known.product.seller_id != seller.pk:
                errors.append(_("The SKU %(sku)s belongs to another seller.") % {"sku": sku})
            elif known is not None and known.product.slug != slug:
                errors.append(
                    _("The SKU %(sku)s belongs to your product “%(other)s”; a variant cannot move to another product.")
                    % {"sku": sku, "other": known.product.slug}
                )
        if errors:
            report.errors.extend(RowError(line, message) for message in errors)
            continue
        product_rows.setdefault(slug, _ProductRow(line, slug, raw, values))
        if variant is not None:
            variant_rows.append(_VariantRow(line, slug, variant))

    if report.errors:
        return {}, []
    for slug, prow in product_rows.items():
        product = products_by_slug.get(slug)
        if product is None:
            report.products.append(Change("create", slug, prow.line))
        else:
            changed = tuple(services.changed_values(product, prow.values))
            report.products.append(Change("update" if changed else "unchanged", slug, prow.line, changed))
    for vrow in variant_rows:
        known = variants_by_sku.get(vrow.values["sku"])
        if known is None:
            report.variants.append(Change("create", vrow.values["sku"], vrow.line))
        else:
            changed = tuple(services.changed_values(known, vrow.values))
            report.variants.append(Change("update" if changed else "unchanged", known.sku, vrow.line, changed))
    return {"products": products_by_slug, "variants": variants_by_sku, "product_rows": product_rows}, variant_rows


def _apply(seller: Seller, state: dict[str, Any], variant_rows: list[_VariantRow]) -> None:
    products: dict[str, Product] = state["products"]
    variants: dict[str, Variant] = state["variants"]
    for slug, prow in state["product_rows"].items():
        if slug in products:
            services.update_product(products[slug], values=prow.values)
        else:
            products[slug] = services.create_product(seller=seller, values=prow.values, slug=slug)
    for vrow in variant_rows:
        product = products[vrow.product_slug]
        services.save_variant(product=product, values=vrow.values, variant=variants.get(vrow.values["sku"]))


def import_csv(seller: Seller, data: bytes, *, dry_run: bool) -> ImportReport:
    """Check ``data`` (CSV bytes) and, unless ``dry_run`` or a row is bad, write it in one transaction."""
    report = ImportReport(dry_run=dry_run)
    try:
        text = _decode(data)
    except ValueError as exc:
        report.errors.append(RowError(None, str(exc)))
        return report
    rows = _read_rows(text, report)
    if report.errors:
        return report
    try:
        with transaction.atomic():
            state, variant_rows = _validate(seller, rows, report, lock=not dry_run)
            if report.ok and not dry_run:
                _apply(seller, state, variant_rows)
                report.applied = True
    except DomainError as exc:  # a slug or SKU taken by someone else between our check and our write
        report.errors.append(RowError(None, _("Nothing was saved: %(reason)s Try again.") % {"reason": exc.message}))
        report.applied = False
    return report
