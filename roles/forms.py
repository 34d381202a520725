"""Forms of the curators' admin that check more than one row at a time."""

from __future__ import annotations

from django.forms.models import BaseInlineFormSet

from .models import TitleAlias, normalize_space


def alias_key(value: str) -> str:
    """An alias as the (role, lower(alias)) constraint compares it: white space collapsed, case ignored."""
    return normalize_space(value).lower()


class AliasInlineFormSet(BaseInlineFormSet):
    """The role form's aliases: a duplicate within the role is an error on its row, not an IntegrityError.

    An inline form leaves out its parent key, so Django skips the (role, lower(alias)) constraint
    and the database would refuse the save. Rows are checked against each other and against the
    role's stored aliases: a row's new alias may not be one that another row keeps (or one that
    another row holds until this save, since rows are saved one at a time), unless that row is
    being deleted (deletions are saved first).
    """

    def clean(self) -> None:
        """Add an "alias" error to each row whose alias the role would then hold twice."""
        super().clean()
        deleted = {form.instance.pk for form in self.deleted_forms if form.instance.pk}
        # What the role holds now, row by row (rows not shown in the form included).
        stored = {}
        if self.instance.pk is not None:
            stored = {
                pk: alias_key(alias)
                for pk, alias in TitleAlias.objects.filter(role=self.instance).values_list("pk", "alias")
                if pk not in deleted
            }
        rows = [
            form for form in self.forms
            if form not in self.deleted_forms and form.cleaned_data.get("alias") and not form.errors.get("alias")
        ]
        wanted: dict[str, list] = {}
        for form in rows:
            wanted.setdefault(alias_key(form.cleaned_data["alias"]), []).append(form)
        for form in rows:
            key, pk = alias_key(form.cleaned_data["alias"]), form.instance.pk
            if stored.get(pk) == key:
                continue  # unchanged: a row that now collides with it carries the error
            held_elsewhere = any(other_pk != pk and other_key == key for other_pk, other_key in stored.items())
            if held_elsewhere or len(wanted[key]) > 1:
                form.add_error("alias", self.duplicate_message(form.cleaned_data["alias"], held_elsewhere))

    @staticmethod
    def duplicate_message(alias: str, stored: bool) -> str:
        if stored:
            return (f"This role already has the alias “{alias}” (aliases are compared ignoring case and extra "
                    "spaces). To swap two aliases, rename one to something else first and save.")
        return (f"“{alias}” is on more than one row of this role (aliases are compared ignoring case and "
                "extra spaces).")
