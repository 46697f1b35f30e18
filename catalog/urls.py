from django.urls import path

from . import views

app_name = "catalog"

urlpatterns = [
    path("products/", views.product_list, name="product-list"),
    path("products/<slug:slug>/", views.product_detail, name="product-detail"),
    path("categories/<slug:category_slug>/", views.product_list, name="category-detail"),
    path("sellers/<slug:slug>/", views.seller_detail, name="seller-detail"),
]
