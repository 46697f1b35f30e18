from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .currency import CURRENCY_COOKIE, CURRENCY_COOKIE_AGE
from .forms import CurrencyForm, SignUpForm


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return "/"


@require_POST
def set_currency(request: HttpRequest) -> HttpResponse:
    """POST ``currency=XXX`` (and ``next``): remember the buyer's currency in a cookie and on the account."""
    form = CurrencyForm(request.POST)
    if not form.is_valid():
        return render(request, "marketplace/currency_error.html", {"form": form}, status=400)
    code = form.cleaned_data["currency"]
    response = HttpResponseRedirect(_safe_next(request, form.cleaned_data["next"] or request.headers.get("Referer")))
    response.set_cookie(
        CURRENCY_COOKIE,
        code,
        max_age=CURRENCY_COOKIE_AGE,
        samesite="Lax",
        secure=request.is_secure(),
        httponly=True,
    )
    user = request.user
    if user.is_authenticated and user.preferred_currency != code:
        user.preferred_currency = code
        user.save(update_fields=["preferred_currency"])
    return response


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None, initial={"country": getattr(request, "buyer_country", "")})
    if request.method == "POST" and form.is_valid():
        user = form.save(commit=False)
        user.preferred_language = request.LANGUAGE_CODE
        user.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("home")
    return render(request, "registration/signup.html", {"form": form}, status=400 if form.errors else 200)


def _check_broker() -> bool:
    from marketplace.celery import app

    if not settings.REDIS_URL:
        return True  # the embedded file-system broker has no server to be down
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return True


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Database, cache and broker: 200 when all answer, 503 otherwise."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            checks["database"] = cursor.fetchone() == (1,)
    except Exception:  # noqa: BLE001 (any failure means "down")
        checks["database"] = False
    try:
        cache.set("healthz", "ok", 10)
        checks["cache"] = cache.get("healthz") == "ok"
    except Exception:  # noqa: BLE001
        checks["cache"] = False
    try:
        checks["broker"] = _check_broker()
    except Exception:  # noqa: BLE001
        checks["broker"] = False
    ok = all(checks.values())
    return JsonResponse(
        {"status": "ok" if ok else "down", "checks": {k: "up" if v else "down" for k, v in checks.items()}},
        status=200 if ok else 503,
    )
