"""The seller portal's inbox and product revisions (``/<lang>/seller/messages/``).

Built on the catalog portal (its ``seller_required`` and base template), as logistics/portal is;
catalog does not import this module. Every lookup goes through the user's seller: another
seller's thread is a 404, exactly like a thread that does not exist.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from catalog.models import Product, Seller
from catalog.portal.views import seller_required

from .feedback import publish_revision
from .feedback_exceptions import FeedbackError
from .feedback_forms import ReplyForm, RevisionForm, ThreadFilterForm
from .feedback_models import Side
from .feedback_selectors import (
    linkable_threads,
    seller_revisions,
    seller_thread_products,
    seller_threads,
    thread_for_seller,
)
from .feedback_views import handle_reply, handle_resolve, render_thread

PAGE_SIZE = 25
TEMPLATE = "orders/feedback/portal_thread.html"


@seller_required
@require_GET
def inbox(request: HttpRequest, seller: Seller) -> HttpResponse:
    filters = ThreadFilterForm(request.GET or None, products=seller_thread_products(seller))
    status, product_id = filters.values()
    page = Paginator(seller_threads(seller, status=status, product_id=product_id), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "orders/feedback/portal_inbox.html",
        {"seller": seller, "filters": filters, "page": page, "status": status or ""},
    )


@seller_required
@require_GET
def thread(request: HttpRequest, seller: Seller, pk: int) -> HttpResponse:
    item = thread_for_seller(pk, seller=seller)
    return render_thread(request, item, Side.SELLER, template=TEMPLATE, extra={"seller": seller})


@seller_required
@require_POST
def reply(request: HttpRequest, seller: Seller, pk: int) -> HttpResponse:
    item = thread_for_seller(pk, seller=seller)

    def page(form: ReplyForm, status: int) -> HttpResponse:
        return render_thread(
            request, item, Side.SELLER, template=TEMPLATE, form=form, status=status, extra={"seller": seller}
        )

    return handle_reply(request, item, Side.SELLER, render_page=page)


@seller_required
@require_POST
def resolve(request: HttpRequest, seller: Seller, pk: int) -> HttpResponse:
    return handle_resolve(request, thread_for_seller(pk, seller=seller), Side.SELLER)


@seller_required
@require_GET
def revision_list(request: HttpRequest, seller: Seller) -> HttpResponse:
    page = Paginator(seller_revisions(seller), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "orders/feedback/portal_revisions.html", {"seller": seller, "page": page})


@seller_required
@require_http_methods(["GET", "POST"])
def revision_create(request: HttpRequest, seller: Seller) -> HttpResponse:
    """Publish what changed in a product and link the conversations it answers (``?product=<id>``
    and ``?thread=<id>`` preselect them, from a thread's page)."""
    products = Product.objects.filter(seller=seller).order_by("-updated_at", "-pk")
    source = request.POST if request.method == "POST" else request.GET
    try:
        product_id = int(source.get("product") or 0) or None
    except ValueError:
        product_id = None
    threads = linkable_threads(seller, product_id=product_id)
    if request.method == "GET":
        initial = {"product": product_id, "threads": [t for t in request.GET.getlist("thread") if t.isdigit()]}
        form = RevisionForm(initial=initial, products=products, threads=threads)
        return _revision_page(request, seller, form)
    form = RevisionForm(request.POST, products=products, threads=linkable_threads(seller, product_id=None))
    if not form.is_valid():
        return _revision_page(request, seller, form, status=400)
    data = form.cleaned_data
    try:
        publish_revision(
            seller_id=seller.pk,
            author=request.user,  # type: ignore[arg-type]
            product_id=data["product"].pk,
            summaries=form.summaries(),
            bodies=form.bodies(),
            thread_ids=[t.pk for t in data["threads"]],
            client_key=data["key"],
        )
    except FeedbackError as exc:
        form.add_error(None, exc.message)
        return _revision_page(request, seller, form, status=400)
    messages.success(
        request, _("The revision is published on the product page; the buyers of the linked conversations are told.")
    )
    return redirect("seller-messages:revisions")


def _revision_page(request: HttpRequest, seller: Seller, form: RevisionForm, *, status: int = 200) -> HttpResponse:
    return render(
        request,
        "orders/feedback/portal_revision_form.html",
        {"seller": seller, "form": form, "groups": form.language_groups(), "new_key": uuid.uuid4()},
        status=status,
    )
