"""The API's documentation pages (Swagger UI, Redoc): whole HTML documents that name their language."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

pytestmark = pytest.mark.django_db

DOC_VIEWS = (SpectacularSwaggerView, SpectacularRedocView)


def doc_page_urls() -> list[str]:
    """The address of every Swagger UI or Redoc page mounted in the project's URLs."""
    found = []

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern) and issubclass(getattr(pattern.callback, "view_class", object),
                                                                DOC_VIEWS):
                found.append("/" + prefix + str(pattern.pattern))

    walk(get_resolver().url_patterns)
    return found


def test_the_doc_pages_are_the_v1_swagger_and_redoc_pages():
    assert sorted(doc_page_urls()) == ["/api/v1/docs", "/api/v1/redoc"]


@pytest.mark.parametrize("url", doc_page_urls())
def test_each_doc_page_declares_the_sites_language(client, settings, url):
    # SERVE_PERMISSIONS is AllowAny: anyone may read the docs, as they may read the schema.
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("<!DOCTYPE html>")
    (tag,) = re.findall(r"<html\b[^>]*>", html)
    assert f'lang="{settings.LANGUAGE_CODE}"' in tag
    assert 'lang="en' in tag
    # Still the project's page, not the library's: no web fonts from outside.
    assert "fonts.googleapis.com" not in html
