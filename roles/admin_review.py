"""Review actions for the alias and mapping admins: approve or reject the selected rows at the versions shown.

The changelist carries each row's version (the "version" column holds it in a hidden field), so
an action decides exactly what the reviewer saw: a row a curator changed after the page was
shown, or one the page never showed ("select all" across pages), is skipped and named. The
actions only parse the request and call the review core, which checks the permission, four-eyes
and the reason; the admin hides the actions from users without the review permission.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html

from . import workflow
from .models import DecisionKind

SHOWN_FIELD = "_shown"


def shown_versions(request: HttpRequest) -> dict[int, int]:
    """The {pk: version} pairs the changelist showed, as posted back with an action (bad pairs are dropped)."""
    pairs: dict[int, int] = {}
    for value in request.POST.getlist(SHOWN_FIELD):
        pk, _, version = value.partition(":")
        if pk.isdigit() and version.isdigit():
            pairs[int(pk)] = int(version)
    return pairs


class ReviewActions:
    """Approve / reject selected rows, for a ModelAdmin of a reviewable model (aliases, mappings)."""

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(self.model.REVIEW_PERMISSION)

    @admin.display(description="version")
    def shown_version(self, obj: Any) -> str:
        return format_html('{}<input type="hidden" name="{}" value="{}:{}">', obj.version, SHOWN_FIELD, obj.pk,
                           obj.version)

    def _decide(self, request: HttpRequest, queryset: QuerySet, kind: str, reason: str, verb: str) -> None:
        try:
            result = workflow.decide_many(self.model, queryset, kind=kind, actor=request.user, reason=reason,
                                          versions=shown_versions(request))
        except workflow.ReviewError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        if result.decided:
            self.message_user(request, result.summary(verb), messages.SUCCESS)
        for skip in result.skipped:
            self.message_user(request, f"Skipped {skip.item}: {skip.reason}", messages.WARNING)

    @admin.action(description="Approve selected (as shown)", permissions=["review"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide(request, queryset, DecisionKind.APPROVE, "approved in the admin", "approved")

    @admin.action(description="Reject selected (as shown)…", permissions=["review"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        reason = (request.POST.get("reason") or "").strip()
        if request.POST.get("post") == "yes" and reason:
            self._decide(request, queryset, DecisionKind.REJECT, reason, "rejected")
            return None
        title = f"Reject selected {self.model._meta.verbose_name_plural}"
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "items": list(queryset),
            "action": "reject_selected",
            "reason": reason,
            "shown_versions": request.POST.getlist(SHOWN_FIELD),
            "error": "Give a reason: it is recorded in the audit history." if request.POST.get("post") else "",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/roles/review_reason.html", context)
