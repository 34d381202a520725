"""Admin building blocks shared by the apps: a required change reason and audited saves."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from framework.audit import set_request_reason


class ReasonForm(forms.ModelForm):
    """A model form that asks why: the reason goes into every history row the save writes."""

    change_reason = forms.CharField(
        label="Reason for this change",
        max_length=500,
        help_text="Recorded in the audit history with your name, e.g. “fix typo in headline”.",
        widget=forms.TextInput(attrs={"size": 60}),
    )


class AuditedAdmin(SimpleHistoryAdmin):
    """Admin whose saves and deletes carry the curator's reason into the history.

    The reason is set for the whole request, so inline saves made after the parent's
    share it. Subclasses define `save_with_service(request, obj, form, change)`, which saves
    through their app's service.
    """

    form = ReasonForm
    # Review decisions go back through review; history shows "what changed" per row.
    history_list_display: list[str] = []

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
