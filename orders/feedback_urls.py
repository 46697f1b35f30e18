"""Buyer pages of the feedback threads, in the ``orders`` namespace (added by ``orders/urls.py``)."""

from django.urls import path

from . import feedback_views as views

urlpatterns = [
    path("messages/", views.thread_list, name="thread-list"),
    path("messages/new/", views.thread_create, name="thread-create"),
    path("messages/<int:pk>/", views.thread_detail, name="thread-detail"),
    path("messages/<int:pk>/reply/", views.thread_reply, name="thread-reply"),
    path("messages/<int:pk>/resolve/", views.thread_resolve, name="thread-resolve"),
    path("messages/<int:pk>/reopen/", views.thread_reopen, name="thread-reopen"),
    path("messages/<int:pk>/report/<int:message_pk>/", views.message_report, name="message-report"),
    path("messages/<int:pk>/photos/<int:photo_pk>/", views.photo, name="thread-photo"),
    path(
        "messages/<int:pk>/photos/<int:photo_pk>/thumbnail/",
        views.photo,
        {"thumbnail": True},
        name="thread-photo-thumbnail",
    ),
]
