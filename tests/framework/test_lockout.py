"""Login protection (django-axes): 10 failures for one user name and address lock that pair for 15 minutes."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"


@pytest.fixture
def rita(review_groups):
    return UserFactory(username="rita", password="the-right-one")


def _login(client, password, username="rita", **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def _fail(client, times, **extra):
    for _ in range(times):
        response = _login(client, "wrong", **extra)
    return response


def test_ten_failures_lock_the_pair_even_for_the_right_password_until_an_admin_unlocks(rita):
    client = Client()
    for attempt in range(1, 10):
        response = _login(client, "wrong")
        assert response.status_code == 200, attempt  # the form again, with its error
        assert "correct username and password" in response.content.decode()
    response = _login(client, "wrong")  # the tenth
    assert response.status_code == 429
    response = _login(client, "the-right-one")
    assert response.status_code == 429
    body = response.content.decode()
    assert "Too many failed logins: this account is locked for 15 minutes" in body
    assert "_auth_user_id" not in client.session

    # Another address, or another user name from this one, is not locked.
    assert _login(Client(REMOTE_ADDR="10.1.2.3"), "the-right-one").status_code == 302
    UserFactory(username="ravi", password="pw")
    assert _login(Client(), "pw", username="ravi").status_code == 302

    # An administrator unlocks it from the admin: Axes › Access attempts, delete.
    admin = UserFactory(username="root", is_superuser=True)
    staff = Client()
    staff.force_login(admin)
    listing = staff.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and "rita" in listing.content.decode()
    from axes.models import AccessAttempt

    attempt = AccessAttempt.objects.get(username="rita")
    response = staff.post("/admin/axes/accessattempt/", {
        "action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes",
    })
    assert response.status_code == 302
    assert _login(client, "the-right-one").status_code == 302


def test_the_lock_ends_after_15_minutes(rita):
    from axes.models import AccessAttempt

    client = Client()
    _fail(client, 10)
    assert _login(client, "the-right-one").status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert _login(client, "the-right-one").status_code == 302


def test_a_success_before_the_tenth_failure_starts_the_count_again(rita):
    client = Client()
    _fail(client, 9)
    assert _login(client, "the-right-one").status_code == 302
    client.logout()
    _fail(client, 9)
    assert _login(client, "the-right-one").status_code == 302


def test_a_forged_forwarded_for_header_does_not_escape_the_lock(rita):
    client = Client()
    _fail(client, 10)
    assert _login(client, "the-right-one", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 429


def test_behind_one_proxy_the_address_it_saw_is_counted(rita, settings):
    settings.ROLEBOOK_NUM_PROXIES = 1
    proxy = Client(REMOTE_ADDR="127.0.0.1")
    _fail(proxy, 10, HTTP_X_FORWARDED_FOR="198.51.100.4")
    assert _login(proxy, "the-right-one", HTTP_X_FORWARDED_FOR="198.51.100.4").status_code == 429
    # The client's own additions on the left are ignored; another real client is not locked.
    assert _login(proxy, "the-right-one", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.4").status_code == 429
    assert _login(proxy, "the-right-one", HTTP_X_FORWARDED_FOR="198.51.100.5").status_code == 302
