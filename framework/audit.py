"""Who is acting, and why: the audit context every tracked write is attributed to.

django-simple-history records a user only for web requests. Commands, scripts and services
run outside a request, so the acting user and the change reason live in ContextVars that
`acting_as()` sets and `AuditedHistory` reads. Web requests get the logged-in user through
`ActingUserMiddleware`; admin forms add the reason the curator typed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections, models, router
from simple_history.models import HistoricalRecords

_acting_user: ContextVar[Any] = ContextVar("rolebook_acting_user", default=None)
_change_reason: ContextVar[str | None] = ContextVar("rolebook_change_reason", default=None)


def current_user() -> Any:
    """Return the user set by `acting_as()` or the middleware, or None."""
    return _acting_user.get()


def current_reason() -> str | None:
    """Return the change reason in force, or None."""
    return _change_reason.get()


@contextmanager
def acting_as(user: Any, reason: str | None = None) -> Iterator[None]:
    """Attribute every tracked write inside the block to `user`, with `reason`.

    A reason of None keeps the one already in force (so nested services inherit it).
    """
    user_token = _acting_user.set(user)
    reason_token = _change_reason.set(reason) if reason is not None else None
    try:
        yield
    finally:
        _acting_user.reset(user_token)
        if reason_token is not None:
            _change_reason.reset(reason_token)


def set_request_reason(reason: str) -> None:
    """Set the change reason for the rest of the current request (admin forms)."""
    _change_reason.set(reason)


class MissingReason(ValueError):
    """A tracked write without a reason: the audit history needs one."""


def save_with_reason(obj: models.Model, *, actor: Any, reason: str) -> bool:
    """Save `obj` as `actor` with `reason` unless nothing changed; return whether it saved.

    The one way services save a tracked row. Raises MissingReason for an empty reason.
    """
    if not reason or not reason.strip():
        raise MissingReason("Give a reason for the change: it goes into the audit history.")
    if obj.pk is not None and isinstance(obj, ChangeTracked) and not obj.changed_fields():
        return False
    with acting_as(actor, reason.strip()):
        obj.save()
    return True


def get_system_user():
    """Return the account that commands act as by default, creating it on first use."""
    user_model = get_user_model()
    user, created = user_model._default_manager.get_or_create(
        username=settings.ROLEBOOK_SYSTEM_USERNAME,
        defaults={"first_name": "Rolebook", "last_name": "system"},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def resolve_user(username: str | None):
    """Return the named active user, or the system user for None.

    Raises the user model's DoesNotExist when no active user has that name.
    """
    if not username:
        return get_system_user()
    return get_user_model()._default_manager.get(username=username, is_active=True)


def history_user_getter(instance=None, request=None, **kwargs):
    """simple-history `get_user=`: the acting user first, then the request's user."""
    user = _acting_user.get()
    if user is not None:
        return user
    if request is not None and getattr(request, "user", None) is not None:
        if request.user.is_authenticated:
            return request.user
    return None


class ActingUserMiddleware:
    """Make the logged-in user the acting user for the whole request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        user_token = _acting_user.set(user)
        reason_token = _change_reason.set(None)
        try:
            return self.get_response(request)
        finally:
            _acting_user.reset(user_token)
            _change_reason.reset(reason_token)


class AuditedHistory(HistoricalRecords):
    """HistoricalRecords that takes its reason from the audit context and skips no-op saves."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("get_user", history_user_getter)
        super().__init__(*args, **kwargs)

    def get_change_reason_for_object(self, instance, history_type, using):
        reason = super().get_change_reason_for_object(instance, history_type, using)
        return reason or _change_reason.get()

    def post_save(self, instance, created, using=None, **kwargs):
        # A save that changed nothing must leave no history row (re-imports, admin "Save").
        if not created and isinstance(instance, ChangeTracked) and not instance.changed_fields():
            return
        super().post_save(instance, created, using=using, **kwargs)


class ChangeTracked(models.Model):
    """Remembers the values a row was loaded with, so callers can tell a real change from a no-op."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        self._loaded_values = {f.attname: getattr(self, f.attname) for f in self._meta.concrete_fields}

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._loaded_values = dict(zip(field_names, values, strict=True))
        return instance

    def changed_fields(self) -> list[str]:
        """Return the names of fields whose value differs from what was loaded (all if never loaded)."""
        loaded = getattr(self, "_loaded_values", None)
        fields = self._meta.concrete_fields
        if loaded is None:
            return [f.name for f in fields]
        return [f.name for f in fields if f.attname in loaded and loaded[f.attname] != getattr(self, f.attname)]


HISTORY_FIELDS = ("history_id", "history_date", "history_change_reason", "history_type", "history_user")


def update_with_history(model, pks: list, *, user: Any, reason: str, date, **values: Any) -> int:
    """Set `values` on the rows `pks` of `model` and write one '~' history row each; return rows updated.

    For decisions applied to thousands of rows at once: two statements per call, an UPDATE and
    an INSERT … SELECT that copies the updated rows into the history table inside the database,
    so no row is changed without its history row (the caller holds the transaction and the row
    locks). Values must be the same for every row; per-row values go through
    simple_history's bulk_update_with_history instead.
    """
    if not pks:
        return 0
    # The one plain UPDATE on tracked rows in the project: its history rows follow just below.
    updated = model._default_manager.filter(pk__in=pks).update(**values)
    history_model = model.history.model
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    copied = [f.column for f in history_model._meta.concrete_fields if f.name not in HISTORY_FIELDS]
    date_field = history_model._meta.get_field("history_date")
    columns = ", ".join(
        quote(c) for c in [*copied, "history_date", "history_change_reason", "history_type", "history_user_id"]
    )
    placeholders = ", ".join(["%s"] * len(pks))
    sql = (
        f"INSERT INTO {quote(history_model._meta.db_table)} ({columns}) "
        f"SELECT {', '.join(quote(c) for c in copied)}, %s, %s, %s, %s "
        f"FROM {quote(model._meta.db_table)} WHERE {quote(model._meta.pk.column)} IN ({placeholders})"
    )
    params = [date_field.get_db_prep_save(date, connection), reason, "~", getattr(user, "pk", None), *pks]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    return updated
