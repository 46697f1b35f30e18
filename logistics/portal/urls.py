"""Included by the project under ``seller/stock/`` (namespace ``stock``)."""

from django.urls import path

from . import views

app_name = "stock"

urlpatterns = [
    path("", views.stock_overview, name="overview"),
    path("change/", views.stock_change, name="change"),
]
