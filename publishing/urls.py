"""The release export pages; framework/urls.py includes them at /review/release/ (namespace "releases")."""

from django.urls import path

from . import views

app_name = "releases"

urlpatterns = [
    path("", views.release_page, name="release"),
    path("download/", views.release_download, name="download"),
]
