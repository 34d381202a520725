"""Admin building blocks shared by the apps: a required change reason, optimistic locking, read-only history."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.utils.functional import cached_property
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper, ObjDiffDisplay

from framework.audit import StaleEdit, has_visible_text, set_request_reason


def stale_message(obj) -> str:
    """"This alias was changed by X at T since you opened it…": who moved the row on, and when."""
    last = type(obj).history.filter(id=obj.pk).order_by("-history_id").select_related("history_user").first()
    who = last.history_user.get_username() if last is not None and last.history_user else "someone"
    when = f" at {last.history_date:%Y-%m-%d %H:%M} UTC" if last is not None else ""
    return (
        f"This {obj._meta.verbose_name} was changed by {who}{when} since you opened it: nothing was saved. "
        "Reload the page to see the change, then make yours again."
    )


class WholeWordDiff(ObjDiffDisplay):
    """Shortens long changed values at word boundaries: "… the team works independently on …".

    simple-history cuts at characters ("is[56 chars]endently"); a reader wants whole words,
    with a little context on each side of what changed.
    """

    CONTEXT_WORDS = 4
    MAX_CHANGED_WORDS = 40

    def common_shorten_repr(self, *args):
        texts = [str(a) for a in args]
        if max(map(len, texts)) <= self.max_length:
            return tuple(texts)
        words = [t.split(" ") for t in texts]
        start = 0
        while all(len(w) > start for w in words) and len({w[start] for w in words}) == 1:
            start += 1
        end = 0
        while all(len(w) > start + end for w in words) and len({w[-1 - end] for w in words}) == 1:
            end += 1
        shown = []
        for w in words:
            middle = w[start : len(w) - end]
            if len(middle) > self.MAX_CHANGED_WORDS:
                half = self.MAX_CHANGED_WORDS // 2
                middle = [*middle[:half], "…", *middle[-half:]]
            before = w[max(0, start - self.CONTEXT_WORDS) : start]
            after = w[len(w) - end : len(w) - end + self.CONTEXT_WORDS]
            text = " ".join([*before, *middle, *after])
            if start > self.CONTEXT_WORDS:
                text = "… " + text
            if end > self.CONTEXT_WORDS:
                text += " …"
            shown.append(text)
        return tuple(shown)


class WholeWordContextHelper(HistoricalRecordContextHelper):
    def get_obj_diff_display(self) -> ObjDiffDisplay:
        return WholeWordDiff(max_length=self.max_displayed_delta_change_chars)


class VersionedForm(forms.ModelForm):
    """A model form that carries the version of the row it was opened on (optimistic locking).

    A save from a form opened before someone else changed the row is refused with who changed
    it and when; the service checks again under the row lock for the last few milliseconds.
    """

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["version"].initial = self.instance.version

    @property
    def changed_data(self) -> list[str]:
        # The version is where the form came from, not a change: an untouched inline row whose
        # item moved on meanwhile is simply not saved.
        return [name for name in super().changed_data if name != "version"]

    def clean(self):
        data = super().clean()
        if self.instance.pk is not None and self.has_changed():
            opened = data.get("version")
            if opened is None:
                self.add_error(None, "This form has no version: reload the page and make your change again.")
            elif opened != self.instance.version:
                raise ValidationError(stale_message(self.instance), code="stale")
        return data


class ReasonForm(VersionedForm):
    """A model form that asks why: the reason goes into every history row the save writes."""

    change_reason = forms.CharField(
        label="Reason for this change",
        max_length=500,
        help_text="Recorded in the audit history with your name, e.g. “fix typo in headline”.",
        widget=forms.TextInput(attrs={"size": 60, "placeholder": "Reason for this change (required)"}),
    )

    def clean_change_reason(self) -> str:
        reason = self.cleaned_data["change_reason"]
        if not has_visible_text(reason):
            raise ValidationError("Give a reason with visible text: it is recorded in the audit history.")
        return reason.strip()


class VersionedInline:
    """Inline admin mixin: each row carries its version, like the parent form, and every input has a name.

    A tabular inline labels its columns, not its inputs: each input gets an aria-label of its
    field's name (screen readers otherwise hear an unnamed box per cell).
    """

    form = VersionedForm

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None:
            field.widget.attrs.setdefault("aria-label", str(db_field.verbose_name).capitalize())
        return field

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        return fields if "version" in fields else [*fields, "version"]

    def get_formset(self, request, obj=None, **kwargs):
        # "version" is the form's own field: the model's is not editable, so the factory must not see it.
        if "fields" not in kwargs:
            kwargs["fields"] = flatten_fieldsets(self.get_fieldsets(request, obj))
        if kwargs["fields"] is not None:
            kwargs["fields"] = [f for f in kwargs["fields"] if f != "version"]
        formset = super().get_formset(request, obj, **kwargs)

        class LabelledFormSet(formset):
            def add_fields(self, form, index):
                super().add_fields(form, index)
                if "DELETE" in form.fields:
                    form.fields["DELETE"].widget.attrs.setdefault("aria-label", "Delete this row")

        return LabelledFormSet


class AuditedAdmin(SimpleHistoryAdmin):
    """Admin whose saves and deletes carry the curator's reason into the history.

    The reason is set for the whole request, so inline saves made after the parent's
    share it. Subclasses define `save_with_service(request, obj, form, change)`, which saves
    through their app's service. History pages are read-only for everyone: simple-history's
    history form view saves on POST after checking only the view permission, so it answers
    405 to anything but GET here.
    """

    form = ReasonForm
    # The reason and the version are drawn beside Save (admin/audited_change_form.html).
    change_form_template = "admin/audited_change_form.html"
    # Review decisions go back through review; history shows "what changed" per row.
    history_list_display: list[str] = []
    FORM_ONLY_FIELDS = ("change_reason", "version")

    def get_fieldsets(self, request, obj=None):
        fieldsets = []
        for name, options in super().get_fieldsets(request, obj):
            fields = [f for f in options["fields"] if f not in self.FORM_ONLY_FIELDS]
            if fields:
                fieldsets.append((name, {**options, "fields": fields}))
        return fieldsets

    def get_historical_record_context_helper(self, request, historical_record):
        return WholeWordContextHelper(self.model, historical_record)

    def get_form(self, request, obj=None, change=False, **kwargs):
        # "version" is the form's own field: the model's is not editable, so the factory must not see it.
        # (fields=None means "every editable field": Django asks so to list the fields.)
        if "fields" not in kwargs:
            kwargs["fields"] = flatten_fieldsets(self.get_fieldsets(request, obj))
        if kwargs["fields"] is not None:
            kwargs["fields"] = [f for f in kwargs["fields"] if f != "version"]
        return super().get_form(request, obj, change, **kwargs)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        return super().history_form_view(request, object_id, version_id, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except StaleEdit as exc:
            # Someone saved between the form's check and the locked write: nothing was written.
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj, form, change):
        set_request_reason(form.cleaned_data["change_reason"])
        self.save_with_service(request, obj, form, change)

    def delete_model(self, request, obj):
        set_request_reason(f"deleted in admin by {request.user.get_username()}")
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        # QuerySet.delete() sends post_delete per row, so each deletion leaves a history row.
        set_request_reason(f"deleted in admin by {request.user.get_username()}")
        super().delete_queryset(request, queryset)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Reference data: viewable and searchable, changed only by loading the official files."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# ---------------------------------------------------------------------------------------------
# Changelists that stay fast on large tables


class CappedPaginator(Paginator):
    """Counts up to ROLEBOOK_COUNT_CAP rows, then stops: "more than 1000" instead of COUNT(*) of a big table.

    The admin's changelist reads `count`; pages past the cap are not linked (filter or search to
    narrow the list). `capped` tells the templates to say "more than".
    """

    capped = False

    @cached_property
    def count(self) -> int:
        from framework.paging import capped_count

        count, self.capped = capped_count(self.object_list)
        return count


class ScalableChangeList:
    """Admin options for a model with hundreds of thousands of rows.

    No second COUNT of the whole table (show_full_result_count), a capped count, and the
    admin's templates saying "more than N" (templates/admin/pagination.html, search_form.html).
    """

    show_full_result_count = False
    paginator = CappedPaginator


class TextInputFilter(admin.SimpleListFilter):
    """A list filter typed into a box, not a link per value: the sidebar stays short whatever the data.

    Subclasses set `title`, `parameter_name` and `lookup`, the ORM lookup the typed value is
    compared with (override `filter` to normalise the value first).
    """

    lookup: str

    template = "admin/rolebook_input_filter.html"

    def lookups(self, request, model_admin):
        return ()

    def has_output(self) -> bool:
        return True

    def choices(self, changelist):
        # The other parameters of the list, kept as hidden fields of the filter's small form.
        others = [(k, v) for k, v in changelist.get_filters_params().items() if k != self.parameter_name]
        yield {
            "value": self.value() or "",
            "parameter_name": self.parameter_name,
            "others": [(k, v) for k, values in others for v in (values if isinstance(values, list) else [values])],
            "query": changelist.query,
            "search_var": "q",
        }

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        return self.filter(queryset, value) if value else queryset

    def filter(self, queryset, value: str):
        return queryset.filter(**{self.lookup: value})
