"""Who is acting, and why: the audit context every tracked write is attributed to.

django-simple-history records a user only for web requests. Commands, scripts and services
run outside a request, so the acting user and the change reason live in ContextVars that
`acting_as()` sets and `AuditedHistory` reads. Web requests get the logged-in user through
`ActingUserMiddleware`; admin forms add the reason the curator typed.
"""

from __future__ import annotations

import unicodedata
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


class StaleEdit(Exception):
    """The row changed since the editor loaded it; the message names who changed it and when."""


# Letters that render as blank space although Unicode files them as letters or symbols.
_BLANK_LOOKALIKES = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def has_visible_text(value: str | None) -> bool:
    """Whether `value` holds something a reader can see: a letter, digit, punctuation or symbol.

    White space (by the Unicode definition), zero-width and other format characters (Cf), lone
    combining marks and blank look-alikes such as U+3164 do not count.
    """
    if not value:
        return False
    return any(
        unicodedata.category(char)[0] in "LNPS" and char not in _BLANK_LOOKALIKES for char in value
    )


def require_reason(reason: str | None, what: str = "the change") -> str:
    """Return the reason trimmed; raise MissingReason when it holds no visible text."""
    if not has_visible_text(reason):
        raise MissingReason(f"Give a reason for {what}: it goes into the audit history.")
    return reason.strip()


def ensure_current(obj: models.Model, expected_version: int | None = None) -> None:
    """Lock `obj`'s row and check nobody changed it since it was loaded (or since `expected_version`).

    Call inside a transaction: the row stays locked until it ends, so the save that follows
    cannot overwrite a concurrent change. Raises StaleEdit naming who changed the row and when.
    """
    model = type(obj)
    loaded = getattr(obj, "_loaded_values", None) or {}
    expected = expected_version if expected_version is not None else loaded.get("version")
    current = model._default_manager.select_for_update().filter(pk=obj.pk).values_list("version", flat=True).first()
    if current is not None and (expected is None or current == expected):
        return
    last = model.history.filter(id=obj.pk).order_by("-history_id").select_related("history_user").first()
    verb = "deleted" if current is None else "changed"
    who = last.history_user.get_username() if last is not None and last.history_user else "someone"
    when = f" at {last.history_date:%Y-%m-%d %H:%M} UTC" if last is not None else ""
    raise StaleEdit(
        f"This {model._meta.verbose_name} was {verb} by {who}{when} since you opened it: nothing was saved. "
        "Reload it to see the change, then make yours again."
    )


def save_with_reason(obj: models.Model, *, actor: Any, reason: str, expected_version: int | None = None) -> bool:
    """Save `obj` as `actor` with `reason` unless nothing changed; return whether it saved.

    The one way services save a tracked row. An existing row is locked and checked against the
    version it was loaded with (optimistic locking). Raises MissingReason for a reason with no
    visible text, StaleEdit when someone else changed the row meanwhile.
    """
    reason = require_reason(reason)
    if obj.pk is not None and isinstance(obj, ChangeTracked) and not obj._state.adding:
        if not obj.changed_fields():
            return False
        ensure_current(obj, expected_version)
    with acting_as(actor, reason):
        obj.save()
    return True


def get_system_user():
    """Return the account that commands act as by default, creating it on first use.

    It holds ROLEBOOK_SYSTEM_PERMISSIONS (shell access is an operator's), granted here so a
    flushed or new database gets them too.
    """
    from django.contrib.auth.models import Permission

    user_model = get_user_model()
    user, created = user_model._default_manager.get_or_create(
        username=settings.ROLEBOOK_SYSTEM_USERNAME,
        defaults={"first_name": "Rolebook", "last_name": "system"},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    missing = [name for name in settings.ROLEBOOK_SYSTEM_PERMISSIONS if not user.has_perm(name)]
    if missing:
        for name in missing:
            app_label, codename = name.split(".", 1)
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        user = user_model._default_manager.get(pk=user.pk)  # drops the cached permissions
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
    """Remembers the values a row was loaded with, so callers can tell a real change from a no-op.

    `version` counts the row's changes: an edit form carries the version it was opened on, and
    `ensure_current()` refuses a save when the row moved on meanwhile (optimistic locking).
    """

    version = models.PositiveIntegerField(
        default=1, editable=False, serialize=False, help_text="Counts changes; edit forms carry it."
    )

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding and self.pk is not None and self.changed_fields():
            loaded = getattr(self, "_loaded_values", None) or {}
            self.version = loaded.get("version", self.version) + 1
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "version"}
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
