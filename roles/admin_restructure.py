"""Merge and split in the admin (a mixin of the role admin): choose, preview, propose.

- "Merge into another role…" and "Split into other roles…": actions on the role list (one role
  selected) and links on a role's page, leading to `<id>/merge/` and `<id>/split/`.
- Each page previews every move (roles.workflow.restructure) before anything is written, lists
  the conflicts that refuse it, and proposes through roles.services.propose_merge / propose_split.
  The proposal then waits on the Deprecation page for a second person's approval.

Only users who may propose (roles.add_deprecation) reach the pages, GET included (403 otherwise).
A preview never writes; a proposal is a POST with the CSRF token like any admin form.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from framework.audit import has_visible_text

from . import services, workflow
from .models import Role
from .workflow import restructure
from .workflow.deprecation import PROPOSE_PERMISSION, DeprecationRefused


class RoleCodeField(forms.CharField):
    """A live role named by its code."""

    def clean(self, value: Any) -> Role:
        code = super().clean(value).strip().upper()
        role = Role.objects.select_related("level").filter(code=code).first()
        if role is None:
            raise forms.ValidationError(f"No role has the code {code}.")
        return role


class MergeForm(forms.Form):
    target = RoleCodeField(label="Merge into (role code)", max_length=40,
                           help_text="The role that stays, e.g. AIMLAM.GEN.P1.")
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
                             help_text="Shown to the reviewer and kept in the history.")

    def clean_reason(self) -> str:
        if not has_visible_text(self.cleaned_data["reason"]):
            raise forms.ValidationError("Say why the roles are merged.")
        return self.cleaned_data["reason"].strip()


class SplitTargetsForm(forms.Form):
    targets = forms.CharField(label="Split into (role codes, one per line)", max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 3, "cols": 40}),
                              help_text="Two or more existing roles: create them first.")
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2, "cols": 80}))

    def clean_targets(self) -> list[Role]:
        codes = [c.strip().upper() for c in self.cleaned_data["targets"].replace(",", "\n").splitlines() if c.strip()]
        found = {r.code: r for r in Role.objects.select_related("level").filter(code__in=codes)}
        missing = [c for c in codes if c not in found]
        if missing:
            raise forms.ValidationError(f"No role has the code {', '.join(missing)}.")
        return [found[c] for c in dict.fromkeys(codes)]

    def clean_reason(self) -> str:
        if not has_visible_text(self.cleaned_data["reason"]):
            raise forms.ValidationError("Say why the role is split.")
        return self.cleaned_data["reason"].strip()


def split_assignment_form(source: Role, targets: list[Role], data: Any = None) -> forms.Form:
    """One required choice of new role per movable alias and per component of `source`."""
    choices = [("", "—"), *((str(t.pk), t.code) for t in targets)]
    fields: dict[str, forms.Field] = {}
    for alias in restructure.movable_aliases(source):
        fields[f"alias-{alias.pk}"] = forms.ChoiceField(
            label=f"Alias “{alias.alias}” ({alias.status})", choices=choices, required=False)
    for component in source.components.order_by("kind", "position", "pk"):
        fields[f"component-{component.pk}"] = forms.ChoiceField(
            label=f"{component.get_kind_display()}: {component.text[:90]}", choices=choices, required=False)
    return type("SplitAssignmentForm", (forms.Form,), fields)(data)


def assignments_of(form: forms.Form) -> dict[str, dict[int, int]]:
    plan: dict[str, dict[int, int]] = {"aliases": {}, "components": {}}
    for name, value in form.cleaned_data.items():
        if value:
            kind, _, pk = name.partition("-")
            plan["aliases" if kind == "alias" else "components"][int(pk)] = int(value)
    return plan


class RestructureAdmin:
    """The role admin's merge and split pages and list actions."""

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm(PROPOSE_PERMISSION):
            for name in ("merge_role", "split_role"):
                actions.pop(name, None)
        return actions

    def get_urls(self):
        merge = path("<int:object_id>/merge/", self.admin_site.admin_view(self.merge_view), name="roles_role_merge")
        split = path("<int:object_id>/split/", self.admin_site.admin_view(self.split_view), name="roles_role_split")
        return [merge, split, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = dict(extra_context or {})
        if request.user.has_perm(PROPOSE_PERMISSION) and str(object_id).isdigit():
            extra["restructure_urls"] = [
                (reverse("admin:roles_role_merge", args=[int(object_id)]), "Merge into…"),
                (reverse("admin:roles_role_split", args=[int(object_id)]), "Split…"),
            ]
        return super().change_view(request, object_id, form_url, extra)

    def _one_selected(self, request: HttpRequest, queryset, view: str) -> HttpResponse | None:
        pks = list(queryset.values_list("pk", flat=True)[:2])
        if len(pks) != 1:
            self.message_user(request, "Select exactly one role to merge or split.", messages.WARNING)
            return None
        return HttpResponseRedirect(reverse(f"admin:roles_role_{view}", args=[pks[0]]))

    def merge_role(self, request, queryset):
        return self._one_selected(request, queryset, "merge")

    merge_role.short_description = "Merge into another role…"
    merge_role.allowed_permissions = ("propose",)

    def split_role(self, request, queryset):
        return self._one_selected(request, queryset, "split")

    split_role.short_description = "Split into other roles…"
    split_role.allowed_permissions = ("propose",)

    def has_propose_permission(self, request) -> bool:
        return request.user.has_perm(PROPOSE_PERMISSION)

    def _source(self, request: HttpRequest, object_id: int) -> Role:
        if not request.user.has_perm(PROPOSE_PERMISSION):
            raise PermissionDenied
        role = Role.objects.select_related("level", "replaced_by").filter(pk=object_id).first()
        if role is None:
            raise Http404("No role has this id.")
        return role

    def _render(self, request: HttpRequest, source: Role, context: dict[str, Any]) -> TemplateResponse:
        opts = self.model._meta
        return TemplateResponse(request, "admin/roles/role/restructure.html", {
            **self.admin_site.each_context(request), "opts": opts, "source": source,
            "change_url": reverse("admin:roles_role_change", args=[source.pk]), **context,
        })

    def _propose(self, request: HttpRequest, call, **kwargs) -> tuple[HttpResponse | None, list[str]]:
        try:
            proposal = call(actor=request.user, **kwargs)
        except restructure.RestructureRefused as exc:
            return None, exc.conflicts
        except (DeprecationRefused, workflow.ReviewError) as exc:
            return None, [str(exc)]
        self.message_user(request, f"{proposal} proposed: another reviewer approves or rejects it here.",
                          messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:roles_deprecation_change", args=[proposal.pk])), []

    def merge_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        source = self._source(request, object_id)
        form = MergeForm(request.POST or None)
        preview, conflicts = None, []
        if request.method == "POST" and form.is_valid():
            target = form.cleaned_data["target"]
            preview = restructure.plan_merge(source, target)
            conflicts = preview.conflicts
            if "propose" in request.POST and not conflicts:
                done, conflicts = self._propose(request, services.propose_merge, source=source, target=target,
                                                reason=form.cleaned_data["reason"])
                if done:
                    return done
        return self._render(request, source, {
            "title": f"Merge {source.code} into another role", "kind": "merge", "form": form,
            "preview": preview, "conflicts": conflicts,
        })

    def split_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        source = self._source(request, object_id)
        form = SplitTargetsForm(request.POST or None)
        preview, conflicts, assign = None, [], None
        if request.method == "POST" and form.is_valid():
            targets = form.cleaned_data["targets"]
            assign = split_assignment_form(source, targets, request.POST if "assigned" in request.POST else None)
            if assign.is_bound and assign.is_valid():
                plan = assignments_of(assign)
                preview = restructure.plan_split(source, targets, plan)
                conflicts = preview.conflicts
                if "propose" in request.POST and not conflicts:
                    done, conflicts = self._propose(request, services.propose_split, source=source,
                                                    targets=targets, assignments=plan,
                                                    reason=form.cleaned_data["reason"])
                    if done:
                        return done
        return self._render(request, source, {
            "title": f"Split {source.code} into other roles", "kind": "split", "form": form, "assign": assign,
            "preview": preview, "conflicts": conflicts,
        })
