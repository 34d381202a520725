"""Review actions in the admin: approve or reject the selected aliases and mappings.

The roles app registers the alias and mapping admins; here they are re-registered as
declared subclasses that add the actions. Actions only loop over review.services and report every
skip with its reason; rejecting asks for the reason on an intermediate page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

# The roles admins must be registered before they are extended here (review → roles).
from roles.admin import ClassificationMappingAdmin, TitleAliasAdmin
from roles.models import ClassificationMapping, Decision, TitleAlias

from . import services
from .groups import REVIEW_ALIAS, REVIEW_MAPPING


def _report(modeladmin: admin.ModelAdmin, request: HttpRequest, verb: str, result: services.BulkResult) -> None:
    if result.decided:
        modeladmin.message_user(request, result.summary(verb), messages.SUCCESS)
    for skip in result.skipped:
        modeladmin.message_user(request, f"Skipped {skip.item}: {skip.reason}", messages.WARNING)
    if not result.decided and not result.skipped:
        modeladmin.message_user(request, "Nothing selected.", messages.INFO)


def _loop(items: QuerySet, decide) -> services.BulkResult:
    """Decide each item with `decide(item)`; a ReviewError becomes a reported skip."""
    result = services.BulkResult()
    for item in items:
        try:
            result.decided.append(decide(item))
        except services.ReviewError as exc:
            result.skipped.append(services.Skipped(item, str(exc)))
    return result


def _ask_reason(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, action: str,
                title: str) -> tuple[str | None, TemplateResponse | None]:
    """Return the reason posted from the intermediate page, or the page that asks for it."""
    reason = (request.POST.get("reason") or "").strip()
    if request.POST.get("post") == "yes" and reason:
        return reason, None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "items": list(queryset),
        "action": action,
        "reason": reason,
        "error": "Give a reason: it is recorded in the audit history." if request.POST.get("post") else "",
        "opts": modeladmin.model._meta,
    }
    return None, TemplateResponse(request, "review/admin/reason.html", context)


class AliasReviewActions:
    """Actions for the title alias admin."""

    def has_review_alias_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REVIEW_ALIAS)

    @admin.action(description="Approve selected aliases", permissions=["review_alias"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[TitleAlias]) -> None:
        try:
            result = services.approve_aliases(aliases=queryset, actor=request.user, comment="approved in the admin")
        except services.ReviewError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        _report(self, request, "approved", result)

    @admin.action(description="Reject selected aliases…", permissions=["review_alias"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[TitleAlias]):
        reason, page = _ask_reason(self, request, queryset, "reject_selected", "Reject selected aliases")
        if page is not None:
            return page
        try:
            result = services.reject_aliases(aliases=queryset, actor=request.user, reason=reason)
        except services.ReviewError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None
        _report(self, request, "rejected", result)
        return None


class MappingReviewActions:
    """Actions for the classification mapping admin (group-level codes go to the review page)."""

    def has_review_mapping_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REVIEW_MAPPING)

    @admin.action(description="Approve selected mappings", permissions=["review_mapping"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[ClassificationMapping]) -> None:
        result = _loop(
            queryset,
            lambda m: services.approve_mapping(mapping=m, actor=request.user, comment="approved in the admin"),
        )
        _report(self, request, "approved", result)

    @admin.action(description="Reject selected mappings…", permissions=["review_mapping"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[ClassificationMapping]):
        reason, page = _ask_reason(self, request, queryset, "reject_selected", "Reject selected mappings")
        if page is not None:
            return page
        result = _loop(queryset, lambda m: services.reject_mapping(mapping=m, actor=request.user, reason=reason))
        _report(self, request, "rejected", result)
        return None


class TitleAliasReviewAdmin(AliasReviewActions, TitleAliasAdmin):
    actions = [*(TitleAliasAdmin.actions or []), "approve_selected", "reject_selected"]


class ClassificationMappingReviewAdmin(MappingReviewActions, ClassificationMappingAdmin):
    actions = [*(ClassificationMappingAdmin.actions or []), "approve_selected", "reject_selected"]


admin.site.unregister(TitleAlias)
admin.site.register(TitleAlias, TitleAliasReviewAdmin)
admin.site.unregister(ClassificationMapping)
admin.site.register(ClassificationMapping, ClassificationMappingReviewAdmin)


@admin.register(Decision)
class DecisionAdmin(admin.ModelAdmin):
    """The decision log, read-only: decisions are made through the review workflow."""

    list_display = ["created_at", "actor", "decision", "item", "from_status", "to_status", "comment"]
    list_filter = ["decision", "created_at"]
    search_fields = ["alias__alias", "mapping__code", "actor__username", "comment"]
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Decision]:
        return super().get_queryset(request).with_related()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
