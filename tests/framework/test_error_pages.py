"""The site's error pages as production serves them (DEBUG off): plain words and a way on, nothing of the request."""

import pytest

from api.services import create_token
from tests.factories import UserFactory, curator

pytestmark = pytest.mark.django_db

NOT_FOUND_TEXT = "This page does not exist"


@pytest.fixture(autouse=True)
def production(settings):
    settings.DEBUG = False


def assert_plain_not_found_page(response, *echoes):
    html = response.content.decode()
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert NOT_FOUND_TEXT in html
    for href in ('href="/"', 'href="/roles/"', 'href="/review/"'):
        assert href in html
    # Neither the exception (its class, its repr, its message) nor what the request said.
    for leak in ("Resolver404", "Http404", "tried", "No role has the code", *echoes):
        assert leak not in html, leak


def test_an_unknown_address_says_the_page_does_not_exist_and_links_home(client):
    response = client.get("/no-such-page/<script>alert(1)</script>", {"q": "<b>bold</b>"})
    assert_plain_not_found_page(response, "<script>alert(1)", "<b>bold</b>", "no-such-page")


def test_a_404_raised_by_a_view_does_not_show_its_message(client, groups):
    client.force_login(curator())
    response = client.get("/roles/NOPE.X.Y/")
    assert_plain_not_found_page(response, "NOPE.X.Y")


def test_an_api_404_stays_a_problem_document(client):
    unknown = client.get("/api/v1/no-such-endpoint")
    assert unknown.status_code == 404 and unknown["Content-Type"] == "application/problem+json"
    assert unknown.json()["status"] == 404
    _token, secret = create_token(user=UserFactory(is_staff=False), name="reader", scopes=("read",))
    missing = client.get("/api/v1/roles/NOPE.X.Y", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert missing.status_code == 404 and missing["Content-Type"] == "application/problem+json"
    assert NOT_FOUND_TEXT not in missing.content.decode()
