"""URL configuration: the curators' admin, the role pages, the review queues and releases."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "Rolebook"
admin.site.site_title = "Rolebook"
admin.site.index_title = "Curation"

urlpatterns = [
    path("", RedirectView.as_view(url="/roles/", permanent=False)),
    path("admin/", admin.site.urls),
    path("roles/", include("roles.urls")),
    path("review/release/", include("review.urls_release")),
    path("review/", include("review.urls")),
]
