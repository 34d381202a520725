"""The release export pages; framework/urls.py includes them at /review/release/ (namespace "releases")."""

from django.urls import path

from . import views_release

app_name = "releases"

urlpatterns = [
    path("", views_release.release_page, name="release"),
    path("download/", views_release.release_download, name="download"),
]
