from django.urls import path

from . import feedback_urls, views

app_name = "orders"

urlpatterns = [
    path("cart/", views.cart_detail, name="cart"),
    path("cart/add/", views.cart_add, name="cart-add"),
    path("cart/lines/<int:line_id>/", views.cart_line_update, name="cart-line-update"),
    path("checkout/", views.checkout, name="checkout"),
    path("checkout/place/", views.checkout_place, name="checkout-place"),
    path("orders/", views.order_list, name="order-list"),
    path("orders/<str:number>/", views.order_detail, name="order-detail"),
    path("orders/<str:number>/cancel/", views.order_cancel, name="order-cancel"),
    path("orders/<str:number>/pay/", views.order_pay, name="order-pay"),
    path("orders/<str:number>/payment/return/", views.payment_return, name="payment-return"),
]

urlpatterns += feedback_urls.urlpatterns  # /messages/...: buyer-to-producer threads (issue 7)
