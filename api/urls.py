"""The API's addresses, included by the project at "api/".

/api/v1/… is the versioned REST API (namespace "api-v1"): frozen once released, see
openapi-v1.yaml and tests/api/test_schema.py. /api/tokens/ is the page where each user makes
and revokes personal tokens; /api/problems/<type> explains each problem type of the error bodies.
"""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from . import views, views_tokens

v1 = (
    [
        path("schema", SpectacularAPIView.as_view(), name="schema"),
        path("docs", SpectacularSwaggerView.as_view(url_name="api-v1:schema"), name="docs"),
        path("redoc", SpectacularRedocView.as_view(url_name="api-v1:schema"), name="redoc"),
        path("roles", views.RoleViewSet.as_view({"get": "list"}), name="role-list"),
        path("roles/<str:code>", views.RoleViewSet.as_view({"get": "retrieve"}), name="role-detail"),
        path("roles/<str:code>/card", views.RoleViewSet.as_view({"get": "card"}), name="role-card"),
        path("occupation-codes", views.OccupationCodeViewSet.as_view({"get": "list"}), name="occupation-code-list"),
        path(
            "occupation-codes/<str:code>",
            views.OccupationCodeViewSet.as_view({"get": "retrieve"}),
            name="occupation-code-detail",
        ),
        path("releases", views.ReleaseViewSet.as_view({"get": "list"}), name="release-list"),
        path("releases/<str:version>", views.ReleaseViewSet.as_view({"get": "retrieve"}), name="release-detail"),
        path(
            "releases/<str:version>/download/<str:fmt>",
            views.ReleaseViewSet.as_view({"get": "download"}),
            name="release-download",
        ),
        path("suggest", views.SuggestView.as_view(), name="suggest"),
        re_path(r"^.*$", views.NotFoundView.as_view(), name="not-found"),
    ],
    "api-v1",
)

urlpatterns = [
    path("v1/", include(v1)),
    path("tokens/", views_tokens.token_page, name="api-tokens"),
    path("tokens/<int:pk>/revoke/", views_tokens.revoke, name="api-token-revoke"),
    path("problems/<slug:slug>", views_tokens.problem_type, name="api-problem"),
]
