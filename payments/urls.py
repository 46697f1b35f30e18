from django.urls import path

from . import views

app_name = "payments"

urlpatterns = [
    path("pay/demo/<str:reference>/", views.demo_gateway, name="demo-gateway"),
    path("pay/demo/<str:reference>/3ds/", views.demo_challenge, name="demo-challenge"),
    path("pay/demo/<str:reference>/app/", views.demo_wallet_app, name="demo-wallet-app"),
    path("pay/demo/<str:reference>/decision/", views.demo_wallet_decision, name="demo-wallet-decision"),
]
