"""The role directory's filters. Codes are typed, not picked: 10,000 roles make no dropdown."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import QuerySet

from taxonomy.models import Level

from .models import Role
from .selectors import pending_review_q


class RoleFilter(django_filters.FilterSet):
    """Search by code, title or alias; narrow by family, specialization, level and pending review."""

    q = django_filters.CharFilter(method="search", label="Search", help_text="Part of a code, title or alias.")
    family = django_filters.CharFilter(
        field_name="node__parent__code", lookup_expr="iexact", label="Family code", help_text="e.g. AIMLAM"
    )
    specialization = django_filters.CharFilter(
        method="filter_specialization", label="Specialization code", help_text="e.g. AIMLAM.GEN or GEN"
    )
    level = django_filters.ModelChoiceFilter(
        field_name="level",
        to_field_name="code",
        queryset=Level.objects.order_by("track", "rank"),
        label="Level",
        empty_label="Any level",
    )
    pending = django_filters.BooleanFilter(
        method="filter_pending",
        label="Review pending",
        widget=forms.Select(choices=[("", "Either"), ("true", "Yes"), ("false", "No")]),
    )
    # Deprecated roles stay (a release keeps them, pointing to what replaces them) but are hidden by default.
    deprecated = django_filters.ChoiceFilter(
        method="filter_deprecated",
        label="Deprecated roles",
        choices=[("include", "Include them"), ("only", "Only them")],
        empty_label="Hide them",
    )

    class Meta:
        model = Role
        fields: list[str] = []

    def search(self, queryset: QuerySet[Role], name: str, value: str) -> QuerySet[Role]:
        value = value.strip()
        if not value:
            return queryset
        # Each role's digest holds its code, title and aliases in lower case (roles.derived): one
        # row per role to search, under a trigram index on PostgreSQL, not the whole alias table.
        return queryset.filter(digest__search_text__contains=value.lower())

    def filter_specialization(self, queryset: QuerySet[Role], name: str, value: str) -> QuerySet[Role]:
        value = value.strip().upper()
        if not value:
            return queryset
        if "." in value:
            return queryset.filter(node__code=value)
        # A bare specialization code such as GEN recurs under many families.
        return queryset.filter(node__code__endswith=f".{value}")

    @property
    def qs(self) -> QuerySet[Role]:
        # Unbound (no parameters), django-filter filters nothing: deprecated roles are still hidden.
        return super().qs if self.is_bound else super().qs.filter(deprecated=False)

    def filter_queryset(self, queryset: QuerySet[Role]) -> QuerySet[Role]:
        if not (self.form.cleaned_data or {}).get("deprecated"):
            queryset = queryset.filter(deprecated=False)
        return super().filter_queryset(queryset)

    def filter_deprecated(self, queryset: QuerySet[Role], name: str, value: str) -> QuerySet[Role]:
        return queryset.filter(deprecated=True) if value == "only" else queryset

    def filter_pending(self, queryset: QuerySet[Role], name: str, value: bool | None) -> QuerySet[Role]:
        if value is None:
            return queryset
        return queryset.filter(pending_review_q()) if value else queryset.exclude(pending_review_q())
