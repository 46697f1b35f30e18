"""The reference view: what Django itself costs on this machine for a page of 24 rows (one query,
a small template), through the same middleware as the storefront."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from catalog.models import Product


def reference(request: HttpRequest) -> HttpResponse:
    rows = list(Product.objects.order_by("pk").values("pk", "slug", "brand", "hs_code")[:24])
    return render(request, "bench/reference.html", {"rows": rows})
