"""framework.redirects: a `next` is followed only to a path on this site, and never looked up as a URL name."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from framework.redirects import is_local_path, redirect_next, safe_next

LOCAL = ["/", "/review/aliases/?status=pending&after=WyIwLjEwIiwgMV0", "/roles/AIMLAM.GEN.P1/", "/a%20b/#row-3"]
FOREIGN = [
    "-1", "review:dashboard", "admin:index", "", " ", "relative/path", "./x", "../x", "//evil.example",
    "//evil.example/review/", "///evil.example", "/\\evil.example", "\\\\evil.example", "https://evil.example/",
    "http://testserver/review/", "javascript:alert(1)", "/\t/evil.example", "/review/\n", "/review/\x00",
    "/" + "a" * 5000, None, 7, ["/"],
]


@pytest.mark.parametrize("url", LOCAL)
def test_a_local_path_is_followed(rf, url):
    assert is_local_path(url, rf.get("/")) is True
    assert safe_next(rf.get("/"), url, "/default/") == url


@pytest.mark.parametrize("url", FOREIGN)
def test_anything_else_falls_back_to_the_default(rf, url):
    assert is_local_path(url, rf.get("/")) is False
    assert is_local_path(url) is False
    assert safe_next(rf.get("/"), url, "/default/") == "/default/"


def test_redirect_next_reads_the_posted_field_and_never_resolves_a_url_name():
    factory = RequestFactory()
    assert redirect_next(factory.post("/", {"next": "/roles/"}), "/default/")["Location"] == "/roles/"
    assert redirect_next(factory.post("/", {"next": "-1"}), "/default/")["Location"] == "/default/"
    assert redirect_next(factory.post("/", {"next": "review:dashboard"}), "/default/")["Location"] == "/default/"
    assert redirect_next(factory.post("/", {"back": "/roles/"}), "/default/", field="back")["Location"] == "/roles/"
    assert redirect_next(factory.post("/"), "/default/")["Location"] == "/default/"


@pytest.mark.django_db
@pytest.mark.parametrize("asked", ["-1", "review:dashboard", "//evil.example/", "/\t/evil.example"])
def test_login_lands_on_the_work_page_for_a_next_that_is_no_local_path(asked):
    from tests.factories import UserFactory

    user = UserFactory(is_staff=True)
    user.set_password("pw")
    user.save()
    response = Client().post(reverse("admin:login"), {"username": user.username, "password": "pw", "next": asked})
    assert response.status_code == 302
    assert response["Location"] == reverse("roles:directory")
