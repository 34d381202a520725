"""Roles and what a published card says about them: components, title aliases, SOC mappings."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
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
    # Set only by an approved Deprecation (roles.workflow.deprecation), never by an edit form.
    deprecated = models.BooleanField(default=False, editable=False, db_index=True)
    replaced_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaces", editable=False,
        help_text="The role a deprecated role's users should move to.",
    )
    # Set only by an approved split (roles.workflow.restructure): the roles a split role became.
    split_into = models.ManyToManyField(
        "self", through="RoleSplit", through_fields=("role", "successor"), symmetrical=False,
        related_name="split_from", blank=True,
    )

    objects = RoleQuerySet.as_manager()
    history = AuditedHistory()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=ROLE_CODE_RE), name="role_code_format"),
        ]
        indexes = [models.Index(Lower("title"), name="role_title_lower_idx")]

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
    def split_successors(self) -> list[Role]:
        """The roles a split role became, in the split's order (one query; [] for others)."""
        if not self.deprecated or self.replaced_by_id:
            return []
        return [link.successor for link in self.split_links.select_related("successor").in_split_order()]

    @property
    def family_code(self) -> str:
        return self.code.split(".", 1)[0]


class RoleSplitQuerySet(models.QuerySet):
    def in_split_order(self) -> RoleSplitQuerySet:
        """By split role, then in the order the split named its roles: every reader lists them so."""
        return self.order_by("role_id", "position", "pk")

    def get_by_natural_key(self, role_code: str, successor_code: str) -> RoleSplit:
        return self.get(role__code=role_code, successor__code=successor_code)


class RoleSplit(models.Model):
    """One of the roles a split role became (written with the approved split, never edited).

    Both ends are protected: a split role, and the roles it became, are never deleted while the
    link names them, so a release can always say where a split role's users should go.
    """

    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="split_links")
    successor = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField(default=0, help_text="The order the split named them in.")

    objects = RoleSplitQuerySet.as_manager()
    history = AuditedHistory()

    class Meta:
        ordering = ["role", "position", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["role", "successor"], name="rolesplit_once_per_successor"),
            models.CheckConstraint(condition=~Q(role=F("successor")), name="rolesplit_not_itself"),
        ]

    def __str__(self) -> str:
        return f"{self.role_id} → {self.successor_id}"

    def natural_key(self) -> tuple[str, str]:
        return (self.role.code, self.successor.code)

    natural_key.dependencies = ["roles.role"]


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


class DecisionKind(models.TextChoices):
    """What moved a reviewable item from one status to another (the Decision log's vocabulary)."""

    APPROVE = "approve", "Approved"
    REJECT = "reject", "Rejected"
    REOPEN = "reopen", "Reopened"
    REFINE = "refine", "Refined and approved"
    REPLACE = "replace", "Replaced and approved"
    IMPORTED = "imported", "Imported from a card"
    RETURNED = "returned", "Returned to review (content changed)"
    # A double-blind sample (roles.workflow.samples): the draw, and a blind review that moves nothing.
    DRAWN = "drawn", "Drawn for a blind second review"
    VOTE = "vote", "Blind review (in a sample)"


# A reviewer's own verdict on an open item: what a blind review in a sample records.
VERDICT_KINDS = (DecisionKind.APPROVE, DecisionKind.REFINE, DecisionKind.REPLACE, DecisionKind.REJECT)
# Decisions that belong to a sample still being reviewed: hidden from everyone but their actor and leads.
BLIND_KINDS = frozenset({DecisionKind.DRAWN, DecisionKind.VOTE})
# Kinds that approve content on a person's judgement: four-eyes applies to them.
APPROVING_KINDS = frozenset({DecisionKind.APPROVE, DecisionKind.REFINE, DecisionKind.REPLACE})
# Kinds that change the code as they approve: the Decision records the old and the new code.
CODE_CHANGING_KINDS = frozenset({DecisionKind.REFINE, DecisionKind.REPLACE})
# Kinds whose comment is a required reason (an import's names the file).
KINDS_NEEDING_REASON = frozenset(
    {DecisionKind.REJECT, DecisionKind.REOPEN, DecisionKind.REPLACE, DecisionKind.IMPORTED, DecisionKind.RETURNED}
)
# Importing the review states a file claims as decisions: declared on Decision, granted explicitly.
IMPORT_DECISIONS = "roles.import_decisions"


class Reviewable(ChangeTracked):
    """What every reviewable item shares: its creator, its content editors, and who decided it.

    The status itself and its moves are the subclass's (`Status`, `OPEN`, `TRANSITIONS`); every
    write of `status`, `decided_by`, `decided_at` and `content_editors` goes through
    `roles.workflow`, which checks `TRANSITIONS`, four-eyes and the actor's permission, and
    writes the Decision row. `TRANSITIONS` maps (from, to) to the decision kinds that may make
    that move; the system check roles.E001… validates it at start-up.
    """

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    content_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    content_changed_at = models.DateTimeField(null=True, blank=True)
    # The item's authors (roles.workflow.rules): everyone who wrote part of its content, as ",3,7,"
    # (a LIKE finds one). Not serialized: a release holds no user ids.
    content_editors = models.TextField(blank=True, default="", editable=False, serialize=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    # Set by each reviewable model.
    OPEN: str
    TRANSITIONS: dict[tuple[str, str], frozenset[str]]
    CONTENT_FIELDS: tuple[str, ...]
    REVIEW_PERMISSION: str
    # The fields only roles.workflow writes (with a model's deprecation fields, DEPRECATION_FIELDS).
    REVIEW_STATE_FIELDS = ("status", "decided_by", "decided_at", "content_editors")

    class Meta:
        abstract = True

    def can_transition_to(self, status: str, kind: str | None = None) -> bool:
        """Whether the table allows moving from the current status to `status` (by `kind`, if given)."""
        kinds = self.TRANSITIONS.get((self.status, status))
        return bool(kinds) and (kind is None or kind in kinds)

    @property
    def is_open(self) -> bool:
        """Waiting for a decision (pending or needs_review)."""
        return self.status == self.OPEN

    def author_ids(self) -> set[int]:
        """The ids of the item's authors: everyone who wrote part of its current content."""
        return {int(pk) for pk in self.content_editors.split(",") if pk}

    def changed_content(self) -> list[str]:
        """The content fields that differ from what was loaded (all of them for a new item)."""
        changed = set(self.changed_fields())
        return [name for name in self.CONTENT_FIELDS if name in changed]


class TitleAliasQuerySet(models.QuerySet):
    def get_by_natural_key(self, role_code: str, alias: str) -> TitleAlias:
        return self.get(role__code=role_code, alias=alias)

    def with_related(self) -> TitleAliasQuerySet:
        """Join the role, its node and level, and the approver: what alias lists show."""
        return self.select_related("role", "role__node", "role__level", "decided_by")

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

    OPEN = Status.PENDING
    TRANSITIONS = {
        (Status.PENDING, Status.APPROVED): frozenset({DecisionKind.APPROVE, DecisionKind.IMPORTED}),
        (Status.PENDING, Status.REJECTED): frozenset({DecisionKind.REJECT, DecisionKind.IMPORTED}),
        (Status.APPROVED, Status.PENDING): frozenset({DecisionKind.REOPEN, DecisionKind.RETURNED}),
        (Status.REJECTED, Status.PENDING): frozenset({DecisionKind.REOPEN, DecisionKind.RETURNED}),
    }
    # Everything a reviewer judged: a change to any of these sends a decided alias back to review.
    # (roles.E005 checks that every other field is review bookkeeping.)
    CONTENT_FIELDS = ("role", "alias", "alias_type", "confidence", "source")
    # Declared in Meta.permissions below.
    REVIEW_PERMISSION = "roles.review_alias"
    REVIEW_STATE_FIELDS = (*Reviewable.REVIEW_STATE_FIELDS, "deprecated", "replaced_by")

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
    source = models.CharField(max_length=100, default="manual", help_text="e.g. card import, manual.")
    # Set only by an approved Deprecation (roles.workflow.deprecation).
    deprecated = models.BooleanField(default=False, editable=False)
    replaced_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaces", editable=False,
        help_text="The alias to use instead of a deprecated one.",
    )

    objects = TitleAliasQuerySet.as_manager()
    history = AuditedHistory()

    class Meta:
        ordering = ["role", "pk"]
        verbose_name = "title alias"
        verbose_name_plural = "title aliases"
        permissions = [("review_alias", "Can approve, reject and reopen title aliases")]
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
                    Q(status="pending", decided_at__isnull=True, decided_by__isnull=True)
                    | (~Q(status="pending") & Q(decided_at__isnull=False))
                ),
                name="alias_decision_consistent",
            ),
        ]
        indexes = [
            # The queue's order (confidence, then pk) within a status, and across all statuses: with
            # the pk in the index, a page is a range read in order, however many aliases tie on a
            # confidence.
            models.Index(fields=["status", "confidence", "id"], name="alias_queue_key_idx"),
            models.Index(fields=["confidence", "id"], name="alias_confidence_idx"),
            # Aliases of any role spelled alike: the conflict flags and roles.derived look them up.
            models.Index(Lower("alias"), name="alias_lower_idx"),
        ]

    def __str__(self) -> str:
        return self.alias

    def natural_key(self) -> tuple[str, str]:
        return (self.role.code, self.alias)

    natural_key.dependencies = ["roles.role"]

    @property
    def band(self) -> str:
        return confidence_band(self.confidence)


class ClassificationMappingQuerySet(models.QuerySet):
    def get_by_natural_key(self, role_code: str, scheme: str, code: str) -> ClassificationMapping:
        return self.get(role__code=role_code, scheme=scheme, code=code)

    def with_related(self) -> ClassificationMappingQuerySet:
        """Join the role, its node and level, the reference occupation and the reviewer."""
        return self.select_related("role", "role__node", "role__level", "occupation", "decided_by")

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
        SUGGESTED = "suggested", "Suggested by the SOC coder"

    class Status(models.TextChoices):
        NEEDS_REVIEW = "needs_review", "Needs review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    OPEN = Status.NEEDS_REVIEW
    TRANSITIONS = {
        (Status.NEEDS_REVIEW, Status.APPROVED): frozenset(
            {DecisionKind.APPROVE, DecisionKind.REFINE, DecisionKind.REPLACE, DecisionKind.IMPORTED}
        ),
        (Status.NEEDS_REVIEW, Status.REJECTED): frozenset({DecisionKind.REJECT, DecisionKind.IMPORTED}),
        (Status.APPROVED, Status.NEEDS_REVIEW): frozenset({DecisionKind.REOPEN, DecisionKind.RETURNED}),
        (Status.REJECTED, Status.NEEDS_REVIEW): frozenset({DecisionKind.REOPEN, DecisionKind.RETURNED}),
    }
    # Everything a reviewer judged; `occupation` follows from the code, `previous_code` is history.
    CONTENT_FIELDS = ("role", "scheme", "code", "occupation", "title", "source")
    # Declared in Meta.permissions below.
    REVIEW_PERMISSION = "roles.review_mapping"
    REVIEW_STATE_FIELDS = (*Reviewable.REVIEW_STATE_FIELDS, "deprecated")
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
    previous_code = models.CharField(
        max_length=10, blank=True, help_text="The code before a reviewer refined or replaced it."
    )
    # A suggested mapping remembers what suggested it: the coder's score and version.
    suggested_score = models.DecimalField(
        max_digits=5, decimal_places=4, null=True, blank=True, help_text="The SOC coder's score, 0 to 1."
    )
    coder_version = models.CharField(max_length=60, blank=True, help_text="The SOC coder that suggested it.")
    # Set only by an approved Deprecation (roles.workflow.deprecation).
    deprecated = models.BooleanField(default=False, editable=False)

    objects = ClassificationMappingQuerySet.as_manager()
    history = AuditedHistory()

    class Meta:
        ordering = ["role", "scheme", "code"]
        verbose_name = "classification mapping"
        permissions = [("review_mapping", "Can approve, reject, refine, replace and reopen classification mappings")]
        # The mapping queue's "code" sort (status, code, id): its keyset pages read this index in order.
        indexes = [models.Index(fields=["status", "code", "id"], name="mapping_code_key_idx")]
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
                    Q(status="needs_review", decided_at__isnull=True, decided_by__isnull=True)
                    | (~Q(status="needs_review") & Q(decided_at__isnull=False))
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


class Publication(models.Model):
    """That a role, alias or mapping was in a published release: from then on it is deprecated, never deleted.

    Written by publishing before a release is placed (so a crash can only over-protect), one row
    per item, keyed by the item's pk so that a later rename does not lose it.
    """

    ITEM_TYPES = {"role": "Role", "alias": "TitleAlias", "mapping": "ClassificationMapping"}

    item_type = models.CharField(max_length=10, choices=[(k, k) for k in ITEM_TYPES])
    item_id = models.BigIntegerField()
    first_release = models.CharField(max_length=64, help_text="The version of the first release that held it.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item_type", "item_id"], name="publication_once_per_item")]

    def __str__(self) -> str:
        return f"{self.item_type} {self.item_id} (first in {self.first_release})"

    @staticmethod
    def type_of(item: models.Model) -> str | None:
        """"role", "alias" or "mapping" for an item of those models, else None."""
        return {"Role": "role", "TitleAlias": "alias", "ClassificationMapping": "mapping"}.get(type(item).__name__)


class DeprecationQuerySet(models.QuerySet):
    def proposed(self) -> DeprecationQuerySet:
        return self.filter(status=Deprecation.Status.PROPOSED)


class Deprecation(Reviewable):
    """A proposal to deprecate one published role, alias or mapping, optionally naming its replacement.

    A curator proposes it with a reason; a reviewer other than its authors approves or rejects it
    (roles.workflow.deprecation). Approving it marks the item deprecated, with its replacement, in
    the same transaction: published items are deprecated, never deleted, so a release can say
    what went and what replaces it. A reinstatement, reviewed the same way, undoes an approved
    plain deprecation: an item is deprecated exactly when its last approved proposal is not one.
    """

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    class Kind(models.TextChoices):
        DEPRECATE = "deprecate", "Deprecate"
        MERGE = "merge", "Merge into another role"
        SPLIT = "split", "Split into other roles"
        # Undoes an approved plain deprecation: the item is live again, without replacement.
        REINSTATE = "reinstate", "Reinstate"

    OPEN = Status.PROPOSED
    # Final once decided: an approved deprecation is undone by an approved reinstatement, never by an
    # edit; a rejected one is followed by a new proposal.
    TRANSITIONS = {
        (Status.PROPOSED, Status.APPROVED): frozenset({DecisionKind.APPROVE}),
        (Status.PROPOSED, Status.REJECTED): frozenset({DecisionKind.REJECT}),
    }
    CONTENT_FIELDS = ("kind", "role", "alias", "mapping", "replaced_by_role", "replaced_by_alias", "plan", "reason")
    REVIEW_PERMISSION = "roles.review_deprecation"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.DEPRECATE)

    role = models.ForeignKey(Role, null=True, blank=True, on_delete=models.CASCADE, related_name="deprecations")
    alias = models.ForeignKey(
        TitleAlias, null=True, blank=True, on_delete=models.CASCADE, related_name="deprecations"
    )
    mapping = models.ForeignKey(
        ClassificationMapping, null=True, blank=True, on_delete=models.CASCADE, related_name="deprecations"
    )
    replaced_by_role = models.ForeignKey(
        Role, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name="replaced by (role)"
    )
    replaced_by_alias = models.ForeignKey(
        TitleAlias, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        verbose_name="replaced by (alias)",
    )
    reason = models.TextField(help_text="Why it goes: shown to reviewers and kept in the history.")
    # A split's plan: {"targets": [role pk, ...], "aliases": {pk: role pk}, "components": {pk: role pk}}.
    # A merge's moves follow from the two roles when it is approved; a plain deprecation has none.
    plan = models.JSONField(default=dict, blank=True, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED, db_index=True)

    objects = DeprecationQuerySet.as_manager()
    history = AuditedHistory()

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [("review_deprecation", "Can approve and reject deprecations")]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(role__isnull=False, alias__isnull=True, mapping__isnull=True)
                    | Q(role__isnull=True, alias__isnull=False, mapping__isnull=True)
                    | Q(role__isnull=True, alias__isnull=True, mapping__isnull=False)
                ),
                name="deprecation_exactly_one_item",
                violation_error_message="A deprecation is of exactly one role, alias or mapping.",
            ),
            models.CheckConstraint(
                condition=Q(replaced_by_role__isnull=True) | Q(role__isnull=False),
                name="deprecation_role_replacement",
                violation_error_message="replaced_by_role: only a role is replaced by a role.",
            ),
            models.CheckConstraint(
                condition=Q(replaced_by_alias__isnull=True) | Q(alias__isnull=False),
                name="deprecation_alias_replacement",
                violation_error_message="replaced_by_alias: only an alias is replaced by an alias.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind="deprecate")
                    | Q(kind="reinstate", replaced_by_role__isnull=True, replaced_by_alias__isnull=True)
                    | Q(kind="merge", role__isnull=False, replaced_by_role__isnull=False)
                    | Q(kind="split", role__isnull=False, replaced_by_role__isnull=True)
                ),
                name="deprecation_kind_items",
                violation_error_message="A merge names the role it goes into; a split names none (its plan "
                                        "does), nor does a reinstatement.",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="deprecation_reason_required",
                                   violation_error_message="reason: say why it is deprecated."),
            # One open proposal per item: two curators never race two proposals. (Approved ones alternate,
            # deprecation then reinstatement: the workflow checks the item's flag under its row lock.)
            *(
                models.UniqueConstraint(
                    fields=[field], condition=Q(status="proposed"),
                    name=f"deprecation_one_open_per_{field}",
                    violation_error_message=f"{field}: a proposal to deprecate or reinstate it is already open.",
                )
                for field in ("role", "alias", "mapping")
            ),
            models.CheckConstraint(
                condition=(
                    Q(status="proposed", decided_at__isnull=True, decided_by__isnull=True)
                    | (~Q(status="proposed") & Q(decided_at__isnull=False))
                ),
                name="deprecation_review_consistent",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.MERGE:
            return f"Merge of {self.target_label} into {self.replaced_by_role.code}"
        if self.kind == self.Kind.SPLIT:
            return f"Split of {self.target_label}"
        if self.kind == self.Kind.REINSTATE:
            return f"Reinstatement of {self.target_label}"
        return f"Deprecation of {self.target_label}"

    @property
    def target(self) -> Role | TitleAlias | ClassificationMapping:
        if self.role_id is not None:
            return self.role
        return self.alias if self.alias_id is not None else self.mapping

    @property
    def replacement(self) -> Role | TitleAlias | None:
        return self.replaced_by_role if self.replaced_by_role_id is not None else self.replaced_by_alias

    @property
    def target_label(self) -> str:
        if self.role_id is not None:
            return f"role {self.role.code}"
        if self.alias_id is not None:
            return f"alias “{self.alias.alias}” of {self.alias.role.code}"
        return f"mapping {self.mapping.code} of {self.mapping.role.code}"

    def get_absolute_url(self) -> str:
        return reverse("admin:roles_deprecation_change", args=[self.pk])


class DecisionQuerySet(models.QuerySet):
    def with_related(self) -> DecisionQuerySet:
        """Join the actor and the decided item with its role: what the decision log shows."""
        return self.select_related("actor", "alias", "alias__role", "mapping", "mapping__role")

    def by(self, user) -> DecisionQuerySet:
        """Return the decisions `user` made ("my decisions")."""
        return self.filter(actor=user)

    def reviews(self) -> DecisionQuerySet:
        """Return reviewers' decisions: not the returns that content edits cause, nor imports."""
        return self.exclude(decision__in=[DecisionKind.RETURNED, DecisionKind.IMPORTED])

    def since(self, when) -> DecisionQuerySet:
        """Return decisions made at or after `when`."""
        return self.filter(created_at__gte=when)

    def last_days(self, days: int = 7) -> DecisionQuerySet:
        """Return decisions made in the last `days` days (counted back from now)."""
        return self.since(timezone.now() - timedelta(days=days))

    def visible_to(self, user) -> DecisionQuerySet:
        """Hide the draw and the blind reviews of samples still under review from all but their actor:
        the second reviewer, lead or not, must not see the first decision. A disputed sample's reviews
        are shown to leads, who settle it."""
        hidden = sorted(Sample.OPEN_STATES)
        if user.has_perm(LEAD_REVIEW):
            hidden = [SampleState.AWAITING]
        return self.exclude(Q(decision__in=sorted(BLIND_KINDS), sample__state__in=hidden) & ~Q(actor_id=user.pk))

    def for_item(self, item: Reviewable) -> DecisionQuerySet:
        """Return the decisions on one alias or mapping, newest first."""
        return self.filter(**{Decision.item_field(type(item)): item}).order_by("-created_at", "-pk")


class Decision(models.Model):
    """One move of exactly one alias or mapping between review states, by whom and why.

    Written only by roles.workflow, in the same transaction as the item's own history row.
    The item's history records the same change; this table is the queryable log ("my
    decisions", "decided in the last 7 days", "who decided this and when"). The table keeps
    the name it had when the log lived in the review app.
    """

    Kind = DecisionKind
    NEEDS_REASON = tuple(KINDS_NEEDING_REASON)

    # Deleting an item deletes its decisions; the item's history keeps the deletion row.
    alias = models.ForeignKey(
        TitleAlias, null=True, blank=True, on_delete=models.CASCADE, related_name="decisions"
    )
    mapping = models.ForeignKey(
        ClassificationMapping, null=True, blank=True, on_delete=models.CASCADE, related_name="decisions"
    )
    deprecation = models.ForeignKey(
        "Deprecation", null=True, blank=True, on_delete=models.CASCADE, related_name="decisions"
    )
    decision = models.CharField(max_length=10, choices=DecisionKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    comment = models.TextField(
        blank=True, help_text="The reviewer's comment, or the reason to reject, reopen or change."
    )
    from_status = models.CharField(max_length=20)
    to_status = models.CharField(max_length=20)
    old_code = models.CharField(max_length=10, blank=True, help_text="Refine: the code before.")
    new_code = models.CharField(max_length=10, blank=True, help_text="Refine: the code after.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # In a double-blind sample: the sample, and what this reviewer decided (a blind review moves
    # nothing, so its verdict is kept here; `new_code` is the code the verdict leads to).
    sample = models.ForeignKey(
        "Sample", null=True, blank=True, on_delete=models.CASCADE, related_name="decisions"
    )
    verdict = models.CharField(
        max_length=10, blank=True, choices=[(k.value, k.label) for k in VERDICT_KINDS],
        help_text="In a sample: the reviewer's verdict (approve, refine, replace, reject).",
    )

    objects = DecisionQuerySet.as_manager()

    class Meta:
        db_table = "review_decision"
        ordering = ["-created_at", "-pk"]
        # An explicit grant (roles.workflow.holds_explicitly): superuser status never implies it.
        permissions = [
            ("import_decisions", "Can import the review states a file claims (approved, rejected) as decisions"),
            ("lead_review", "Can decide items other reviewers hold, and adjudicate"),
        ]
        get_latest_by = "created_at"
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(alias__isnull=False, mapping__isnull=True, deprecation__isnull=True)
                    | Q(alias__isnull=True, mapping__isnull=False, deprecation__isnull=True)
                    | Q(alias__isnull=True, mapping__isnull=True, deprecation__isnull=False)
                ),
                name="decision_exactly_one_item",
                violation_error_message="A decision is about exactly one alias, mapping or deprecation.",
            ),
            models.CheckConstraint(
                condition=~Q(decision__in=sorted(KINDS_NEEDING_REASON)) | ~Q(comment=""),
                name="decision_reason_required",
                violation_error_message="Rejecting, reopening, importing or changing needs a reason.",
            ),
            models.CheckConstraint(
                condition=~Q(decision__in=["refine", "replace"]) | (~Q(old_code="") & ~Q(new_code="")),
                name="decision_refine_codes",
                violation_error_message="A refinement or a replacement records the old and the new code.",
            ),
        ]
        indexes = [
            # "My decisions", newest first.
            models.Index(fields=["actor", "-created_at"], name="decision_actor_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} {self.item} by {self.actor_id} at {self.created_at:%Y-%m-%d %H:%M}"

    @staticmethod
    def item_field(model: type[Reviewable]) -> str:
        """The foreign key a decision on a `model` item fills: "alias" or "mapping"."""
        return {TitleAlias: "alias", ClassificationMapping: "mapping", Deprecation: "deprecation"}[model]

    @property
    def item(self) -> TitleAlias | ClassificationMapping | Deprecation:
        if self.alias_id is not None:
            return self.alias
        return self.mapping if self.mapping_id is not None else self.deprecation

    @property
    def item_kind(self) -> str:
        if self.alias_id is not None:
            return "alias"
        return "mapping" if self.mapping_id is not None else "deprecation"


class AssignmentQuerySet(models.QuerySet):
    def for_user(self, user) -> AssignmentQuerySet:
        """The assignments to `user`, directly or through one of their groups."""
        return self.filter(Q(reviewer=user) | Q(group__in=user.groups.all()))

    def with_related(self) -> AssignmentQuerySet:
        return self.select_related("node", "reviewer", "group")


class Assignment(ChangeTracked):
    """A family or a specialization given to a reviewer or a group, optionally due by a day.

    "Review next" draws from the reviewer's assignments first; the queues filter on "assigned to
    me" and flag items under an assignment past its due date; the dashboard counts what waits
    under each assignment.
    """

    node = models.ForeignKey(
        "taxonomy.TaxonomyNode", on_delete=models.PROTECT, related_name="assignments",
        limit_choices_to={"kind__in": ["family", "specialization"]},
        help_text="A family (every role under it) or a specialization.",
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    group = models.ForeignKey("auth.Group", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    due_date = models.DateField(null=True, blank=True, help_text="Items still open after this day are overdue.")
    note = models.CharField(max_length=200, blank=True)

    history = AuditedHistory()
    objects = AssignmentQuerySet.as_manager()

    class Meta:
        ordering = ["node__code", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reviewer__isnull=False, group__isnull=True) | Q(reviewer__isnull=True, group__isnull=False),
                name="assignment_reviewer_or_group",
                violation_error_message="Assign to a reviewer or to a group, not both.",
            ),
            models.UniqueConstraint(fields=["node", "reviewer"], name="assignment_unique_reviewer",
                                    violation_error_message="This reviewer already has this assignment."),
            models.UniqueConstraint(fields=["node", "group"], name="assignment_unique_group",
                                    violation_error_message="This group already has this assignment."),
        ]

    def __str__(self) -> str:
        who = self.reviewer.get_username() if self.reviewer_id else (self.group.name if self.group_id else "?")
        return f"{self.node.code} → {who}"

    def clean(self) -> None:
        if self.node_id and self.node.kind not in ("family", "specialization"):
            raise ValidationError({"node": "Assign a family or a specialization."})

    def covers(self, prefix: str = "role__") -> Q:
        """The filter for items (with `prefix` to their role) under this assignment's node."""
        if self.node.kind == "family":
            return Q(**{f"{prefix}node__parent_id": self.node_id})
        return Q(**{f"{prefix}node_id": self.node_id})


# The lead reviewer's permission (held by the Lead reviewers group): may decide an item another
# reviewer holds, which takes it over.
LEAD_REVIEW = "roles.lead_review"


class LeaseQuerySet(models.QuerySet):
    def live(self, at=None) -> LeaseQuerySet:
        return self.filter(expires_at__gt=at or timezone.now())

    def of(self, model: type[Reviewable]) -> LeaseQuerySet:
        return self.filter(**{f"{Decision.item_field(model)}__isnull": False})


class Lease(models.Model):
    """A reviewer's hold on one open item, taken by "Review next", until it expires or is decided.

    Operational state, not curated data: no history. One row per item at most (the one-to-one
    keys), so no item is ever held twice; an expired row is replaced by the next taker. Written
    only by roles.workflow.
    """

    alias = models.OneToOneField(
        TitleAlias, null=True, blank=True, on_delete=models.CASCADE, related_name="lease"
    )
    mapping = models.OneToOneField(
        ClassificationMapping, null=True, blank=True, on_delete=models.CASCADE, related_name="lease"
    )
    holder = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    taken_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    objects = LeaseQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(alias__isnull=False, mapping__isnull=True) | Q(alias__isnull=True, mapping__isnull=False)
                ),
                name="lease_exactly_one_item",
                violation_error_message="A lease holds exactly one alias or one mapping.",
            ),
        ]
        indexes = [models.Index(fields=["holder", "expires_at"], name="lease_holder_idx")]

    def __str__(self) -> str:
        return f"{self.alias_id or self.mapping_id} held by {self.holder_id} until {self.expires_at:%H:%M}"


class SampleState(models.TextChoices):
    AWAITING = "awaiting", "Awaiting a second, blind review"
    DISPUTED = "disputed", "Disputed: a lead adjudicates"
    AGREED = "agreed", "Settled: both reviewers agreed"
    ADJUDICATED = "adjudicated", "Settled by a lead"
    VOID = "void", "Void: the item changed before it was settled"


class SampleQuerySet(models.QuerySet):
    def open(self) -> SampleQuerySet:
        """Samples still under review: awaiting their second review, or disputed."""
        return self.filter(state__in=Sample.OPEN_STATES)

    def measured(self) -> SampleQuerySet:
        """Samples with both blind reviews in: what the agreement figures count."""
        return self.filter(state__in=Sample.MEASURED_STATES)

    def of(self, model: type[Reviewable]) -> SampleQuerySet:
        return self.filter(**{f"{Decision.item_field(model)}__isnull": False})


class Sample(ChangeTracked):
    """An item drawn for a second, independent review (REVIEW_SAMPLE_SHARE of reviewers' decisions).

    The first reviewer's decision is recorded as a blind review (a VOTE Decision) and the item
    stays open. A second reviewer, who does not see the first decision and is neither the first
    reviewer nor an author, decides it: when the two agree that decision settles the item; when
    they disagree it waits for a lead, whose decision settles it. The draw, both reviews and the
    settling decision are Decision rows pointing here. `item_version` is the item's version the
    reviews are about: a sample whose item changed since is void. Written only by roles.workflow.
    """

    State = SampleState
    OPEN_STATES = (SampleState.AWAITING, SampleState.DISPUTED)
    MEASURED_STATES = (SampleState.DISPUTED, SampleState.AGREED, SampleState.ADJUDICATED)

    alias = models.ForeignKey(TitleAlias, null=True, blank=True, on_delete=models.CASCADE, related_name="samples")
    mapping = models.ForeignKey(
        ClassificationMapping, null=True, blank=True, on_delete=models.CASCADE, related_name="samples"
    )
    state = models.CharField(max_length=12, choices=SampleState.choices, default=SampleState.AWAITING)
    item_version = models.PositiveIntegerField(help_text="The item's version both reviews are about.")
    first_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    second_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    settled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    drawn_at = models.DateTimeField(default=timezone.now)
    settled_at = models.DateTimeField(null=True, blank=True)

    history = AuditedHistory()
    objects = SampleQuerySet.as_manager()

    class Meta:
        ordering = ["-drawn_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(alias__isnull=False, mapping__isnull=True) | Q(alias__isnull=True, mapping__isnull=False)
                ),
                name="sample_exactly_one_item",
                violation_error_message="A sample is about exactly one alias or one mapping.",
            ),
            models.CheckConstraint(
                condition=Q(second_by__isnull=True) | ~Q(second_by=models.F("first_by")),
                name="sample_two_reviewers",
                violation_error_message="A sample's two reviews are by two different reviewers.",
            ),
            # One sample under review per item at a time.
            models.UniqueConstraint(fields=["alias"], condition=Q(state__in=["awaiting", "disputed"]),
                                    name="sample_one_open_per_alias"),
            models.UniqueConstraint(fields=["mapping"], condition=Q(state__in=["awaiting", "disputed"]),
                                    name="sample_one_open_per_mapping"),
        ]
        indexes = [models.Index(fields=["state", "first_by"], name="sample_state_first_idx")]

    def __str__(self) -> str:
        return f"Sample of {Decision.item_field(type(self.item))} {self.alias_id or self.mapping_id} ({self.state})"

    @property
    def item(self) -> TitleAlias | ClassificationMapping:
        return self.alias if self.alias_id is not None else self.mapping

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES


class RoleSuggestions(models.Model):
    """The SOC coder's latest suggestions for a role: a cache, rebuilt when the role's text changes.

    Not curated data (no history): computed from the role by `roles.soc`, keyed on the coder's
    version and a hash of the text the coder read. The codes are also kept as ",code,…" text so
    the review queue can filter on them in SQL ("disagrees with the coder").
    """

    role = models.OneToOneField(Role, on_delete=models.CASCADE, related_name="suggestions")
    coder_version = models.CharField(max_length=60)
    content_hash = models.CharField(max_length=64)
    suggestions = models.JSONField(default=list, help_text="[{code, title, score, evidence}], best first.")
    top_codes = models.TextField(blank=True, help_text="The suggested detailed codes, as ',15-2051,15-1221,'.")
    top3_lineage = models.TextField(
        blank=True, help_text="The best three codes and every group above them, as ',15-0000,15-2000,…,'."
    )
    confident_code = models.CharField(
        max_length=10, blank=True,
        help_text="The best code when the coder is confident (its calibrated score reaches the threshold of "
                  "90 % top-1 precision), else empty.",
    )
    unsure = models.BooleanField(
        default=False, help_text="The coder's best score is low, or its best two codes are too close to call."
    )
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "role suggestions"
        verbose_name_plural = "role suggestions"

    def __str__(self) -> str:
        return f"suggestions for {self.role_id} ({self.coder_version})"


# ---------------------------------------------------------------------------------------------
# Derived data: computed from the curated rows by roles.derived, never edited, no history.


class AliasSignals(models.Model):
    """The flags of one alias (roles.flags), stored so the queue filters by them with an index.

    Not curated data: roles.derived recomputes the row whenever the alias, a sibling, an alias of
    another role with the same text, a role's title or the role's approved mappings change.
    `confidence` repeats the alias's, so each flag's partial index serves the queue's order.
    """

    # No database constraint: a refresh racing a delete may write a row for an alias on its way out;
    # such a row joins nothing and the next rebuild drops it (the ORM still cascades deletes).
    alias = models.OneToOneField(
        TitleAlias, on_delete=models.CASCADE, primary_key=True, related_name="signals", db_constraint=False
    )
    confidence = models.DecimalField(max_digits=3, decimal_places=2)
    conflict = models.BooleanField(default=False)
    role_title = models.BooleanField(default=False)
    near_duplicate = models.BooleanField(default=False)
    level = models.BooleanField(default=False)
    reference_elsewhere = models.BooleanField(default=False)
    # What each raised flag says ({code: detail}, roles.flags.Flag.detail): the queue shows it as stored.
    details = models.JSONField(default=dict, blank=True)

    FLAGS = ("conflict", "role_title", "near_duplicate", "level", "reference_elsewhere")

    class Meta:
        verbose_name = "alias signals"
        verbose_name_plural = "alias signals"
        indexes = [
            models.Index(fields=["confidence", "alias"], condition=Q(**{flag: True}), name=f"signals_{short}_idx")
            for flag, short in (("conflict", "conflict"), ("role_title", "title"), ("near_duplicate", "neardup"),
                                ("level", "level"), ("reference_elsewhere", "reference"))
        ]

    def __str__(self) -> str:
        return f"signals of alias {self.alias_id}"


class RoleDigest(models.Model):
    """Per role: review counts and the text the directory searches, kept current by roles.derived.

    The dashboard sums these rows (one per role) instead of counting every alias, and the role
    directory searches `search_text` (code, title and every alias, lower case) instead of the
    alias table.
    """

    # No database constraint and no cascade: a deleted role's digest stays until the refresh that
    # follows the delete takes its counts out of the tallies and then deletes it.
    role = models.OneToOneField(
        Role, on_delete=models.DO_NOTHING, primary_key=True, related_name="digest", db_constraint=False
    )
    aliases_pending = models.PositiveIntegerField(default=0)
    aliases_approved = models.PositiveIntegerField(default=0)
    aliases_rejected = models.PositiveIntegerField(default=0)
    pending_low = models.PositiveIntegerField(default=0)
    pending_medium = models.PositiveIntegerField(default=0)
    pending_high = models.PositiveIntegerField(default=0)
    pending_reference_elsewhere = models.PositiveIntegerField(default=0)
    mappings_needs_review = models.PositiveIntegerField(default=0)
    mappings_approved = models.PositiveIntegerField(default=0)
    mappings_rejected = models.PositiveIntegerField(default=0)
    search_text = models.TextField(blank=True, default="")
    # Where the counts were tallied (ReviewTally), so a role that moves is taken out of the old place.
    family_code = models.CharField(max_length=40, blank=True, default="")
    level_code = models.CharField(max_length=10, blank=True, default="")

    COUNTS = (
        "aliases_pending", "aliases_approved", "aliases_rejected", "pending_low", "pending_medium", "pending_high",
        "pending_reference_elsewhere", "mappings_needs_review", "mappings_approved", "mappings_rejected",
    )

    class Meta:
        verbose_name = "role digest"
        verbose_name_plural = "role digests"

    def __str__(self) -> str:
        return f"digest of role {self.role_id}"


class ReviewTally(models.Model):
    """The role digests summed: over every role ("all"), per family and per level.

    Kept by roles.derived, by the difference each digest refresh makes (one refresher at a time),
    so the dashboard reads a few rows whatever the number of roles.
    """

    class Scope(models.TextChoices):
        ALL = "all", "All roles"
        FAMILY = "family", "Family"
        LEVEL = "level", "Level"

    scope = models.CharField(max_length=10, choices=Scope.choices)
    key = models.CharField(max_length=40, blank=True, default="")
    aliases_pending = models.IntegerField(default=0)
    aliases_approved = models.IntegerField(default=0)
    aliases_rejected = models.IntegerField(default=0)
    pending_low = models.IntegerField(default=0)
    pending_medium = models.IntegerField(default=0)
    pending_high = models.IntegerField(default=0)
    pending_reference_elsewhere = models.IntegerField(default=0)
    mappings_needs_review = models.IntegerField(default=0)
    mappings_approved = models.IntegerField(default=0)
    mappings_rejected = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="review_tally_scope_key")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}".strip()


class DerivedQueue(models.Model):
    """What a write made stale: a role (its aliases' flags, its digest) or an alias text (lower case).

    Writers only insert here, in their own transaction; roles.derived works the queue off after
    commit, one worker at a time, so no writer ever waits for another's derived rows.
    """

    role_id = models.BigIntegerField(null=True, blank=True)
    text = models.CharField(max_length=200, blank=True, default="")

    def __str__(self) -> str:
        return f"stale: role {self.role_id}" if self.role_id else f"stale: text {self.text!r}"


class DerivedState(models.Model):
    """The fingerprint of what the stored derived rows were computed with (settings, version)."""

    name = models.CharField(max_length=40, primary_key=True)
    fingerprint = models.CharField(max_length=64)
    built_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name}: {self.fingerprint[:12]}"
