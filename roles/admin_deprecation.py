"""Deprecations in the admin: curators propose, reviewers decide, and nobody deletes what was published.

- `DeprecationAdmin`: the proposals. Adding one goes through roles.services.propose_deprecation
  (prefilled from "Deprecate…" on a role's, alias's or mapping's page; "Reinstate…" on a deprecated
  one's proposes undoing it, through services.propose_reinstatement); a proposal is never edited
  or deleted; its page offers Approve and Reject to reviewers, which post to
  `<id>/decide/` and go through roles.services.decide_deprecation (four-eyes, a reason to reject).
- `PublishedItemsKept`: for the role, alias and mapping admins. "Deprecate…" on the item's page,
  and published items listed as protected by the delete page and the bulk delete, so Django's
  own "cannot delete" screen says why and nothing is deleted.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse

from framework.audit import has_visible_text

from . import selectors, services, workflow
from .models import Deprecation
from .workflow import restructure
from .workflow.deprecation import DeprecationRefused


class DeprecationForm(forms.ModelForm):
    proposal_kind = forms.ChoiceField(
        label="Proposal", required=False, initial=Deprecation.Kind.DEPRECATE,
        choices=[(Deprecation.Kind.DEPRECATE, "Deprecate it"),
                 (Deprecation.Kind.REINSTATE, "Reinstate it (undo its approved deprecation)")],
        help_text="A reinstated item is live again, without replacement; a second person approves either.",
    )

    class Meta:
        model = Deprecation
        fields = ["role", "alias", "mapping", "replaced_by_role", "replaced_by_alias", "reason"]
        widgets = {"reason": forms.Textarea(attrs={"rows": 3, "cols": 80})}
        help_texts = {
            "role": "Deprecate one item: a role, or an alias, or a mapping.",
            "replaced_by_role": "For a role: the role its users should move to (optional).",
            "replaced_by_alias": "For an alias: the alias to use instead (optional).",
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        targets = [data.get(name) for name in ("role", "alias", "mapping") if data.get(name) is not None]
        reinstate = data.get("proposal_kind") == Deprecation.Kind.REINSTATE
        if len(targets) != 1:
            verb = "reinstate" if reinstate else "deprecate"
            raise ValidationError(f"Choose exactly one role, alias or mapping to {verb}.")
        if not has_visible_text(data.get("reason") or ""):
            self.add_error("reason", "Say why: it is shown to the reviewer and recorded in the audit history.")
        replacement = data.get("replaced_by_role") or data.get("replaced_by_alias")
        self.target, self.replacement, self.reinstate = targets[0], replacement, reinstate
        if reinstate:
            if replacement is not None:
                raise ValidationError("A reinstated item has no replacement: leave “replaced by” empty.")
            if not targets[0].deprecated:
                raise ValidationError(f"{targets[0]} is not deprecated: there is nothing to reinstate.")
            return data
        if data.get("replaced_by_role") and data.get("replaced_by_alias"):
            raise ValidationError("Name one replacement at most.")
        if replacement is not None:
            try:
                workflow.deprecation.check_replacement(targets[0], replacement)
            except DeprecationRefused as exc:
                raise ValidationError(str(exc)) from None
        if targets[0].deprecated:
            raise ValidationError(f"{targets[0]} is already deprecated.")
        return data


class DeprecationAdmin(admin.ModelAdmin):
    form = DeprecationForm
    change_form_template = "admin/roles/deprecation/change_form.html"
    list_display = ["__str__", "status", "created_by", "created_at", "decided_by"]
    list_select_related = ["role", "alias__role", "mapping__role", "created_by", "decided_by"]
    raw_id_fields = ["role", "alias", "mapping", "replaced_by_role", "replaced_by_alias"]
    readonly_fields = ["kind", "status", "created_by", "created_at", "decided_by", "decided_at"]
    list_filter = ["status", "kind"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a proposal is decided, never edited

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # kept with its Decision rows: the history of why an item went

    def save_model(self, request: HttpRequest, obj: Deprecation, form: DeprecationForm, change: bool) -> None:
        if form.reinstate:
            proposal = services.propose_reinstatement(item=form.target, actor=request.user,
                                                      reason=form.cleaned_data["reason"])
        else:
            proposal = services.propose_deprecation(
                item=form.target, actor=request.user, reason=form.cleaned_data["reason"], replaced_by=form.replacement
            )
        obj.pk, obj._state.adding = proposal.pk, False

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (DeprecationRefused, workflow.ReviewError) as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def change_view(self, request, object_id, form_url="", extra_context=None):
        proposal = self.get_object(request, object_id)
        can_decide = bool(proposal and proposal.is_open and request.user.has_perm(Deprecation.REVIEW_PERMISSION))
        preview = None
        if proposal is not None and proposal.kind != Deprecation.Kind.DEPRECATE and proposal.is_open:
            preview = restructure.plan_of(proposal)
        extra = {
            **(extra_context or {}),
            "preview": preview,
            "conflicts": preview.conflicts if preview else [],
            "can_decide": can_decide,
            "four_eyes": workflow.four_eyes_reason(request.user, proposal) if can_decide else "",
            "decide_url": reverse("admin:roles_deprecation_decide", args=[object_id]),
        }
        return super().change_view(request, object_id, form_url, extra)

    def get_urls(self):
        decide = path("<int:object_id>/decide/", self.admin_site.admin_view(self.decide_view),
                      name="roles_deprecation_decide")
        return [decide, *super().get_urls()]

    def decide_view(self, request: HttpRequest, object_id: int):
        """POST only: approve or reject the proposal at the version shown, with the reviewer's reason."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm(Deprecation.REVIEW_PERMISSION):
            raise PermissionDenied
        proposal = Deprecation.objects.filter(pk=object_id).first()
        back = reverse("admin:roles_deprecation_change", args=[object_id])
        if proposal is None:
            self.message_user(request, "This deprecation proposal no longer exists.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:roles_deprecation_changelist"))
        kind = request.POST.get("kind", "")
        try:
            version = int(request.POST.get("version", ""))
        except ValueError:
            version = -1  # never a row's version: the decision is refused as made on a stale page
        try:
            services.decide_deprecation(
                proposal=proposal, kind=kind, actor=request.user, reason=request.POST.get("reason", ""),
                expected_version=version,
            )
        except (DeprecationRefused, workflow.ReviewError) as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(back)
        done = {"merge": "approved: its items moved to the role it merged into, and it is deprecated",
                "split": "approved: its items moved to the roles it was split into, and it is deprecated",
                "reinstate": "approved: the item is live again"}
        verb = done.get(proposal.kind, "approved: the item is deprecated") if kind == "approve" else "rejected"
        self.message_user(request, f"{proposal} {verb}.", messages.SUCCESS)
        return HttpResponseRedirect(back)


class PublishedItemsKept:
    """Role, alias and mapping admins: "Deprecate…" on the item's page; published items are never deleted."""

    deprecate_field: str  # "role", "alias" or "mapping": the Deprecation field the link prefills

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if change and obj is not None and request.user.has_perm("roles.add_deprecation"):
            url = f"{reverse('admin:roles_deprecation_add')}?{self.deprecate_field}={obj.pk}"
            # The object the page shows: no query of its own to know which of the two it offers.
            if obj.deprecated:
                context["deprecate_url"], context["deprecate_label"] = f"{url}&proposal_kind=reinstate", "Reinstate…"
            else:
                context["deprecate_url"], context["deprecate_label"] = url, "Deprecate…"
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        items = list(objs)
        # A role's cascade would take its aliases and mappings along: published ones are kept too.
        selected = {(type(o), o.pk) for o in items}
        kept = [
            f"{o} — published in a release: deprecate it instead (Deprecate… on its page)"
            if (type(o), o.pk) in selected else
            f"{type(o)._meta.verbose_name.capitalize()} “{o}” of a selected role — published in a release: "
            "deprecate it instead"
            for o in selectors.published_among([*items, *_children(items)])
        ]
        return deleted, counts, perms_needed, [*protected, *kept]


def _children(items: list[Any]) -> list[Any]:
    """The aliases and mappings deleting `items` would take with them (for roles), else []."""
    from .models import ClassificationMapping, Role, TitleAlias

    roles = [i.pk for i in items if isinstance(i, Role)]
    if not roles:
        return []
    return [*TitleAlias.objects.filter(role__in=roles), *ClassificationMapping.objects.filter(role__in=roles)]
