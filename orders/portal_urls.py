"""Included by the project under ``seller/orders/`` (namespace ``seller-orders``)."""

from django.urls import path

from . import portal as views

app_name = "seller-orders"

urlpatterns = [
    path("", views.sub_order_list, name="list"),
    path("<str:number>/", views.sub_order_detail, name="detail"),
    path("<str:number>/shipments/<int:pk>/pack/", views.shipment_pack, name="pack"),
    path("<str:number>/shipments/<int:pk>/ship/", views.shipment_ship, name="ship"),
]
