"""The release export pages; framework/urls.py includes them at /review/release/ (namespace "releases")."""

from django.urls import path

from . import views

app_name = "releases"

urlpatterns = [
    path("", views.release_page, name="release"),
    path("build/", views.release_build, name="request-build"),
    path("build/<uuid:build>/", views.build_page, name="build"),
    path("build/<uuid:build>/download/", views.build_download, name="build-download"),
]
