"""Included by the project under ``seller/shipments/`` (namespace ``seller-shipments``)."""

from django.urls import path

from . import shipment_views as views

app_name = "seller-shipments"

urlpatterns = [
    path("", views.shipment_list, name="list"),
    path("<int:pk>/pack/", views.shipment_pack, name="pack"),
    path("<int:pk>/ship/", views.shipment_ship, name="ship"),
]
