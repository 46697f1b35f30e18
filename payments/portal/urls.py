"""Included by the project under ``seller/balance/`` (namespace ``seller-balance``)."""

from django.urls import path

from . import views

app_name = "seller-balance"

urlpatterns = [
    path("", views.balance, name="balance"),
    path("statement.csv", views.statement_csv, name="statement-csv"),
    path("payouts/<int:pk>/", views.payout_detail, name="payout"),
]
