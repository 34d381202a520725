"""The roles and occupation-codes lists' filters. Each is checked; an invalid value is a 400 problem."""

from __future__ import annotations

import django_filters
from django.core.validators import RegexValidator
from django.db.models import QuerySet

from roles.models import MAPPING_CODE_RE, Role
from taxonomy.models import OccupationCode

from .selectors import filter_by_alias, filter_by_soc

soc_code = RegexValidator(MAPPING_CODE_RE, "Give a SOC 2018 code (15-2051) or an O*NET-SOC code (15-2051.01).")
code_text = RegexValidator(r"^[A-Za-z0-9.]+$", "Give a code: letters, digits and dots.")


class RoleFilter(django_filters.FilterSet):
    """Narrow roles by their place in the taxonomy, their level, their SOC mappings or alias text."""

    family = django_filters.CharFilter(
        method="filter_family", max_length=40, validators=[code_text], help_text="A family code, e.g. AIMLAM."
    )
    specialization = django_filters.CharFilter(
        method="filter_specialization",
        max_length=40,
        validators=[code_text],
        help_text="A specialization code, e.g. AIMLAM.GEN; a bare GEN matches it in every family.",
    )
    level = django_filters.CharFilter(
        method="filter_level", max_length=3, validators=[code_text], help_text="A level code, e.g. P1."
    )
    soc = django_filters.CharFilter(
        method="filter_soc",
        max_length=10,
        validators=[soc_code],
        help_text=(
            "A SOC 2018 or O*NET-SOC code: roles with an approved mapping to it or to an official code "
            "under it (15-0000 finds every role mapped inside major group 15)."
        ),
    )
    alias = django_filters.CharFilter(
        method="filter_alias",
        max_length=200,
        help_text="Text in one of the role's approved aliases, ignoring case.",
    )

    include_deprecated = django_filters.ChoiceFilter(
        method="filter_deprecated",
        choices=[("1", "1"), ("true", "true"), ("0", "0"), ("false", "false")],
        help_text="1 to list deprecated roles too (each names its successor in replaced_by); hidden by default.",
    )

    class Meta:
        model = Role
        fields: list[str] = []

    @property
    def qs(self) -> QuerySet[Role]:
        # Without parameters django-filter filters nothing: deprecated roles are still left out.
        return super().qs if self.is_bound else super().qs.filter(deprecated=False)

    def filter_queryset(self, queryset: QuerySet[Role]) -> QuerySet[Role]:
        if (self.form.cleaned_data or {}).get("include_deprecated") not in ("1", "true"):
            queryset = queryset.filter(deprecated=False)
        return super().filter_queryset(queryset)

    def filter_deprecated(self, queryset: QuerySet[Role], name: str, value: str) -> QuerySet[Role]:
        return queryset

    def filter_family(self, queryset: QuerySet[Role], name: str, value: str) -> QuerySet[Role]:
        return queryset.filter(node__parent__code=value.upper()) if value else queryset

    def filter_specialization(self, queryset: QuerySet[Role], name: str, value: str) -> QuerySet[Role]:
        value = value.upper()
        if not value:
            return queryset
        if "." in value:
            return queryset.filter(node__code=value)
        # A bare specialization code such as GEN recurs under many families.
        return queryset.filter(node__code__endswith=f".{value}")

    def filter_level(self, queryset: QuerySet[Role], name: str, value: str) -> QuerySet[Role]:
        return queryset.filter(level__code=value.upper()) if value else queryset

    def filter_soc(self, queryset: QuerySet[Role], name: str, value: str) -> QuerySet[Role]:
        return filter_by_soc(queryset, value) if value else queryset

    def filter_alias(self, queryset: QuerySet[Role], name: str, value: str) -> QuerySet[Role]:
        value = value.strip()
        return filter_by_alias(queryset, value) if value else queryset


class OccupationCodeFilter(django_filters.FilterSet):
    """Narrow official codes by scheme, level or parent."""

    scheme = django_filters.ChoiceFilter(choices=OccupationCode.Scheme.choices, help_text="soc2018 or onet2019.")
    level = django_filters.ChoiceFilter(choices=OccupationCode.Level.choices, help_text="The code's level.")
    parent = django_filters.CharFilter(
        field_name="parent__code",
        max_length=10,
        validators=[soc_code],
        help_text="The codes directly under this code, e.g. 15-2050.",
    )

    class Meta:
        model = OccupationCode
        fields: list[str] = []
