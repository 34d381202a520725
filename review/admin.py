"""Review actions in the admin: approve or reject the selected aliases and mappings.

The roles app registers the alias and mapping admins; here they are re-registered as
declared subclasses that add the actions. Actions only loop over review.services and report every
skip with its reason; rejecting asks for the reason on an intermediate page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

# The roles admins must be registered before they are extended here (review → roles).
from framework.admin import ScalableChangeList
from roles.admin import ClassificationMappingAdmin, TitleAliasAdmin, matching_ids
from roles.models import ClassificationMapping, Decision, Role, TitleAlias

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
class DecisionAdmin(ScalableChangeList, admin.ModelAdmin):
    """The decision log, read-only: decisions are made through the review workflow."""

    list_display = ["created_at", "actor", "decision", "item", "from_status", "to_status", "comment"]
    list_filter = ["decision", "created_at"]
    search_fields = ["comment", "actor__username", "alias__role__code"]
    search_help_text = "A word of the comment, the reviewer's username, or a role code."
    # No date_hierarchy: it lists the months of every decision on each page (the created_at filter
    # narrows by date instead); the search looks each part up with its own index.

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Decision], search_term: str):
        term = search_term.strip()
        if not term:
            return queryset, False
        # Short literal lists, so that each condition keeps its index (the planner ORs them).
        actors = matching_ids(get_user_model().objects.filter(username__icontains=term))
        role = Role.objects.filter(code__iexact=term).values("pk")
        condition = (
            Q(comment__icontains=term) | Q(actor_id__in=actors)
            | Q(alias_id__in=matching_ids(TitleAlias.objects.filter(role_id__in=role)))
            | Q(mapping_id__in=matching_ids(ClassificationMapping.objects.filter(role_id__in=role)))
        )
        return queryset.filter(condition), False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Decision]:
        return super().get_queryset(request).with_related()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
