"""The curators' admin: roles with their components, aliases and mappings inline.

Every save goes through roles.services, so history rows carry the curator and the reason
typed on the form, and content changes send decided items back to review.
"""

from __future__ import annotations

import weakref
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path

from framework.admin import AuditedAdmin, ReasonForm, ScalableChangeList, TextInputFilter, VersionedInline
from framework.audit import current_reason
from taxonomy.models import OccupationCode

from . import services, soc, workflow
from .admin_cards import can_import_cards, import_cards_view
from .admin_deprecation import DeprecationAdmin, PublishedItemsKept
from .admin_restore import RestoreVersionAdmin
from .admin_restructure import RestructureAdmin
from .admin_review import ReviewActions
from .forms import DIRECT_RENDERER, AliasInlineFormSet, RoleEditorTable, RowForm, RowFormSet, fieldsets_html
from .models import (
    LEAD_REVIEW,
    Assignment,
    ClassificationMapping,
    Component,
    Decision,
    Deprecation,
    Role,
    Sample,
    TitleAlias,
    band_range,
)

# Review fields change only through the review workflow (roles.workflow).
ALIAS_REVIEW_FIELDS = ["status", "decided_by", "decided_at", "created_by", "content_changed_by", "deprecated",
                       "replaced_by"]
MAPPING_REVIEW_FIELDS = [
    "status", "decided_by", "decided_at", "previous_code", "occupation", "created_by", "content_changed_by",
    "deprecated",
]


class FamilyFilter(TextInputFilter):
    """The family code, typed: a link per family would grow the sidebar with the taxonomy."""

    title = "family"
    parameter_name = "family"
    lookup = "node__parent__code"

    def filter(self, queryset, value: str):
        return super().filter(queryset, value.upper())  # codes are upper case: an exact, indexed match


class RoleFamilyFilter(FamilyFilter):
    lookup = "role__node__parent__code"


class SourceFilter(TextInputFilter):
    """Where aliases came from (free text, so typed: no DISTINCT over the whole table)."""

    title = "source"
    parameter_name = "source"
    lookup = "source__iexact"


# The most roles whose code a search term may match and still be looked up by role.
SEARCH_ROLE_LIMIT = 500


def matching_ids(queryset, limit: int = SEARCH_ROLE_LIMIT) -> list[int]:
    """The pks of `queryset`, at most `limit`: a short literal list the planner can use with an index."""
    return list(queryset.order_by().values_list("pk", flat=True)[:limit])


def search_with_role_code(model_admin, request, queryset, search_term, text_fields: tuple[str, ...], extra=None):
    """Search `text_fields` or the role's code, every condition on the listed table.

    Django's default ORs across the join to the role, which no index serves and which makes the
    planner read the whole table; here the roles are found first (a short list of pks), so each
    condition has its index: the text's trigram index (PostgreSQL) and the role's.
    """
    term = search_term.strip()
    if not term:
        return queryset, False
    condition = Q(role_id__in=matching_ids(Role.objects.filter(code__icontains=term)))
    for field in text_fields:
        condition |= Q(**{f"{field}__icontains": term})
    if extra is not None:
        condition |= extra(term)
    return queryset.filter(condition), False


class ConfidenceBandFilter(admin.SimpleListFilter):
    title = "confidence band"
    parameter_name = "band"

    def lookups(self, request, model_admin):
        return [("low", "Low"), ("medium", "Medium"), ("high", "High")]

    def queryset(self, request, queryset):
        if self.value() in {"low", "medium", "high"}:
            return queryset.filter(band_range(self.value()))
        return queryset


class InReferenceFilter(admin.SimpleListFilter):
    title = "in SOC reference"
    parameter_name = "in_reference"

    def lookups(self, request, model_admin):
        return [("yes", "Official code"), ("no", "Not in the reference (check it)")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(occupation__isnull=False)
        if self.value() == "no":
            return queryset.filter(occupation__isnull=True)
        return queryset


SAVE_SERVICES = {
    Role: ("role", services.save_role),
    Component: ("component", services.save_component),
    TitleAlias: ("alias", services.save_alias),
    ClassificationMapping: ("mapping", services.save_mapping),
}


def save_through_service(obj, actor, expected_version: int | None = None):
    """Save a role part through the service for its model, with the request's reason.

    `expected_version` is the version the form was opened on: a stale form raises StaleEdit.
    """
    name, save = SAVE_SERVICES[type(obj)]
    return save(**{name: obj}, actor=actor, reason=current_reason(), expected_version=expected_version)


class ServiceSavingAdmin(RestoreVersionAdmin, AuditedAdmin):
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (services.PublishedItemProtected, workflow.IllegalTransition) as exc:
            # A row deleted from a list on the page was published, or a deprecated item was edited:
            # the whole save was rolled back.
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_with_service(self, request, obj, form, change):
        save_through_service(obj, request.user, form.cleaned_data.get("version"))

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        opened_on = {id(f.instance): f.cleaned_data.get("version") for f in formset.forms if f.has_changed()}
        for obj in formset.deleted_objects:
            services.delete_item(item=obj, actor=request.user, reason=current_reason())
        for obj in instances:
            save_through_service(obj, request.user, opened_on.get(id(obj)))
        formset.save_m2m()


class LinesField(forms.CharField):
    """An ordered list of texts edited as one line each (the plan's steps, core outputs)."""

    widget = forms.Textarea(attrs={"rows": 6, "cols": 100})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        return [line.strip() for line in (value or "").splitlines() if line.strip()]


class RoleForm(ReasonForm):
    default_renderer = DIRECT_RENDERER  # the plain widgets written directly (roles.forms)
    plan = LinesField(required=False, help_text="One step per line, in order.")
    core_outputs = LinesField(required=False, help_text="One output per line; may be empty.")


# What the lists of one role editor page share (ComponentInline), for as long as its request lives.
_PER_REQUEST: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def per_request(request: HttpRequest, *key) -> dict:
    """A dict for `key` that lives as long as `request` does."""
    return _PER_REQUEST.setdefault(request, {}).setdefault(key, {})


class RoleEditorInline(VersionedInline, admin.TabularInline):
    """A list of the role editor: rows drawn and checked by roles.forms, the table by a template without white space.

    A role holds a hundred rows and more across its eight lists (40 components and 55 aliases
    is a typical role): per row, Django's template, a query for the row's key and one per check
    constraint would cost more than the rest of the page.
    """

    template = "admin/roles/tabular_inline.html"
    form = RowForm
    formset = RowFormSet
    classes = ["collapse"]
    extra = 0
    view_on_site = False  # no row has a page of its own: no link to look for per row

    def get_formset(self, request, obj=None, **kwargs):
        # The formset's own parts (its management form) drawn like its rows.
        return super().get_formset(request, obj, renderer=DIRECT_RENDERER, **kwargs)


class ComponentInline(RoleEditorInline):
    """The components of one kind (a subclass per kind), folded, one short line each."""

    model = Component
    kind: str = ""
    fields = ["position", "text", "prevalence", "scope"]
    ordering = ["position", "pk"]
    formfield_overrides = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 70})}}

    def get_formset(self, request, obj=None, **kwargs):
        # The six kinds are one model with the same fields: a page builds their formset class once
        # and reads their rows in one query (all kinds, in order), each list taking its own.
        shared = per_request(request, "components", obj.pk if obj else None) if not kwargs else {}
        if "formset" not in shared:
            shared["formset"] = super().get_formset(request, obj, **kwargs)
        kind = self.kind

        class KindFormSet(shared["formset"]):
            # Six inlines share one relation: each needs a prefix of its own, and new rows their kind.
            component_kind = kind

            @classmethod
            def get_default_prefix(cls):
                return f"components-{kind}"

            def get_queryset(self):
                if not hasattr(self, "_queryset"):
                    if "rows" not in shared:
                        shared["rows"] = list(super().get_queryset())
                    self._queryset = [component for component in shared["rows"] if component.kind == kind]
                return self._queryset

            def save_new(self, form, commit=True):
                form.instance.kind = kind
                return super().save_new(form, commit=commit)

        return KindFormSet


class ResponsibilityInline(ComponentInline):
    kind, verbose_name, verbose_name_plural = Component.Kind.RESPONSIBILITY, "responsibility", "Responsibilities"


class TaskInline(ComponentInline):
    kind, verbose_name, verbose_name_plural = Component.Kind.TASK, "task", "Tasks"


class SkillInline(ComponentInline):
    kind, verbose_name, verbose_name_plural = Component.Kind.SKILL, "skill", "Skills"


class KnowledgeInline(ComponentInline):
    kind, verbose_name, verbose_name_plural = Component.Kind.KNOWLEDGE, "knowledge item", "Knowledge"


class CompetencyInline(ComponentInline):
    kind, verbose_name, verbose_name_plural = Component.Kind.COMPETENCY, "competency", "Competencies"


class QualificationInline(ComponentInline):
    kind, verbose_name, verbose_name_plural = Component.Kind.QUALIFICATION, "qualification", "Qualifications"


COMPONENT_INLINES = [ResponsibilityInline, TaskInline, SkillInline, KnowledgeInline, CompetencyInline,
                     QualificationInline]


class TitleAliasInline(RoleEditorInline):
    model = TitleAlias
    formset = AliasInlineFormSet  # the (role, alias) constraint, checked as a form error
    fields = ["alias", "alias_type", "confidence", "band", "source", "status", "decided_at", "decided_by"]
    readonly_fields = ["band", "status", "decided_at", "decided_by"]
    ordering = ["pk"]  # the model's order within one role, without its join to the role for the code

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("decided_by")

    @admin.display(description="band")
    def band(self, obj):
        return obj.band

    def get_search_results(self, request, queryset, search_term):
        return search_with_role_code(self, request, queryset, search_term, ("alias",))


class ClassificationMappingInline(RoleEditorInline):
    model = ClassificationMapping
    fields = ["scheme", "code", "title", "occupation", "source", "status", "decided_by", "decided_at"]
    readonly_fields = ["occupation", "status", "decided_by", "decided_at"]
    ordering = ["scheme", "code"]  # the model's order within one role (see TitleAliasInline)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("occupation", "decided_by")


admin.site.register(Deprecation, DeprecationAdmin)


@admin.register(Role)
class RoleAdmin(RestructureAdmin, PublishedItemsKept, ScalableChangeList, ServiceSavingAdmin):
    deprecate_field = "role"
    form = RoleForm
    change_form_template = "admin/roles/role/change_form.html"
    # The story's paragraphs start at three lines and grow as they fill (static/rolebook/admin.js).
    formfield_overrides = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 3, "cols": 90,
                                                                             "data-autogrow": "1"})}}
    list_display = ["code", "title", "family", "level"]
    list_filter = [FamilyFilter, "level"]
    search_fields = ["code", "title"]
    autocomplete_fields = ["node", "level"]
    inlines = [*COMPONENT_INLINES, TitleAliasInline, ClassificationMappingInline]
    actions = ["suggest_soc_mappings", "merge_role", "split_role"]
    fieldsets = [
        (None, {"fields": ["code", "title", "node", "level", "headline"]}),
        (
            "The story",
            {
                "fields": [
                    "who_does_this_work", "external_problem", "internal_problem", "why_it_matters",
                    "plan", "whats_at_stake", "success_looks_like",
                ]
            },
        ),
        (None, {"fields": ["summary", "core_outputs"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).with_related()

    def render_change_form(self, request, context, *args, **kwargs):
        # The role's own fields, written by roles.forms (admin/roles/role/change_form.html prints them).
        context["fieldsets_html"] = fieldsets_html(context["adminform"])
        return super().render_change_form(request, context, *args, **kwargs)

    def get_inline_formsets(self, request, formsets, inline_instances, obj=None):
        # Django's, each with its rows written by roles.forms (admin/roles/tabular_inline.html prints them).
        return [RoleEditorTable.of(inline_admin_formset)
                for inline_admin_formset in super().get_inline_formsets(request, formsets, inline_instances, obj)]

    def get_formset_kwargs(self, request, obj, inline, prefix):
        if request.method != "POST" or "_saveasnew" in request.POST:
            return super().get_formset_kwargs(request, obj, inline, prefix)
        # Django's, less its copy of the POST per inline (made for "Save as new" to blank the rows'
        # keys, a button this form has not): eight copies of a thousand fields cost more than the save.
        return {"instance": obj, "prefix": prefix, "queryset": inline.get_queryset(request),
                "data": request.POST, "files": request.FILES, "save_as_new": False}

    def get_urls(self):
        # Before the defaults: "<path:object_id>/" would otherwise catch "import/".
        upload = path(
            "import/", self.admin_site.admin_view(self.import_cards_view), name="roles_role_import_cards"
        )
        return [upload, *super().get_urls()]

    def import_cards_view(self, request):
        return import_cards_view(request, self)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_import_cards": can_import_cards(request.user)}
        return super().changelist_view(request, extra_context)

    @admin.display(description="family", ordering="node__parent__code")
    def family(self, obj):
        return obj.node.parent.code if obj.node.parent_id else "—"

    def has_add_mapping_permission(self, request) -> bool:
        return request.user.has_perm("roles.add_classificationmapping")

    @admin.action(description="Suggest SOC mappings for the selected roles", permissions=["add_mapping"])
    def suggest_soc_mappings(self, request, queryset):
        if queryset.count() > soc.SUGGEST_IN_REQUEST:
            queued = soc.suggest_mappings_later(roles=queryset, actor=request.user)
            self.message_user(
                request,
                f"Suggesting SOC mappings for {queued} roles in the background: the bell tells you when they "
                "are ready for review.",
                messages.SUCCESS,
            )
            return
        result = soc.suggest_mappings(roles=queryset, actor=request.user)
        if result.created:
            codes = ", ".join(f"{m.role.code} → {m.code}" for m in result.created[:20])
            more = f" and {len(result.created) - 20} more" if len(result.created) > 20 else ""
            self.message_user(
                request,
                f"Suggested {len(result.created)} mapping(s), waiting for review: {codes}{more}.",
                messages.SUCCESS,
            )
        for role, why in result.passed[:20]:
            self.message_user(request, f"{role.code}: no suggestion, {why}.", messages.INFO)


@admin.register(Component)
class ComponentAdmin(ScalableChangeList, ServiceSavingAdmin):
    list_display = ["text", "kind", "role", "position", "prevalence", "scope"]
    list_filter = ["kind", RoleFamilyFilter]
    search_fields = ["text", "role__code"]
    autocomplete_fields = ["role"]
    # Newest first, along the primary key: a sort by role would sort the whole table each page.
    ordering = ["-pk"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("role")

    def get_search_results(self, request, queryset, search_term):
        return search_with_role_code(self, request, queryset, search_term, ("text",))


@admin.register(TitleAlias)
class TitleAliasAdmin(PublishedItemsKept, ReviewActions, ScalableChangeList, ServiceSavingAdmin):
    deprecate_field = "alias"
    list_display = [
        "alias", "role", "alias_type", "confidence", "band", "status", "decided_at", "decided_by", "source",
        "shown_version",
    ]
    actions = ["approve_selected", "reject_selected"]
    list_filter = ["status", ConfidenceBandFilter, "alias_type", SourceFilter, RoleFamilyFilter, "role__level"]
    search_fields = ["alias", "role__code"]
    # Newest first, along the primary key (see ComponentAdmin).
    ordering = ["-pk"]
    autocomplete_fields = ["role"]
    readonly_fields = ALIAS_REVIEW_FIELDS + ["band"]
    fields = ["role", "alias", "alias_type", "confidence", "band", "source", *ALIAS_REVIEW_FIELDS, "change_reason"]

    def get_queryset(self, request):
        return super().get_queryset(request).with_related()

    @admin.display(description="band")
    def band(self, obj):
        return obj.band

    def get_search_results(self, request, queryset, search_term):
        return search_with_role_code(self, request, queryset, search_term, ("alias",))


@admin.register(ClassificationMapping)
class ClassificationMappingAdmin(PublishedItemsKept, ReviewActions, ScalableChangeList, ServiceSavingAdmin):
    deprecate_field = "mapping"
    list_display = ["code", "title", "official_title", "in_reference", "role", "source", "status", "decided_by",
                    "shown_version"]
    actions = ["approve_selected", "reject_selected"]
    list_filter = ["status", "source", InReferenceFilter, RoleFamilyFilter, "role__level"]
    search_fields = ["code", "title", "occupation__title", "role__code"]
    autocomplete_fields = ["role"]
    readonly_fields = MAPPING_REVIEW_FIELDS
    fields = ["role", "scheme", "code", "title", "source", *MAPPING_REVIEW_FIELDS, "change_reason"]

    def get_queryset(self, request):
        return super().get_queryset(request).with_related()

    def get_search_results(self, request, queryset, search_term):
        def official(term):
            return Q(occupation_id__in=matching_ids(OccupationCode.objects.filter(title__icontains=term)))

        return search_with_role_code(self, request, queryset, search_term, ("code", "title"), extra=official)

    @admin.display(description="official title")
    def official_title(self, obj):
        return obj.occupation.title if obj.occupation_id else "— not in the SOC reference —"

    @admin.display(description="in reference", boolean=True)
    def in_reference(self, obj):
        return obj.in_reference


@admin.register(Assignment)
class AssignmentAdmin(AuditedAdmin):
    """Lead reviewers give families and specializations to reviewers or groups (roles.services.save_assignment)."""

    list_display = ["node", "reviewer", "group", "due_date", "note"]
    list_filter = ["group", "due_date"]
    search_fields = ["node__code", "node__name", "reviewer__username", "group__name"]
    autocomplete_fields = ["node"]
    list_select_related = ["node", "reviewer", "group"]

    def save_with_service(self, request, obj, form, change):
        services.save_assignment(assignment=obj, actor=request.user, reason=current_reason(),
                                 expected_version=form.cleaned_data.get("version"))


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
        # Blind reviews of samples still under review: only their reviewer and leads see them.
        return super().get_queryset(request).visible_to(request.user).with_related()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Sample)
class SampleAdmin(admin.ModelAdmin):
    """Double-blind samples, read-only and for leads only: a sample names both reviewers before it settles.

    Samples are drawn, reviewed and settled through the review core (the queues, Disagreements).
    """

    list_display = ["drawn_at", "item", "state", "first_by", "second_by", "settled_by", "settled_at"]
    list_filter = ["state"]
    list_select_related = ["alias", "mapping", "first_by", "second_by", "settled_by"]
    ordering = ["-drawn_at", "-pk"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(LEAD_REVIEW)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(LEAD_REVIEW)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
