"""Views of the seller portal. Each turns a request into a selector or service call and the result
into a response; invalid input re-renders its form with status 400 and saves nothing."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import services as catalog_services
from ..models import Product, Seller, Variant
from . import csv_io, services
from .forms import LANGUAGE_NAMES, ExplicitPriceForm, ImageForm, ImportForm, ProductForm, StatusFilterForm, VariantForm
from .selectors import (
    explicit_price_for_seller,
    image_for_seller,
    portal_products,
    product_for_seller,
    seller_for_user,
    variant_for_seller,
)

PAGE_SIZE = 50
STATUS_LABELS = {
    "complete": gettext_lazy("complete"),
    "missing": gettext_lazy("missing"),
    "needs_update": gettext_lazy("needs update"),
}
PortalView = Callable[..., HttpResponse]


def seller_required(view: PortalView) -> PortalView:
    """Sign-in required; then the user must act for a seller (403 otherwise). The view gets the
    seller as its second argument, and every lookup it makes goes through that seller."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        seller = seller_for_user(request.user)
        if seller is None:
            return render(request, "catalog/portal/not_seller.html", status=403)
        return view(request, seller, *args, **kwargs)

    return login_required(wrapped)


def _translation_row(product: Product) -> list[dict[str, Any]]:
    return [
        {"code": code, "name": LANGUAGE_NAMES[code], "status": status, "label": STATUS_LABELS[status]}
        for code, status in catalog_services.translation_status(product).items()
    ]


def _edit_url(product: Product) -> str:
    return reverse("portal:product-edit", kwargs={"pk": product.pk})


# --- Products ----------------------------------------------------------------------------


@seller_required
@require_GET
def dashboard(request: HttpRequest, seller: Seller) -> HttpResponse:
    """The seller's products in every status, with variant counts and translation completeness."""
    filters = StatusFilterForm(request.GET)
    status = filters.cleaned_data.get("status") if filters.is_valid() else None
    page = Paginator(portal_products(seller, status=status), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"product": p, "translations": _translation_row(p)} for p in page.object_list]
    return render(
        request,
        "catalog/portal/dashboard.html",
        {"seller": seller, "filters": filters, "status": status or "", "page": page, "rows": rows},
    )


@seller_required
@require_http_methods(["GET", "POST"])
def product_create(request: HttpRequest, seller: Seller) -> HttpResponse:
    form = ProductForm(request.POST or None, creating=True)
    if request.method == "POST":
        if form.is_valid():
            try:
                product = services.create_product(
                    seller=seller, values=form.product_values(), slug=form.cleaned_data["slug"]
                )
            except services.SlugTaken as exc:
                form.add_error("slug", exc.message)
            else:
                messages.success(request, _("The product was created as a draft. Now add its variants."))
                return redirect(_edit_url(product))
        return _render_product_form(request, seller, form=form, status=400)
    return _render_product_form(request, seller, form=form)


def _render_product_form(request: HttpRequest, seller: Seller, *, form: ProductForm, status: int = 200) -> HttpResponse:
    return render(
        request,
        "catalog/portal/product_create.html",
        {"seller": seller, "form": form, "groups": form.language_groups()},
        status=status,
    )


def _render_product_page(
    request: HttpRequest,
    seller: Seller,
    product: Product,
    *,
    form: ProductForm | None = None,
    image_form: ImageForm | None = None,
    status: int = 200,
) -> HttpResponse:
    form = form or ProductForm(initial=ProductForm.initial_for(product))
    return render(
        request,
        "catalog/portal/product_edit.html",
        {
            "seller": seller,
            "product": product,
            "form": form,
            "groups": form.language_groups(catalog_services.translation_status(product)),
            "status_labels": STATUS_LABELS,
            "image_form": image_form or ImageForm(),
            "can_submit": product.can_become(Product.Status.PENDING_REVIEW),
            "can_archive": product.can_become(Product.Status.ARCHIVED),
        },
        status=status,
    )


@seller_required
@require_http_methods(["GET", "POST"])
def product_edit(request: HttpRequest, seller: Seller, pk: int) -> HttpResponse:
    product = product_for_seller(pk, seller=seller)
    if request.method == "GET":
        return _render_product_page(request, seller, product)
    form = ProductForm(request.POST, initial=ProductForm.initial_for(product))
    if not form.is_valid():
        return _render_product_page(request, seller, product, form=form, status=400)
    services.update_product(product, values=form.product_values())
    messages.success(request, _("Your changes were saved."))
    return redirect(_edit_url(product))


@seller_required
@require_POST
def product_submit(request: HttpRequest, seller: Seller, pk: int) -> HttpResponse:
    product = product_for_seller(pk, seller=seller)
    try:
        catalog_services.submit_for_review(product)
    except catalog_services.InvalidTransition as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Submitted for review. We will tell you when it is live."))
    return redirect(_edit_url(product))


@seller_required
@require_POST
def product_archive(request: HttpRequest, seller: Seller, pk: int) -> HttpResponse:
    product = product_for_seller(pk, seller=seller)
    try:
        catalog_services.archive(product)
    except catalog_services.InvalidTransition as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The product was archived; buyers no longer see it."))
    return redirect(_edit_url(product))


# --- Variants and explicit prices --------------------------------------------------------


def _render_variant_page(
    request: HttpRequest,
    seller: Seller,
    product: Product,
    *,
    form: VariantForm,
    variant: Variant | None = None,
    price_form: ExplicitPriceForm | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "catalog/portal/variant_form.html",
        {
            "seller": seller,
            "product": product,
            "variant": variant,
            "form": form,
            "price_form": price_form or ExplicitPriceForm(seller_currency=seller.base_currency),
            "explicit_prices": list(variant.prices.all()) if variant is not None else [],
            "currencies": [c for c in settings.CURRENCIES if c != seller.base_currency],
        },
        status=status,
    )


@seller_required
@require_http_methods(["GET", "POST"])
def variant_create(request: HttpRequest, seller: Seller, pk: int) -> HttpResponse:
    product = product_for_seller(pk, seller=seller)
    form = VariantForm(request.POST or None, currency=seller.base_currency)
    if request.method == "GET":
        return _render_variant_page(request, seller, product, form=form)
    if form.is_valid():
        try:
            variant = services.save_variant(product=product, values=form.variant_values())
        except services.SkuTaken as exc:
            form.add_error("sku", exc.message)
        else:
            messages.success(request, _("The variant %(sku)s was added.") % {"sku": variant.sku})
            return redirect(f"{_edit_url(product)}#variants")
    return _render_variant_page(request, seller, product, form=form, status=400)


@seller_required
@require_http_methods(["GET", "POST"])
def variant_edit(request: HttpRequest, seller: Seller, pk: int) -> HttpResponse:
    variant = variant_for_seller(pk, seller=seller)
    product = variant.product
    if request.method == "GET":
        form = VariantForm(initial=VariantForm.initial_for(variant), currency=seller.base_currency, variant=variant)
        return _render_variant_page(request, seller, product, form=form, variant=variant)
    form = VariantForm(request.POST, currency=seller.base_currency, variant=variant)
    if form.is_valid():
        try:
            services.save_variant(product=product, values=form.variant_values(), variant=variant)
        except services.SkuTaken as exc:
            form.add_error("sku", exc.message)
        else:
            messages.success(request, _("Your changes were saved."))
            return redirect(f"{_edit_url(product)}#variants")
    variant.refresh_from_db()  # show the stored values beside the form, not the rejected ones
    return _render_variant_page(request, seller, product, form=form, variant=variant, status=400)


@seller_required
@require_POST
def variant_delete(request: HttpRequest, seller: Seller, pk: int) -> HttpResponse:
    variant = variant_for_seller(pk, seller=seller)
    try:
        services.delete_variant(variant)
    except services.VariantInUse as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The variant %(sku)s was deleted.") % {"sku": variant.sku})
    return redirect(f"{_edit_url(variant.product)}#variants")


@seller_required
@require_POST
def price_set(request: HttpRequest, seller: Seller, pk: int) -> HttpResponse:
    variant = variant_for_seller(pk, seller=seller)
    price_form = ExplicitPriceForm(request.POST, seller_currency=seller.base_currency)
    if not price_form.is_valid():
        form = VariantForm(initial=VariantForm.initial_for(variant), currency=seller.base_currency, variant=variant)
        return _render_variant_page(
            request, seller, variant.product, form=form, variant=variant, price_form=price_form, status=400
        )
    explicit = services.set_explicit_price(variant, price=price_form.price())
    messages.success(request, _("The price in %(code)s was saved.") % {"code": explicit.price.currency.code})
    return redirect("portal:variant-edit", pk=variant.pk)


@seller_required
@require_POST
def price_delete(request: HttpRequest, seller: Seller, pk: int) -> HttpResponse:
    explicit = explicit_price_for_seller(pk, seller=seller)
    services.delete_explicit_price(explicit)
    messages.success(
        request,
        _("The price in %(code)s was removed; buyers paying in it see the converted price.")
        % {"code": explicit.price.currency.code},
    )
    return redirect("portal:variant-edit", pk=explicit.variant_id)


# --- Images ------------------------------------------------------------------------------


@seller_required
@require_POST
def image_upload(request: HttpRequest, seller: Seller, pk: int) -> HttpResponse:
    product = product_for_seller(pk, seller=seller)
    image_form = ImageForm(request.POST, request.FILES)
    if not image_form.is_valid():
        return _render_product_page(request, seller, product, image_form=image_form, status=400)
    services.add_image(product, upload=image_form.cleaned_data["image"], alt=image_form.cleaned_data["alt"])
    messages.success(request, _("The image was added."))
    return redirect(f"{_edit_url(product)}#images")


@seller_required
@require_POST
def image_delete(request: HttpRequest, seller: Seller, pk: int) -> HttpResponse:
    image = image_for_seller(pk, seller=seller)
    services.delete_image(image)
    messages.success(request, _("The image was deleted."))
    return redirect(f"{_edit_url(image.product)}#images")


# --- CSV ---------------------------------------------------------------------------------


def _csv_response(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@seller_required
@require_GET
def export(request: HttpRequest, seller: Seller) -> HttpResponse:
    return _csv_response(csv_io.export_csv(seller), f"{seller.slug}-products.csv")


@seller_required
@require_GET
def product_export(request: HttpRequest, seller: Seller, pk: int) -> HttpResponse:
    product = product_for_seller(pk, seller=seller)
    return _csv_response(csv_io.export_csv(seller, product_ids=[product.pk]), f"{product.slug}.csv")


@seller_required
@require_http_methods(["GET", "POST"])
def import_products(request: HttpRequest, seller: Seller) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    context: dict[str, Any] = {"seller": seller, "form": form, "header": csv_io.HEADER, "report": None}
    if request.method == "GET":
        return render(request, "catalog/portal/import.html", context)
    if not form.is_valid():
        return render(request, "catalog/portal/import.html", context, status=400)
    report = csv_io.import_csv(seller, form.cleaned_data["file"].read(), dry_run=form.cleaned_data["dry_run"])
    if report.applied:
        counts = report.summary
        messages.success(
            request,
            _(
                "Imported: %(pc)s products created, %(pu)s updated; %(vc)s variants created, %(vu)s updated. "
                "New products are drafts."
            )
            % {
                "pc": counts["products_create"],
                "pu": counts["products_update"],
                "vc": counts["variants_create"],
                "vu": counts["variants_update"],
            },
        )
        return redirect("portal:dashboard")
    context["report"] = report
    return render(request, "catalog/portal/import.html", context, status=200 if report.ok else 400)
