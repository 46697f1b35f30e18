"""The project's URLs plus ``/bench/reference/``, the bare view the pages are compared with."""

from django.urls import path

from marketplace.urls import urlpatterns as project_urlpatterns

from . import views

urlpatterns = [path("bench/reference/", views.reference, name="bench-reference"), *project_urlpatterns]
