from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("products/new/", views.product_create, name="product-create"),
    path("products/<int:pk>/", views.product_edit, name="product-edit"),
    path("products/<int:pk>/submit/", views.product_submit, name="product-submit"),
    path("products/<int:pk>/archive/", views.product_archive, name="product-archive"),
    path("products/<int:pk>/export.csv", views.product_export, name="product-export"),
    path("products/<int:pk>/variants/new/", views.variant_create, name="variant-create"),
    path("products/<int:pk>/images/", views.image_upload, name="image-upload"),
    path("variants/<int:pk>/", views.variant_edit, name="variant-edit"),
    path("variants/<int:pk>/delete/", views.variant_delete, name="variant-delete"),
    path("variants/<int:pk>/prices/", views.price_set, name="price-set"),
    path("prices/<int:pk>/delete/", views.price_delete, name="price-delete"),
    path("images/<int:pk>/delete/", views.image_delete, name="image-delete"),
    path("export.csv", views.export, name="export"),
    path("import/", views.import_products, name="import"),
]
