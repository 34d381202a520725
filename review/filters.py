"""The queues' filters (django-filter). Views check `is_valid()`: an invalid filter shows errors, not everything."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import django_filters
from django import forms
from django.db.models import Q, QuerySet

from roles import workflow
from roles.models import ClassificationMapping, Decision, TitleAlias, band_range
from taxonomy.models import OccupationCode

from .selectors import (
    CODER_CONFIDENCE_ORDER,
    CODER_FLAGS,
    FLAG_CHOICES,
    GROUP_LEVELS,
    assigned_q,
    filter_alias_flag,
    filter_coder_flag,
    with_coder_confidence,
)

BAND_CHOICES = [("low", "Low"), ("medium", "Medium"), ("high", "High")]


def _upper(value: str) -> str:
    return (value or "").strip().upper()


class QueueFilter(django_filters.FilterSet):
    """Filters both queues share: family, level and role code (codes, not drop-downs of every row)."""

    family = django_filters.CharFilter(
        label="Family", method="filter_family", widget=forms.TextInput(attrs={"size": 8})
    )
    level = django_filters.CharFilter(
        label="Level", method="filter_level", widget=forms.TextInput(attrs={"size": 3})
    )
    role = django_filters.CharFilter(
        label="Role code",
        method="filter_role",
        widget=forms.TextInput(attrs={"size": 16}),
    )
    source = django_filters.CharFilter(field_name="source", lookup_expr="iexact", label="Source")
    # Items another reviewer holds ("Review next") are hidden unless asked for.
    held = django_filters.ChoiceFilter(
        choices=[("mine", "Held by me (my batch)"), ("all", "Any, holds shown")],
        method="filter_held", label="Held", empty_label="Free or mine",
    )

    assigned = django_filters.ChoiceFilter(
        choices=[("me", "Assigned to me")], method="filter_assigned", label="Assignment", empty_label="any",
    )

    def filter_assigned(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs.filter(assigned_q(self.request.user)) if self.request is not None else qs.none()

    def _cleaned(self) -> dict:
        return self.form.cleaned_data if self.is_bound and self.is_valid() else {}

    def filter_held(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        if value == "mine" and self.request is not None:
            return qs.filter(workflow.held_by(self.request.user))
        return qs

    @property
    def qs(self) -> QuerySet:
        qs = super().qs
        if self.request is not None and not self._cleaned().get("held"):
            qs = qs.exclude(workflow.held_by_others(self.request.user, qs.model))
        if self.request is not None:
            # Double-blind samples the reviewer reviewed, and disputed ones (a lead's, on their page).
            qs = qs.exclude(workflow.sample_hidden_q(self.request.user, qs.model))
        return qs

    def filter_family(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs.filter(role__node__parent__code=_upper(value))

    def filter_level(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs.filter(role__level__code=_upper(value))

    def filter_role(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs.filter(role__code=_upper(value))


class AliasFilter(QueueFilter):
    """The alias queue's filters and sort; the status defaults to pending (set by the view)."""

    # Confidence sorts follow the (status, confidence) index; pk breaks ties so pages are stable.
    SORTS = {
        "confidence": ("confidence", "pk"),
        "-confidence": ("-confidence", "-pk"),
        "role": ("role__code", "confidence", "pk"),
    }

    status = django_filters.ChoiceFilter(choices=TitleAlias.Status.choices, empty_label="any status")
    band = django_filters.ChoiceFilter(
        choices=BAND_CHOICES, method="filter_band", label="Confidence band", empty_label="any band"
    )
    confidence_min = django_filters.NumberFilter(
        field_name="confidence", lookup_expr="gte", label="Confidence ≥",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": 0, "max": 1, "class": "narrow-number"}),
    )
    confidence_max = django_filters.NumberFilter(
        field_name="confidence", lookup_expr="lte", label="Confidence ≤",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": 0, "max": 1, "class": "narrow-number"}),
    )
    alias_type = django_filters.ChoiceFilter(choices=TitleAlias.AliasType.choices, empty_label="any type")
    flag = django_filters.ChoiceFilter(
        choices=FLAG_CHOICES, method="filter_flag", label="Flag", empty_label="any flag"
    )
    q = django_filters.CharFilter(field_name="alias", lookup_expr="icontains", label="Alias contains")
    sort = django_filters.ChoiceFilter(
        choices=[("confidence", "Confidence, lowest first"), ("-confidence", "Confidence, highest first"),
                 ("role", "Role")],
        method="filter_sort", empty_label=None, label="Sort",
    )

    class Meta:
        model = TitleAlias
        fields: list[str] = []

    def filter_band(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs.filter(band_range(value))

    def filter_flag(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return filter_alias_flag(qs, value)

    def filter_sort(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs

    def ordering(self) -> tuple[str, ...]:
        """The sort's order_by fields; pk breaks ties so pages are stable (and keyset pages exact)."""
        cleaned = self.form.cleaned_data if self.is_bound and self.is_valid() else {}
        order = self.SORTS.get(cleaned.get("sort") or "confidence")
        if cleaned.get("flag") and order[0].lstrip("-") == "confidence":
            # Each flag's partial index (AliasSignals) is in the confidence order: sort on its copy.
            order = tuple(f.replace("confidence", "signals__confidence") for f in order)
        return order

    @property
    def qs(self) -> QuerySet:
        # Sorting is applied last, whatever the filters did.
        return super().qs.order_by(*self.ordering())

    def counts_only_status(self) -> bool:
        """Whether no filter but the status is set (the role digests then hold the exact count)."""
        cleaned = self.form.cleaned_data if self.is_bound and self.is_valid() else {}
        return not any(value not in (None, "") for key, value in cleaned.items() if key not in ("status", "sort"))


class MappingFilter(QueueFilter):
    """The mapping queue's filters; the status defaults to needs_review (set by the view)."""

    # Each sort is one index's order: role code (the roles' unique code), or (status, code, id).
    # "coder" orders on keys computed from the role's cached suggestions (selectors.with_coder_confidence):
    # unsure first, then the top score ascending, roles without a current answer last.
    SORTS = {"role": ("role__code", "code", "pk"), "code": ("code", "pk"), "coder": CODER_CONFIDENCE_ORDER}

    status = django_filters.ChoiceFilter(choices=ClassificationMapping.Status.choices, empty_label="any status")
    depth = django_filters.ChoiceFilter(
        choices=[("group", "Group-level (major, minor, broad)"), ("detailed", "Detailed"),
                 ("unknown", "Not in the reference")],
        method="filter_depth", label="Code depth", empty_label="any depth",
    )
    source = django_filters.ChoiceFilter(choices=ClassificationMapping.Source.choices, empty_label="any source")
    flag = django_filters.ChoiceFilter(choices=CODER_FLAGS, method="filter_flag", label="Flag", empty_label="any flag")
    sort = django_filters.ChoiceFilter(
        choices=[("role", "Role"), ("code", "Code"), ("coder", "Coder confidence (unsure first)")],
        method="filter_sort", empty_label=None, label="Sort",
    )

    class Meta:
        model = ClassificationMapping
        fields: list[str] = []

    def filter_flag(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return filter_coder_flag(qs, value)

    def filter_depth(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        if value == "group":
            return qs.filter(occupation__level__in=GROUP_LEVELS)
        if value == "detailed":
            return qs.filter(
                occupation__level__in=[OccupationCode.Level.DETAILED, OccupationCode.Level.ONET]
            )
        return qs.filter(occupation__isnull=True)

    def filter_sort(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs

    def ordering(self) -> tuple[str, ...]:
        """The sort's order_by fields, the last unique (keyset pages); "role" for an unbound or invalid form."""
        sort = self.form.cleaned_data.get("sort") if self.is_bound and self.is_valid() else None
        return self.SORTS.get(sort or "role")

    @property
    def qs(self) -> QuerySet:
        qs = super().qs
        order = self.ordering()
        if order == CODER_CONFIDENCE_ORDER:
            qs = with_coder_confidence(qs)
        return qs.order_by(*order)

    def counts_only_status(self) -> bool:
        """Whether no filter but the status is set (the role digests then hold the exact count)."""
        cleaned = self.form.cleaned_data if self.is_bound and self.is_valid() else {}
        return not any(value not in (None, "") for key, value in cleaned.items() if key not in ("status", "sort"))


class DecisionFilter(django_filters.FilterSet):
    """The decision log's filters: who, what kind, when, which role. Dates are days in UTC."""

    actor = django_filters.CharFilter(label="Who (username)", method="filter_actor")
    decision = django_filters.ChoiceFilter(choices=Decision.Kind.choices, label="Decision", empty_label="any")
    since = django_filters.DateFilter(label="From (day)", method="filter_since",
                                      widget=forms.DateInput(attrs={"type": "date"}))
    until = django_filters.DateFilter(label="To (day)", method="filter_until",
                                      widget=forms.DateInput(attrs={"type": "date"}))
    role = django_filters.CharFilter(label="Role code", method="filter_role")

    class Meta:
        model = Decision
        fields: list[str] = []

    def filter_actor(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        return qs.filter(actor__username=value.strip())

    def filter_since(self, qs: QuerySet, name: str, value) -> QuerySet:
        # A range on the timestamp, not created_at::date, so the index on created_at serves it.
        return qs.filter(created_at__gte=datetime.combine(value, time.min, tzinfo=UTC))

    def filter_until(self, qs: QuerySet, name: str, value) -> QuerySet:
        return qs.filter(created_at__lt=datetime.combine(value + timedelta(days=1), time.min, tzinfo=UTC))

    def filter_role(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        code = _upper(value)
        # The role's items first, then their decisions through the item indexes (no join of both tables).
        aliases = TitleAlias.objects.filter(role__code=code).values("pk")
        mappings = ClassificationMapping.objects.filter(role__code=code).values("pk")
        return qs.filter(Q(alias_id__in=aliases) | Q(mapping_id__in=mappings))
