"""The bell, the list, read marks and preferences: each person's own, CSRF on, no open redirect."""

import pytest
from django.template.loader import render_to_string
from django.test import Client, RequestFactory

from notifications.context_processors import Bell
from notifications.models import Event, Notification, NotificationPreference

pytestmark = pytest.mark.django_db


def _notes(user, n, **kwargs):
    Notification.objects.bulk_create(
        Notification(recipient=user, event=Event.REJECTED, title=f"Your alias “A{i}” was rejected",
                     body="Rejected by rita: no", url="/admin/", **kwargs)
        for i in range(n)
    )


def _client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("n", [0, 3, 6])
def test_the_bell_costs_two_queries_whatever_the_number_of_notifications(people, n, django_assert_num_queries):
    _notes(people["carl"], n)
    request = RequestFactory().get("/review/")
    request.user = people["carl"]
    with django_assert_num_queries(2):  # the unread count; the newest five
        html = render_to_string("notifications/_bell.html", {"notification_bell": Bell(people["carl"]),
                                                               "user": people["carl"], "request": request})
    assert f'data-count="{n}"' in html
    assert html.count('class="unread"') == min(n, 5)
    if n:  # read ones still count the unread ones
        Notification.objects.filter(pk__in=[x.pk for x in Notification.objects.order_by("-pk")[:5]]).update(
            read_at="2026-01-01T00:00Z")
        html = render_to_string("notifications/_bell.html", {"notification_bell": Bell(people["carl"]),
                                                               "user": people["carl"], "request": request})
        assert f'data-count="{max(n - 5, 0)}"' in html


def test_a_page_costs_the_same_queries_at_n_and_2n_notifications(people, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = _client(people["carl"])
    counts = []
    for n in (4, 8):
        Notification.objects.all().delete()
        _notes(people["carl"], n)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/roles/")
        assert response.status_code == 200
        assert f'data-count="{n}"' in response.content.decode()
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


def test_the_bell_is_on_the_admin_and_the_desk(people):
    _notes(people["rita"], 2)
    client = _client(people["rita"])
    for url in ("/admin/", "/review/"):
        body = client.get(url).content.decode()
        assert 'id="notification-bell"' in body and 'data-count="2"' in body, url


def test_marking_read_and_opening_take_effect_for_the_owner(people):
    _notes(people["carl"], 2)
    first, second = Notification.objects.order_by("pk")
    client = _client(people["carl"])
    response = client.post(f"/notifications/{first.pk}/read/", {"next": "/review/"})
    assert response.status_code == 302 and response["Location"] == "/review/"
    response = client.post(f"/notifications/{second.pk}/open/")
    assert response["Location"] == "/admin/"
    assert Notification.objects.filter(read_at__isnull=True).count() == 0


def test_nobody_reads_or_marks_someone_elses_notification(people):
    _notes(people["carl"], 1)
    note = Notification.objects.get()
    intruder = _client(people["rita"])
    assert intruder.post(f"/notifications/{note.pk}/read/").status_code == 404
    assert intruder.post(f"/notifications/{note.pk}/open/").status_code == 404
    intruder.post("/notifications/read-all/")
    assert "Your alias" not in intruder.get("/notifications/").content.decode()
    note.refresh_from_db()
    assert note.read_at is None


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)", "-1",
               "admin:index", "/\t/evil.example", "/" + "a" * 20000]
)
def test_next_never_leaves_the_site(people, target):
    _notes(people["carl"], 1)
    note = Notification.objects.get()
    client = _client(people["carl"])
    for url in (f"/notifications/{note.pk}/read/", "/notifications/read-all/"):
        response = client.post(url, {"next": target})
        assert response.status_code == 302 and response["Location"] == "/notifications/", url


def test_a_stored_foreign_url_is_not_followed(people):
    _notes(people["carl"], 1)
    Notification.objects.update(url="https://evil.example/")
    response = _client(people["carl"]).post(f"/notifications/{Notification.objects.get().pk}/open/")
    assert response["Location"] == "/notifications/"


def test_changes_need_post_csrf_and_login(people):
    _notes(people["carl"], 1)
    note = Notification.objects.get()
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(people["carl"])
    assert strict.get(f"/notifications/{note.pk}/read/").status_code == 405
    assert strict.post(f"/notifications/{note.pk}/read/").status_code == 403
    assert strict.post("/notifications/read-all/").status_code == 403
    assert strict.post("/notifications/preferences/", {"daily_digest": "on"}).status_code == 403
    anonymous = Client()
    assert anonymous.get("/notifications/")["Location"].startswith("/admin/login/")
    assert anonymous.post(f"/notifications/{note.pk}/read/")["Location"].startswith("/admin/login/")
    note.refresh_from_db()
    assert note.read_at is None


def test_preferences_are_saved_per_person(people):
    client = _client(people["rita"])
    page = client.get("/notifications/preferences/").content.decode()
    assert 'name="daily_digest"' in page
    response = client.post("/notifications/preferences/", {"rejected_in_app": "on", "daily_digest": "on"})
    assert response.status_code == 302
    prefs = NotificationPreference.objects.get(user=people["rita"])
    assert prefs.daily_digest is True and prefs.rejected_in_app is True
    assert prefs.rejected_email is False and prefs.approved_in_app is False
    assert not NotificationPreference.objects.filter(user=people["carl"]).exists()
