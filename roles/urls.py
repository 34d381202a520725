"""Role pages, included by the project at "roles/"."""

from django.urls import path

from . import views

app_name = "roles"

urlpatterns = [
    path("", views.RoleDirectoryView.as_view(), name="directory"),
    path("compare/", views.CompareView.as_view(), name="compare"),
    path("coordinates/", views.CoordinatesView.as_view(), name="coordinates"),
    path("lookup/", views.RoleLookupView.as_view(), name="lookup"),
    path("<str:code>/", views.RoleCardView.as_view(), name="card"),
    path("<str:code>/card.txt", views.RoleCardTextView.as_view(), name="card_text"),
]
