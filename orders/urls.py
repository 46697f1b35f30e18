from django.urls import path

from . import views

app_name = "orders"

urlpatterns = [
    path("cart/", views.cart_detail, name="cart"),
    path("cart/add/", views.cart_add, name="cart-add"),
    path("cart/lines/<int:line_id>/", views.cart_line_update, name="cart-line-update"),
    path("checkout/", views.checkout, name="checkout"),
    path("checkout/place/", views.checkout_place, name="checkout-place"),
    path("orders/", views.order_list, name="order-list"),
    path("orders/<str:number>/", views.order_detail, name="order-detail"),
]
