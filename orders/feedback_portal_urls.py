"""Included by the project under ``seller/messages/`` (namespace ``seller-messages``)."""

from django.urls import path

from . import feedback_portal as views

app_name = "seller-messages"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("<int:pk>/", views.thread, name="thread"),
    path("<int:pk>/reply/", views.reply, name="reply"),
    path("<int:pk>/resolve/", views.resolve, name="resolve"),
    path("revisions/", views.revision_list, name="revisions"),
    path("revisions/new/", views.revision_create, name="revision-create"),
]
