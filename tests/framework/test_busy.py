"""A database locked by a long writer answers 503 "busy, retry", never 500."""

from __future__ import annotations

import threading

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.urls import reverse

from roles.models import TitleAlias
from tests.factories import RoleFactory, TitleAliasFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alias(make_user):
    return TitleAliasFactory(role=RoleFactory(), created_by=make_user("curator"))


def _reviewer_whose_decision_raises(make_user, monkeypatch, message: str) -> Client:
    """A logged-in reviewer's client whose alias approval meets an OperationalError(`message`)."""
    from review import services

    def failing(**kwargs):
        raise OperationalError(message)

    monkeypatch.setattr(services, "approve_alias", failing)
    client = Client(raise_request_exception=False)
    client.force_login(make_user("reviewer"))
    return client


def test_a_locked_database_is_a_503_with_retry_after(make_user, monkeypatch, alias):
    """Any write that meets "database is locked" (here: the decision itself) is answered 503, not 500."""
    client = _reviewer_whose_decision_raises(make_user, monkeypatch, "database is locked")
    response = client.post(reverse("review:alias-approve", args=[alias.pk]), {"version": alias.version})
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "busy" in response.content.decode()
    json_response = client.post(reverse("review:alias-approve", args=[alias.pk]),
                                {"version": alias.version}, HTTP_ACCEPT="application/json")
    assert json_response.status_code == 503 and json_response["Content-Type"] == "application/problem+json"


def test_other_database_errors_stay_errors(make_user, monkeypatch, alias):
    client = _reviewer_whose_decision_raises(make_user, monkeypatch, "no such table: nowhere")
    response = client.post(reverse("review:alias-approve", args=[alias.pk]), {"version": alias.version})
    assert response.status_code == 500


@pytest.mark.django_db(transaction=True)
def test_a_request_waiting_behind_a_long_writer(make_user, settings, alias):
    """A long writer holds the database: on SQLite (one writer) the decision POST answers 503 once its
    timeout passes; PostgreSQL locks rows, so a decision on another table goes through."""
    from django.db import connections

    reviewer = make_user("reviewer")
    client = Client(raise_request_exception=False)
    client.force_login(reviewer)
    if connection.vendor != "sqlite":
        # Row locks: nothing holds the alias's row, so the decision goes through at once.
        response = client.post(reverse("review:alias-approve", args=[alias.pk]), {"version": alias.version})
        assert response.status_code == 302
        assert TitleAlias.objects.get(pk=alias.pk).status == "approved"
        return
    held, release = threading.Event(), threading.Event()

    def long_writer():
        with connections["default"].cursor() as cursor:
            cursor.execute("BEGIN IMMEDIATE")
            cursor.execute("UPDATE roles_role SET title = title")
            held.set()
            release.wait(10)
            cursor.execute("ROLLBACK")
        connections["default"].close()

    options = connections["default"].settings_dict.setdefault("OPTIONS", {})
    saved = options.get("timeout")
    options["timeout"] = 0.2
    connections["default"].close()
    writer = threading.Thread(target=long_writer)
    writer.start()
    try:
        assert held.wait(5)
        response = client.post(reverse("review:alias-approve", args=[alias.pk]),
                               {"version": alias.version})
    finally:
        release.set()
        writer.join(10)
        options["timeout"] = saved
        connections["default"].close()
    assert response.status_code == 503
    assert TitleAlias.objects.get(pk=alias.pk).status == "pending"
