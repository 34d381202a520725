"""Persistent database connections (production settings): kept between requests, replaced when dead."""

import pytest
from django.db import OperationalError, close_old_connections, connection

from framework.settings import base

pytestmark = pytest.mark.django_db(transaction=True)


def test_production_keeps_connections_and_checks_them_before_reuse():
    assert base.DATABASES["default"]["CONN_MAX_AGE"] == 60
    assert base.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True


def _kill(pid: int) -> None:
    """End the connection from outside: the server terminates its backend."""
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


def _pid() -> int | None:
    """The server process of Django's connection (PostgreSQL), or None (SQLite: no server)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]
        cursor.execute("SELECT 1")
        return None


@pytest.mark.postgres_only
def test_a_dead_kept_connection_is_replaced_at_the_next_request(monkeypatch):
    """What request_started runs (close_old_connections) keeps a live connection, and replaces one
    the server ended meanwhile. SQLite (no server to end it): kept between requests."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", True)
    close_old_connections()
    first, raw = _pid(), connection.connection
    close_old_connections()  # a request ends and the next begins: the connection is kept
    assert _pid() == first and connection.connection is raw
    if connection.vendor != "postgresql":
        return
    _kill(first)
    close_old_connections()  # the next request: the health check replaces it
    assert _pid() != first


@pytest.mark.postgres_only
def test_without_the_health_check_a_dead_connection_fails_the_request(monkeypatch):
    """The control: the same kill, no health check, and the next query fails. SQLite: with
    CONN_MAX_AGE 0 a request's connection is closed when the next begins."""
    if connection.vendor != "postgresql":
        monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
        _pid()
        close_old_connections()
        assert connection.connection is None
        return
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", False)
    close_old_connections()
    _kill(_pid())
    close_old_connections()
    with pytest.raises(OperationalError):
        _pid()
    connection.close()
