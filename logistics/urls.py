"""Logistics pages under the language prefix (``/<lang>/shipments/...``). The carrier webhook
lives outside it, in ``marketplace/urls.py`` (``/webhooks/carriers/<code>/``)."""

from django.urls import path

from . import views

app_name = "logistics"

urlpatterns = [
    path("shipments/<int:pk>/commercial-invoice/", views.commercial_invoice, name="commercial-invoice"),
]
