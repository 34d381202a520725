"""URL configuration: the curators' admin, the role pages, the review queues and releases."""

from django.contrib import admin
from django.urls import include, path

from framework.views import SiteLoginView, landing

admin.site.site_header = "Rolebook"
admin.site.site_title = "Rolebook"
admin.site.index_title = "Curation"

urlpatterns = [
    path("", landing, name="landing"),
    # Before the admin's own: one login for the admin and the site, landing each person on their work.
    path("admin/login/", SiteLoginView.as_view(), name="login"),
    path("admin/", admin.site.urls),
    path("roles/", include("roles.urls")),
    path("review/release/", include("publishing.urls")),
    path("review/", include("review.urls")),
    # The REST API for data teams (/api/v1/…) and the personal token page (/api/tokens/).
    path("api/", include("api.urls")),
    # each person's notifications and preferences (/healthz is answered by framework.health).
    path("notifications/", include("notifications.urls")),
]
