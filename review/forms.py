"""Forms the review pages post: they parse input; the services decide.

Bulk and threshold decisions carry a signed list of what the reviewer was shown ("shown"):
each alias id with the version it had. The confirm step decides those only, and skips any
that changed since.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django import forms
from django.core import signing

from framework.audit import has_visible_text

SHOWN_SALT = "review.shown"
SHOWN_MAX_AGE = 8 * 60 * 60  # a working day: a preview left open longer is previewed again


def sign_shown(user: Any, pairs: Iterable[tuple[int, int]]) -> str:
    """Sign (alias pk, version) pairs for `user`: deltas of sorted pks keep the token small."""
    flat: list[int] = []
    last = 0
    for pk, version in sorted(pairs):
        flat += [pk - last, version]
        last = pk
    return signing.dumps(flat, salt=f"{SHOWN_SALT}:{user.pk}", compress=True)


def read_shown(user: Any, token: str) -> dict[int, int]:
    """Return {pk: version} from a token `sign_shown` made for `user`; raises signing.BadSignature."""
    flat = signing.loads(token or "", salt=f"{SHOWN_SALT}:{user.pk}", max_age=SHOWN_MAX_AGE)
    if not isinstance(flat, list) or len(flat) % 2 or not all(isinstance(n, int) for n in flat):
        raise signing.BadSignature("not a list of shown items")
    shown, pk = {}, 0
    for delta, version in zip(flat[::2], flat[1::2], strict=True):
        pk += delta
        shown[pk] = version
    return shown


class ReasonField(forms.CharField):
    """A required reason: white space, zero-width and other invisible characters do not count."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 1000)
        kwargs.setdefault("error_messages", {"required": "Give a reason: it is recorded in the audit history."})
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str:
        value = super().clean(value)
        if not has_visible_text(value):
            raise forms.ValidationError(self.error_messages["required"], code="required")
        return value


class VersionedDecision(forms.Form):
    """The version of the item the reviewer was shown (optional: older pages post none)."""

    version = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)


class ApproveForm(VersionedDecision):
    comment = forms.CharField(required=False, max_length=1000)


class ReasonForm(VersionedDecision):
    """Reject or reopen: the reason is required (the service checks again)."""

    reason = ReasonField()


class MappingApproveForm(ApproveForm):
    confirm_group_level = forms.BooleanField(
        required=False, label="Approve as group-level (I checked that no detailed code fits)"
    )
    use_official_title = forms.BooleanField(required=False, label="Use the official title")


class RefineForm(VersionedDecision):
    code = forms.CharField(max_length=10, label="Detailed code")
    comment = forms.CharField(required=False, max_length=1000)


class ReplaceForm(VersionedDecision):
    """Replace a code with one outside it: the reviewer says the inferred group was wrong, and why."""

    code = forms.CharField(max_length=10, label="Detailed code")
    reason = ReasonField(error_messages={"required": "Give a reason to replace the code: it is recorded."})
    confirm_wrong_group = forms.BooleanField(required=False, label="The current code is wrong")


class AdjudicateForm(VersionedDecision):
    """A lead's settlement of a disputed sample: one of the two reviews' verdicts, and why."""

    choice = forms.RegexField(
        regex=r"^(approve|reject|refine|replace)\|([0-9]{2}-[0-9]{4}(\.[0-9]{2})?)?$", max_length=30,
        error_messages={"invalid": "Pick one of the two reviews' decisions."},
    )
    reason = ReasonField(error_messages={"required": "Give a reason for settling the disagreement: it is in the "
                                                     "decision log for both reviewers."})

    @property
    def verdict(self) -> tuple[str, str]:
        verdict, code = self.cleaned_data["choice"].split("|", 1)
        return verdict, code


class CodeSearchForm(forms.Form):
    """The code picker's query: what was typed, under which code, and where to look."""

    q = forms.CharField(required=False, max_length=200)
    under = forms.RegexField(required=False, regex=r"^[0-9]{2}-[0-9]{4}(\.[0-9]{2})?$", max_length=10)
    scope = forms.ChoiceField(required=False, choices=[("under", "under the current code"), ("all", "all codes")])


class BulkAliasForm(forms.Form):
    """Checkbox selection on the alias queue: approve or reject ticked rows of the page shown."""

    ACTIONS = [("approve", "Approve selected"), ("reject", "Reject selected")]

    ids = forms.TypedMultipleChoiceField(coerce=int, error_messages={"required": "Tick at least one alias."})
    action = forms.ChoiceField(choices=ACTIONS)
    reason = forms.CharField(required=False, max_length=1000)
    shown = forms.CharField(error_messages={"required": "Reload the queue: this page did not say what it showed."})

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.versions: dict[int, int] = {}
        # Any integers parse; clean() keeps only those the signed page showed.
        self.fields["ids"].valid_value = lambda value: str(value).isdigit() and len(str(value)) < 19

    def clean(self) -> dict:
        data = super().clean()
        if data.get("action") == "reject" and not has_visible_text(data.get("reason")):
            self.add_error("reason", "Give a reason to reject the selected aliases.")
        if "shown" in data:
            try:
                shown = read_shown(self.user, data["shown"])
            except signing.BadSignature:
                raise forms.ValidationError("The page you decided from expired or was altered: reload it.") from None
            strangers = [pk for pk in data.get("ids", []) if pk not in shown]
            if strangers:
                raise forms.ValidationError(f"{len(strangers)} selected alias(es) were not on the page you saw.")
            self.versions = {pk: shown[pk] for pk in data.get("ids", [])}
        return data


class ConfidentForm(forms.Form):
    """Approve the mappings where the SOC coder is confident and agrees: preview, then confirm what was shown."""

    comment = forms.CharField(required=False, max_length=1000)
    confirm = forms.BooleanField(required=False)
    shown = forms.CharField(required=False)


class ThresholdForm(forms.Form):
    """Approve all matching at or above a confidence threshold: preview, then confirm what was shown."""

    threshold = forms.DecimalField(min_value=Decimal("0"), max_value=Decimal("1"), decimal_places=2)
    comment = forms.CharField(required=False, max_length=1000)
    confirm = forms.BooleanField(required=False)
    shown = forms.CharField(required=False)
