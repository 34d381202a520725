"""Roles and what a published card says about them: components, title aliases, SOC mappings."""

from __future__ import annotations

import re
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from framework.audit import AuditedHistory, ChangeTracked
from taxonomy.models import OccupationCode

ROLE_CODE_RE = r"^[A-Z0-9]+\.[A-Z0-9]+\.[A-Z][0-9]{1,2}$"
# SOC 2018 (NN-NNNN) or O*NET-SOC 2019 (NN-NNNN.NN), the two formats the card's scheme uses.
MAPPING_CODE_RE = r"^[0-9]{2}-[0-9]{4}(\.[0-9]{2})?$"
role_code_validator = RegexValidator(
    ROLE_CODE_RE,
    "A role code is FAMILY.SPECIALIZATION.LEVEL in capitals, e.g. AIMLAM.GEN.P1.",
)


def normalize_space(value: str) -> str:
    """Collapse runs of white space to one space and trim the ends."""
    return " ".join(value.split())


class NormalizedCharField(models.CharField):
    """A CharField whose value is stored with white space collapsed, so uniqueness ignores it."""

    def to_python(self, value):
        value = super().to_python(value)
        return normalize_space(value) if isinstance(value, str) else value

    def pre_save(self, model_instance, add):
        value = getattr(model_instance, self.attname)
        if isinstance(value, str):
            value = normalize_space(value)
            setattr(model_instance, self.attname, value)
        return value


def confidence_band(confidence: Decimal | None) -> str:
    """Return "low", "medium" or "high" for a confidence under ROLEBOOK_CONFIDENCE_BANDS."""
    if confidence is None:
        return ""
    bands = settings.ROLEBOOK_CONFIDENCE_BANDS
    if confidence >= bands["high"]:
        return "high"
    if confidence >= bands["medium"]:
        return "medium"
    return "low"


def band_range(band: str) -> Q:
    """Return the filter for confidences inside `band` (for querysets and admin filters)."""
    bands = settings.ROLEBOOK_CONFIDENCE_BANDS
    if band == "high":
        return Q(confidence__gte=bands["high"])
    if band == "medium":
        return Q(confidence__gte=bands["medium"], confidence__lt=bands["high"])
    if band == "low":
        return Q(confidence__lt=bands["medium"])
    raise ValueError(f"Unknown confidence band {band!r}: use low, medium or high.")


class RoleQuerySet(models.QuerySet):
    def get_by_natural_key(self, code: str) -> Role:
        return self.get(code=code)

    def with_related(self) -> RoleQuerySet:
        """Join the node, its family and the level: what every role list shows."""
        return self.select_related("node", "node__parent", "level")

    def for_family(self, code: str) -> RoleQuerySet:
        """Return roles whose specialization belongs to the family `code`."""
        return self.filter(node__parent__code=code)


class Role(ChangeTracked):
    """One role at one level, e.g. AIMLAM.GEN.P1 "Entry-Level AI/ML Engineer"."""

    code = models.CharField(max_length=40, unique=True, validators=[role_code_validator])
    title = models.CharField(max_length=200)
    node = models.ForeignKey(
        "taxonomy.TaxonomyNode",
        on_delete=models.PROTECT,
        related_name="roles",
        limit_choices_to={"kind": "specialization"},
        verbose_name="specialization",
    )
    level = models.ForeignKey("taxonomy.Level", on_delete=models.PROTECT, related_name="roles")
    headline = models.TextField(blank=True, help_text="The paragraph under the code.")
    who_does_this_work = models.TextField(blank=True)
    external_problem = models.TextField(blank=True)
    internal_problem = models.TextField(blank=True)
    why_it_matters = models.TextField(blank=True)
    plan = models.JSONField(default=list, blank=True, help_text="The plan's steps, in order.")
    whats_at_stake = models.TextField("what's at stake", blank=True)
    success_looks_like = models.TextField(blank=True)
    summary = models.TextField(blank=True)
    core_outputs = models.JSONField(default=list, blank=True, help_text="Ordered; may be empty.")

    objects = RoleQuerySet.as_manager()
    history = AuditedHistory()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=ROLE_CODE_RE), name="role_code_format"),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("roles:card", args=[self.code])

    def clean(self) -> None:
        errors = {}
        for field in ("plan", "core_outputs"):
            value = getattr(self, field)
            if not isinstance(value, list) or not all(isinstance(s, str) and s.strip() for s in value):
                errors[field] = "Give a list of non-empty texts, in order."
        if self.code and re.fullmatch(ROLE_CODE_RE, self.code):
            family_spec, _, level_code = self.code.rpartition(".")
            if self.node_id is not None and self.node.code != family_spec:
                errors["node"] = f"The code {self.code} needs the specialization {family_spec}."
            if self.level_id is not None and self.level.code != level_code:
                errors["level"] = f"The code {self.code} needs the level {level_code}."
        if errors:
            raise ValidationError(errors)

    def natural_key(self) -> tuple[str]:
        return (self.code,)

    natural_key.dependencies = ["taxonomy.level", "taxonomy.taxonomynode"]

    @property
    def family_code(self) -> str:
        return self.code.split(".", 1)[0]


class ComponentQuerySet(models.QuerySet):
    def get_by_natural_key(self, role_code: str, kind: str, text: str) -> Component:
        return self.get(role__code=role_code, kind=kind, text=text)


class Component(ChangeTracked):
    """A responsibility, task, skill, knowledge, competency or qualification item of a role."""

    class Kind(models.TextChoices):
        RESPONSIBILITY = "responsibility", "Responsibilities"
        TASK = "task", "Tasks"
        SKILL = "skill", "Skills"
        KNOWLEDGE = "knowledge", "Knowledge"
        COMPETENCY = "competency", "competency"
        QUALIFICATION = "qualification", "qualification"

    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="components")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    text = models.TextField()
    prevalence = models.CharField(max_length=20, default="common", help_text="The card's first tag.")
    scope = models.CharField(max_length=20, default="level", help_text="The card's second tag.")
    position = models.PositiveIntegerField(default=0, help_text="Order within its kind.")

    objects = ComponentQuerySet.as_manager()
    history = AuditedHistory()

    # Kinds in the order the card prints them.
    KIND_ORDER = [k.value for k in Kind]

    class Meta:
        ordering = ["role", "kind", "position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["role", "kind", "text"], name="component_unique_text"),
        ]
        indexes = [models.Index(fields=["role", "kind", "position"], name="component_order_idx")]

    def __str__(self) -> str:
        return self.text

    def natural_key(self) -> tuple[str, str, str]:
        return (self.role.code, self.kind, self.text)

    natural_key.dependencies = ["roles.role"]


class Reviewable(ChangeTracked):
    """Fields every reviewable item shares: who created it and who last changed its content.

    Four-eyes review reads these: neither person may approve the item.
    """

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    content_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    content_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class TitleAliasQuerySet(models.QuerySet):
    def get_by_natural_key(self, role_code: str, alias: str) -> TitleAlias:
        return self.get(role__code=role_code, alias=alias)

    def with_related(self) -> TitleAliasQuerySet:
        """Join the role, its node and level, and the approver: what alias lists show."""
        return self.select_related("role", "role__node", "role__level", "approved_by")

    def pending(self) -> TitleAliasQuerySet:
        """Return aliases waiting for a decision."""
        return self.filter(status=TitleAlias.Status.PENDING)

    def approved(self) -> TitleAliasQuerySet:
        """Return approved aliases."""
        return self.filter(status=TitleAlias.Status.APPROVED)

    def in_band(self, band: str) -> TitleAliasQuerySet:
        """Return aliases whose confidence lies in `band`; raises ValueError for an unknown band."""
        return self.filter(band_range(band))


class TitleAlias(Reviewable):
    """A title a role is also known by, with the confidence of whoever proposed it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    class AliasType(models.TextChoices):
        COMMON = "common", "Common"
        ABBREVIATION = "abbreviation", "Abbreviation"
        HIDDEN = "hidden", "Hidden"

    TRANSITIONS = {
        Status.PENDING: {Status.APPROVED, Status.REJECTED},
        Status.APPROVED: {Status.PENDING},
        Status.REJECTED: {Status.PENDING},
    }
    # A change to any of these is a change of content: it needs a fresh review.
    CONTENT_FIELDS = ("alias", "alias_type", "confidence")

    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="aliases")
    alias = NormalizedCharField(max_length=200)
    alias_type = models.CharField(max_length=20, choices=AliasType.choices, default=AliasType.COMMON)
    confidence = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text="0.00 to 1.00; the band (low, medium, high) follows from it.",
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=100, default="manual", help_text="e.g. card import, manual.")

    objects = TitleAliasQuerySet.as_manager()
    history = AuditedHistory()

    class Meta:
        ordering = ["role", "pk"]
        verbose_name = "title alias"
        verbose_name_plural = "title aliases"
        constraints = [
            models.UniqueConstraint(
                "role",
                Lower("alias"),
                name="alias_unique_per_role_ci",
                violation_error_message=(
                    "alias: this role already has this alias "
                    "(aliases are compared ignoring case and extra spaces)."
                ),
            ),
            models.CheckConstraint(
                condition=Q(confidence__gte=0, confidence__lte=1),
                name="alias_confidence_0_1",
                violation_error_message="confidence: must be between 0.00 and 1.00.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status="approved", approved_at__isnull=False)
                    | (~Q(status="approved") & Q(approved_at__isnull=True, approved_by__isnull=True))
                ),
                name="alias_approval_consistent",
            ),
        ]
        indexes = [models.Index(fields=["status", "confidence"], name="alias_queue_idx")]

    def __str__(self) -> str:
        return self.alias

    def natural_key(self) -> tuple[str, str]:
        return (self.role.code, self.alias)

    natural_key.dependencies = ["roles.role"]

    @property
    def band(self) -> str:
        return confidence_band(self.confidence)

    def can_transition_to(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, set())


class ClassificationMappingQuerySet(models.QuerySet):
    def get_by_natural_key(self, role_code: str, scheme: str, code: str) -> ClassificationMapping:
        return self.get(role__code=role_code, scheme=scheme, code=code)

    def with_related(self) -> ClassificationMappingQuerySet:
        """Join the role, its node and level, the reference occupation and the reviewer."""
        return self.select_related(
            "role", "role__node", "role__level", "occupation", "reviewed_by"
        )

    def needs_review(self) -> ClassificationMappingQuerySet:
        """Return mappings waiting for a decision."""
        return self.filter(status=ClassificationMapping.Status.NEEDS_REVIEW)

    def approved(self) -> ClassificationMappingQuerySet:
        """Return approved mappings."""
        return self.filter(status=ClassificationMapping.Status.APPROVED)


class ClassificationMapping(Reviewable):
    """A role's place in an official classification, e.g. O*NET / SOC 15-0000."""

    class Scheme(models.TextChoices):
        ONET_SOC = "onet_soc", "O*NET / SOC"

    class Source(models.TextChoices):
        INFERRED_FROM_SUPERFUNCTION = "inferred_from_superfunction", "Inferred from superfunction"
        INFERRED_FROM_FAMILY = "inferred_from_family", "Inferred from family"
        MANUAL = "manual", "Manual"
        IMPORTED = "imported", "Imported"

    class Status(models.TextChoices):
        NEEDS_REVIEW = "needs_review", "Needs review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    TRANSITIONS = {
        Status.NEEDS_REVIEW: {Status.APPROVED, Status.REJECTED},
        Status.APPROVED: {Status.NEEDS_REVIEW},
        Status.REJECTED: {Status.NEEDS_REVIEW},
    }
    CONTENT_FIELDS = ("code",)
    CODE_RE = MAPPING_CODE_RE

    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="mappings")
    scheme = models.CharField(max_length=20, choices=Scheme.choices, default=Scheme.ONET_SOC)
    code = models.CharField(
        max_length=10, help_text="A SOC 2018 code (15-2051) or an O*NET-SOC 2019 code (15-2051.00)."
    )
    occupation = models.ForeignKey(
        "taxonomy.OccupationCode",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="mappings",
        help_text="The official occupation with this code; empty when the code is not in the reference.",
    )
    title = models.CharField(max_length=200, blank=True, help_text="The title as the card gives it.")
    source = models.CharField(max_length=40, choices=Source.choices, default=Source.MANUAL)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.NEEDS_REVIEW, db_index=True
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    previous_code = models.CharField(
        max_length=10, blank=True, help_text="The code before a reviewer refined it."
    )

    objects = ClassificationMappingQuerySet.as_manager()
    history = AuditedHistory()

    class Meta:
        ordering = ["role", "scheme", "code"]
        verbose_name = "classification mapping"
        constraints = [
            models.UniqueConstraint(
                fields=["role", "scheme", "code"],
                name="mapping_unique_role_scheme_code",
                violation_error_message="code: this role already has a mapping to this code.",
            ),
            models.CheckConstraint(
                condition=Q(code__regex=MAPPING_CODE_RE),
                name="mapping_code_format",
                violation_error_message="code: use NN-NNNN (SOC 2018) or NN-NNNN.NN (O*NET-SOC 2019).",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status="needs_review", reviewed_at__isnull=True, reviewed_by__isnull=True)
                    | (~Q(status="needs_review") & Q(reviewed_at__isnull=False))
                ),
                name="mapping_review_consistent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_scheme_display()} {self.code}"

    def clean(self) -> None:
        if self.code and not re.fullmatch(self.CODE_RE, self.code):
            raise ValidationError(
                {"code": f"{self.code!r} is not a SOC code: use NN-NNNN (SOC 2018) or NN-NNNN.NN (O*NET-SOC)."}
            )

    def natural_key(self) -> tuple[str, str, str]:
        return (self.role.code, self.scheme, self.code)

    natural_key.dependencies = ["roles.role", "taxonomy.occupationcode"]

    @staticmethod
    def reference_scheme(code: str) -> str:
        """Return the OccupationCode scheme a mapping code is looked up in."""
        return OccupationCode.Scheme.ONET_SOC_2019 if "." in code else OccupationCode.Scheme.SOC_2018

    @property
    def in_reference(self) -> bool:
        """False when the code is not an official code: such a mapping is flagged for curators."""
        return self.occupation_id is not None

    def can_transition_to(self, status: str) -> bool:
        return status in self.TRANSITIONS.get(self.status, set())
