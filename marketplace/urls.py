from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from catalog import views as catalog_views
from logistics import views as logistics_views
from payments.webhooks import stripe_webhook

from . import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("currency/", views.set_currency, name="set-currency"),
    path("healthz", views.healthz, name="healthz"),
    path("webhooks/carriers/<slug:code>/", logistics_views.carrier_webhook, name="carrier-webhook"),
    path("webhooks/stripe/", stripe_webhook, name="stripe-webhook"),
]

urlpatterns += i18n_patterns(
    path("", catalog_views.home, name="home"),
    path("", include("catalog.urls")),
    path("seller/stock/", include("logistics.portal.urls")),  # before the portal: its own namespace
    path("seller/shipments/", include("logistics.portal.shipment_urls")),  # likewise
    path("seller/orders/", include("orders.portal_urls")),  # likewise: sub-orders to fulfil
    path("seller/balance/", include("payments.portal.urls")),  # likewise: balance, statement, payouts
    path("seller/messages/", include("orders.feedback_portal_urls")),  # likewise: buyers' threads
    path("seller/", include("catalog.portal.urls")),
    path("", include("logistics.urls")),
    path("", include("orders.urls")),
    path("", include("payments.urls")),  # /<lang>/pay/...: the demo gateway's pages
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", views.signup, name="signup"),
    prefix_default_language=True,
)

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
