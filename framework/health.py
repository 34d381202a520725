"""`/healthz` for load balancers: is the database answering, and is every migration applied?

Answered by a middleware at the top of MIDDLEWARE, before the host check, the HTTPS redirect,
sessions and authentication: a probe that sends the instance's IP as its Host, over plain
HTTP, without cookies gets the real answer. The body names only the two checks and, on 503,
the reason; nothing about the data, versions or hosts.
"""

from __future__ import annotations

import logging

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger("rolebook.health")

HEALTH_PATH = "/healthz"

# Migrations cannot come undone under a running process: once all are applied, say so without
# loading the migration graph again (a new release restarts the processes anyway).
_migrations_ok = False


def unapplied_migrations(alias: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Return "app.name" of every migration on disk not applied to the database `alias`."""
    executor = MigrationExecutor(connections[alias])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def check() -> tuple[int, dict[str, str]]:
    """Return (status, body): 200 with both checks "ok", or 503 with the failing one's reason."""
    global _migrations_ok
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.warning("health: the database does not answer", exc_info=True)
        return 503, {"database": "unavailable", "migrations": "unknown"}
    if not _migrations_ok:
        try:
            pending = unapplied_migrations()
        except DatabaseError:
            logger.warning("health: the migration table cannot be read", exc_info=True)
            return 503, {"database": "ok", "migrations": "unknown"}
        if pending:
            logger.warning("health: %d migration(s) unapplied", len(pending), extra={"unapplied": pending})
            return 503, {"database": "ok", "migrations": f"{len(pending)} unapplied"}
        _migrations_ok = True
    return 200, {"database": "ok", "migrations": "ok"}


def reset() -> None:
    """Forget that the migrations were checked (tests; the next probe checks them again)."""
    global _migrations_ok
    _migrations_ok = False


class HealthCheckMiddleware:
    """Answer GET/HEAD /healthz before anything else runs; every other request passes through."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.rstrip("/") != HEALTH_PATH:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = HttpResponse(status=405)
            response["Allow"] = "GET, HEAD"
            return response
        status, body = check()
        response = JsonResponse(body, status=status)
        response["Cache-Control"] = "no-store"
        if request.method == "HEAD":
            response.content = b""  # a probe by HEAD reads the status only
        return response
