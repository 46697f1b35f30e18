"""CSV export and import of the seller portal: all or nothing, every bad row reported, own data only."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from djmoney.money import Money

from catalog import services as catalog_services
from catalog.models import Product, Variant
from catalog.portal.csv_io import HEADER, NAME_COLUMNS, export_csv, import_csv

from .factories import CategoryFactory, ProductFactory, SellerFactory, SellerMemberFactory, VariantFactory


def row(**values: str) -> dict[str, str]:
    base = {
        "product_slug": "scarf",
        "category_slug": "wigs",
        "brand": "Silk",
        "hs_code": "621410",
        "origin_country": "CN",
        "name_en": "Silk scarf",
        "sku": "SCARF-RED",
        "options": "colour=red",
        "price": "19.99",
        "weight_grams": "80",
        "length_mm": "900",
        "width_mm": "900",
        "height_mm": "2",
    }
    base.update(values)
    return base


def csv_bytes(rows: list[dict[str, str]], header: tuple[str, ...] | list[str] = HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(header), restval="", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def snapshot() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every stored column of every product and variant (``updated_at`` included): equal means untouched."""
    return list(Product.objects.order_by("pk").values()), list(Variant.objects.order_by("pk").values())


@pytest.fixture
def category(db):
    return CategoryFactory(slug="wigs", name_en="Wigs")


@pytest.fixture
def seller(db):
    return SellerFactory(slug="silk-hair", name="Silk Hair", base_currency="EUR")


@pytest.fixture
def catalog_data(seller, category):
    """Two products of ours (one without variants) and one of another seller."""
    wig = ProductFactory(
        seller=seller,
        category=category,
        slug="silk-wig",
        brand='Silk "Pro", Ltd',
        name_en="Silk wig, 40 cm",
        name_de="Seidenperücke",
        short_description_de="Echthaar.",
        name_ja="シルクのウィッグ",
        name_ar="باروكة حرير",
        status=Product.Status.ACTIVE,
    )
    VariantFactory(
        product=wig, sku="WIG-BLK", options={"colour": "black", "length": "40 cm"}, price=Money("129.9", "EUR")
    )
    VariantFactory(product=wig, sku="WIG-BRN", options={"fit": "a;b=c", "size": 3}, price=Money("0.5", "EUR"))
    ProductFactory(seller=seller, category=category, slug="comb", name_en="Comb")
    other = SellerFactory(slug="gadget-works", name="Gadget Works", country="US", base_currency="USD")
    gadget = ProductFactory(seller=other, category=category, slug="gadget", name_en="Gadget")
    VariantFactory(product=gadget, sku="GADGET-1", price=Money("10.00", "USD"))
    return wig


# --- Export ------------------------------------------------------------------------------


def test_export_has_one_row_per_variant_and_only_own_products(seller, catalog_data):
    rows = read_csv(export_csv(seller))

    assert list(rows[0]) == list(HEADER)
    assert [(r["product_slug"], r["sku"]) for r in rows] == [
        ("comb", ""),
        ("silk-wig", "WIG-BLK"),
        ("silk-wig", "WIG-BRN"),
    ]
    black, brown = rows[1], rows[2]
    assert black["price"] == "129.90"  # the currency's two digits
    assert brown["price"] == "0.50"
    assert black["options"] == "colour=black;length=40 cm"
    assert brown["options"] == '{"fit": "a;b=c", "size": 3}'  # not expressible as k=v: JSON
    assert (black["brand"], black["name_de"], black["name_ja"], black["name_fr"]) == (
        'Silk "Pro", Ltd',
        "Seidenperücke",
        "シルクのウィッグ",
        "",
    )
    assert (black["weight_grams"], black["length_mm"]) == ("300", "200")
    assert all("GADGET" not in r["sku"] and r["product_slug"] != "gadget" for r in rows)


def test_export_round_trips_through_import_with_no_changes(seller, catalog_data):
    before = snapshot()
    data = export_csv(seller).encode()

    dry = import_csv(seller, data, dry_run=True)
    real = import_csv(seller, data, dry_run=False)

    for report in (dry, real):
        assert report.errors == []
        assert report.summary == {
            "products_create": 0,
            "products_update": 0,
            "products_unchanged": 2,
            "variants_create": 0,
            "variants_update": 0,
            "variants_unchanged": 2,
        }
    assert snapshot() == before


# --- Good files --------------------------------------------------------------------------


def test_good_file_creates_and_updates_exactly(seller, catalog_data):
    # given
    wig = catalog_data
    catalog_services.record_text_changes(wig, ["name_en", "name_de"])  # German written with the English
    wig.save()
    products, variants = Product.objects.count(), Variant.objects.count()
    data = csv_bytes(
        [
            row(),  # a new product ...
            row(sku="SCARF-BLUE", options="colour=blue", price="1234.5", weight_grams="81"),  # ... with two variants
            # our wig: new English name and a new price for one variant, a new variant
            row(
                product_slug="silk-wig",
                brand='Silk "Pro", Ltd',
                hs_code="670411",
                name_en="Silk wig, 45 cm",
                name_de="Seidenperücke",
                name_ja="シルクのウィッグ",
                name_ar="باروكة حرير",
                sku="WIG-BLK",
                options="colour=black;length=40 cm",
                price="135.01",
                weight_grams="300",
                length_mm="200",
                width_mm="100",
                height_mm="50",
            ),
            row(
                product_slug="silk-wig",
                brand='Silk "Pro", Ltd',
                hs_code="670411",
                name_en="Silk wig, 45 cm",
                name_de="Seidenperücke",
                name_ja="シルクのウィッグ",
                name_ar="باروكة حرير",
                sku="WIG-RED",
                options='{"colour": "red"}',
                price="140",
                weight_grams="310",
                length_mm="",  # empty sizes are 0
                width_mm="",
                height_mm="",
            ),
        ]
    )

    # when
    report = import_csv(seller, data, dry_run=False)

    # then
    assert report.errors == []
    assert report.applied
    assert report.summary == {
        "products_create": 1,
        "products_update": 1,
        "products_unchanged": 0,
        "variants_create": 3,
        "variants_update": 1,
        "variants_unchanged": 0,
    }
    assert (Product.objects.count(), Variant.objects.count()) == (products + 1, variants + 3)

    scarf = Product.objects.get(slug="scarf")
    assert (scarf.seller, scarf.status, scarf.category.slug) == (seller, Product.Status.DRAFT, "wigs")
    assert (scarf.name_en, scarf.brand, scarf.hs_code, scarf.origin_country.code) == (
        "Silk scarf",
        "Silk",
        "621410",
        "CN",
    )
    red, blue = Variant.objects.get(sku="SCARF-RED"), Variant.objects.get(sku="SCARF-BLUE")
    assert (red.product, red.price, red.price.amount, red.options) == (
        scarf,
        Money("19.99", "EUR"),
        Decimal("19.99"),
        {"colour": "red"},
    )
    assert (blue.price.amount, blue.weight_grams, blue.length_mm, blue.height_mm) == (Decimal("1234.5"), 81, 900, 2)

    wig.refresh_from_db()
    assert (wig.name_en, wig.hs_code, wig.status) == ("Silk wig, 45 cm", "670411", Product.Status.ACTIVE)
    assert catalog_services.translation_status(wig)["de"] == "needs_update"  # the English changed, German did not
    assert Variant.objects.get(sku="WIG-BLK").price.amount == Decimal("135.01")
    assert Variant.objects.get(sku="WIG-BRN").price.amount == Decimal("0.5")  # not in the file: untouched
    new_red = Variant.objects.get(sku="WIG-RED")
    assert (new_red.product, new_red.options, new_red.price.amount, new_red.length_mm) == (
        wig,
        {"colour": "red"},
        Decimal("140"),
        0,
    )


def test_dry_run_writes_nothing_and_shows_the_plan(seller, catalog_data):
    before = snapshot()
    data = csv_bytes([row(), row(product_slug="silk-wig", name_en="Renamed", sku="WIG-BLK", price="1.00")])

    report = import_csv(seller, data, dry_run=True)

    assert report.ok and not report.applied
    assert [(c.action, c.key) for c in report.products] == [("create", "scarf"), ("update", "silk-wig")]
    assert "name_en" in report.products[1].fields
    assert [(c.action, c.key) for c in report.variants] == [("create", "SCARF-RED"), ("update", "WIG-BLK")]
    assert snapshot() == before


# --- Bad files ---------------------------------------------------------------------------


def test_bad_file_reports_every_bad_row_and_writes_nothing(seller, catalog_data):
    # given: line 2 is good, every other line has one problem
    before = snapshot()
    rows = [
        row(),  # 2
        row(product_slug="p3", sku="S3", category_slug="no-such-category"),  # 3
        row(product_slug="p4", sku="S4", hs_code="1234"),  # 4
        row(product_slug="p5", sku="S5", price="0"),  # 5
        row(product_slug="p6", sku="S6", price="12,50"),  # 6
        row(product_slug="p7", sku="S7", price="-3.00"),  # 7
        row(product_slug="p8", sku="SCARF-RED"),  # 8: duplicate of line 2
        row(product_slug="p9", sku="GADGET-1"),  # 9: another seller's SKU
        row(product_slug="gadget", sku="S10"),  # 10: another seller's product
        row(product_slug="p11", sku="S11", name_en=""),  # 11
        row(product_slug="p12", sku="S12", weight_grams="heavy"),  # 12
        row(product_slug="p13", sku="S13", origin_country="XX"),  # 13
        row(product_slug="p14", sku="S14", options="colour red"),  # 14
        row(product_slug="p15", sku="WIG-BLK"),  # 15: our SKU, but of another product
        row(product_slug="scarf", sku="SCARF-2", brand="Other brand"),  # 16: contradicts line 2
        row(product_slug="p17", sku="S17", price="1.999"),  # 17: EUR has two decimals
        row(product_slug="p18", sku="S18", price="1_000"),  # 18
        row(product_slug="p19", sku="S19", length_mm="-1"),  # 19
    ]

    # when
    report = import_csv(seller, csv_bytes(rows), dry_run=False)

    # then
    assert not report.ok and not report.applied
    by_line: dict[int | None, list[str]] = {}
    for error in report.errors:
        by_line.setdefault(error.line, []).append(error.message)
    assert sorted(by_line) == list(range(3, 20))
    expected = {
        3: "Unknown category",
        4: "HS code",
        5: "more than zero",
        6: "not a number",
        7: "more than zero",
        8: "more than once in the file (first on line 2)",
        9: "belongs to another seller",
        10: "belongs to another seller",
        11: "name_en is missing",
        12: "whole number",
        13: "country of origin",
        14: "name=value",
        15: "cannot move to another product",
        16: "differ from line 2",
        17: "decimal places",
        18: "not a number",
        19: "whole number",
    }
    for line, needle in expected.items():
        assert any(needle in message for message in by_line[line]), (line, by_line[line])
    assert snapshot() == before
    assert not Product.objects.filter(slug="scarf").exists()  # not even the good row


def test_wrong_column_set_is_refused(seller, catalog_data):
    before = snapshot()
    header = [c for c in HEADER if c != "price"] + ["colour"]

    report = import_csv(seller, csv_bytes([row()], header=header), dry_run=False)

    assert len(report.errors) == 1
    assert report.errors[0].line == 1
    assert "missing columns: price" in report.errors[0].message
    assert "unknown columns: colour" in report.errors[0].message
    assert snapshot() == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (",".join(HEADER).encode(), "no rows"),
        ("product_slug;café".encode("latin-1"), "UTF-8"),
    ],
)
def test_unreadable_files_are_refused(seller, data, message):
    report = import_csv(seller, data, dry_run=False)

    assert not report.ok
    assert message in report.errors[0].message


def test_row_with_the_wrong_number_of_values(seller, category):
    data = csv_bytes([row()]) + b"too,few,values\n"

    report = import_csv(seller, data, dry_run=False)

    assert [(e.line, e.message) for e in report.errors] == [(3, f"Expected {len(HEADER)} values, found 3.")]
    assert not Product.objects.exists()


def test_names_in_every_language_and_a_product_without_variants(seller, category):
    names = {name: f"{name} text" for name in NAME_COLUMNS}
    blank_variant = dict.fromkeys(("sku", "options", "price", "weight_grams", "length_mm", "width_mm", "height_mm"), "")

    report = import_csv(seller, csv_bytes([row(**names, **blank_variant)]), dry_run=False)

    assert report.ok, report.errors
    product = Product.objects.get(slug="scarf")
    assert all(getattr(product, name) == f"{name} text" for name in NAME_COLUMNS)
    assert not product.variants.exists()
    names_ok = catalog_services.translation_status(product)
    assert names_ok["ja"] != "needs_update"


# --- Through the portal ------------------------------------------------------------------


@pytest.fixture
def seller_client(client, seller):
    client.force_login(SellerMemberFactory(seller=seller).user)
    return client


def post_import(client, data: bytes, *, dry_run: bool):
    payload: dict[str, Any] = {"file": SimpleUploadedFile("products.csv", data, content_type="text/csv")}
    if dry_run:
        payload["dry_run"] = "on"
    return client.post(reverse("portal:import"), payload)


def test_import_page_dry_run_then_real(seller_client, seller, catalog_data):
    before = snapshot()
    data = csv_bytes([row()])

    response = post_import(seller_client, data, dry_run=True)

    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="import-change" data-kind="product" data-action="create" data-key="scarf"' in body
    assert 'data-kind="variant" data-action="create" data-key="SCARF-RED"' in body
    assert snapshot() == before

    response = post_import(seller_client, data, dry_run=False)

    assert response.status_code == 302
    assert response["Location"] == reverse("portal:dashboard")
    assert Product.objects.get(slug="scarf").seller == seller


def test_import_page_shows_every_bad_row(seller_client, catalog_data):
    before = snapshot()
    data = csv_bytes([row(), row(product_slug="p3", sku="S3", hs_code="12"), row(product_slug="gadget", sku="S4")])

    response = post_import(seller_client, data, dry_run=False)

    body = response.content.decode()
    assert response.status_code == 400
    assert body.count('data-testid="form-error"') == 2
    assert 'data-line="3"' in body and "Line 3:" in body
    assert 'data-line="4"' in body and "belongs to another seller" in body
    assert snapshot() == before


def test_import_page_without_a_file_is_refused(seller_client, catalog_data):
    response = seller_client.post(reverse("portal:import"), {"dry_run": "on"})

    assert response.status_code == 400
    assert 'data-testid="form-error"' in response.content.decode()


def test_another_seller_cannot_export_or_import_over_ours(client, seller, catalog_data):
    # given: the other seller's user
    other = SellerFactory(slug="gadget-works")
    client.force_login(SellerMemberFactory(seller=other).user)
    before = snapshot()

    # when: they export ours by id, and import a file naming our slug and SKU
    export = client.get(reverse("portal:product-export", kwargs={"pk": catalog_data.pk}))
    response = post_import(
        client, csv_bytes([row(product_slug="silk-wig", sku="WIG-BLK", name_en="Mine now")]), dry_run=False
    )

    # then
    assert export.status_code == 404
    assert response.status_code == 400
    assert "belongs to another seller" in response.content.decode()
    assert snapshot() == before
    own_export = client.get(reverse("portal:export")).content.decode()
    assert "silk-wig" not in own_export and "gadget" in own_export
