"""Forms the review pages post: they parse input; the services decide."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from roles.models import TitleAlias


class ApproveForm(forms.Form):
    comment = forms.CharField(required=False, max_length=1000)


class ReasonForm(forms.Form):
    """Reject or reopen: the reason is required (the service checks again)."""

    reason = forms.CharField(
        max_length=1000,
        error_messages={"required": "Give a reason: it is recorded in the audit history."},
    )


class MappingApproveForm(ApproveForm):
    confirm_group_level = forms.BooleanField(
        required=False, label="Approve as group-level (I checked that no detailed code fits)"
    )
    use_official_title = forms.BooleanField(required=False, label="Use the official title")


class RefineForm(forms.Form):
    code = forms.CharField(max_length=10, label="Detailed code")
    comment = forms.CharField(required=False, max_length=1000)


class BulkAliasForm(forms.Form):
    """Checkbox selection on the alias queue: approve or reject the ticked rows."""

    ACTIONS = [("approve", "Approve selected"), ("reject", "Reject selected")]

    ids = forms.ModelMultipleChoiceField(
        queryset=TitleAlias.objects.all(),
        error_messages={"required": "Tick at least one alias."},
    )
    action = forms.ChoiceField(choices=ACTIONS)
    reason = forms.CharField(required=False, max_length=1000)

    def clean(self):
        data = super().clean()
        if data.get("action") == "reject" and not (data.get("reason") or "").strip():
            self.add_error("reason", "Give a reason to reject the selected aliases.")
        return data


class ThresholdForm(forms.Form):
    """Approve all matching at or above a confidence threshold: preview, then confirm."""

    threshold = forms.DecimalField(min_value=Decimal("0"), max_value=Decimal("1"), decimal_places=2)
    comment = forms.CharField(required=False, max_length=1000)
    confirm = forms.BooleanField(required=False)
