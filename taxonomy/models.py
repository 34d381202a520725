"""Levels, the role taxonomy tree, and the official occupation classifications (SOC 2018, O*NET-SOC)."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from framework.audit import AuditedHistory, ChangeTracked

LEVEL_CODE_RE = r"^[A-Z][0-9]{1,2}$"
SOC_CODE_RE = r"^[0-9]{2}-[0-9]{4}$"
ONET_SOC_CODE_RE = r"^[0-9]{2}-[0-9]{4}\.[0-9]{2}$"


class LevelQuerySet(models.QuerySet):
    def get_by_natural_key(self, code: str) -> Level:
        return self.get(code=code)


class Level(ChangeTracked):
    """A career level such as P1 "Entry-Level Professional", with its seven attributes."""

    code = models.CharField(
        max_length=3,
        unique=True,
        help_text="Track letter and rank, e.g. P1 (professional) or M2 (management).",
    )
    name = models.CharField(max_length=100)
    summary = models.CharField(max_length=300, blank=True, help_text="The one-line description.")
    track = models.CharField(max_length=1, editable=False, help_text="The letter of the code.")
    rank = models.PositiveSmallIntegerField(help_text="Order within the track: P1 < P2 < …")
    scope = models.TextField(blank=True)
    autonomy = models.TextField(blank=True)
    complexity = models.TextField(blank=True)
    impact = models.TextField(blank=True)
    decision_rights = models.TextField(blank=True)
    leadership = models.TextField(blank=True)
    typical_experience = models.CharField(max_length=100, blank=True)

    objects = LevelQuerySet.as_manager()
    history = AuditedHistory()

    # The card's seven attribute rows, in printed order: (field name, printed label).
    ATTRIBUTES = (
        ("scope", "Scope"),
        ("autonomy", "Autonomy"),
        ("complexity", "Complexity"),
        ("impact", "Impact"),
        ("decision_rights", "Decision rights"),
        ("leadership", "Leadership"),
        ("typical_experience", "Typical experience"),
    )

    class Meta:
        ordering = ["track", "rank"]
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=LEVEL_CODE_RE), name="level_code_format"),
            models.UniqueConstraint(fields=["track", "rank"], name="level_unique_track_rank"),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"

    def save(self, *args, **kwargs):
        # track is the code's letter: derived, kept in a column so queries can group by it.
        self.track = self.code[:1]
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if not re.fullmatch(LEVEL_CODE_RE, self.code or ""):
            raise ValidationError({"code": "A level code is a capital letter and a number, e.g. P1 or M2."})
        if self.rank is not None and self.code[1:] != str(self.rank):
            raise ValidationError({"rank": f"The rank of {self.code} is {self.code[1:]}."})

    def natural_key(self) -> tuple[str]:
        return (self.code,)


class TaxonomyNodeQuerySet(models.QuerySet):
    def get_by_natural_key(self, code: str) -> TaxonomyNode:
        return self.get(code=code)

    def families(self) -> TaxonomyNodeQuerySet:
        """Return the family nodes."""
        return self.filter(kind=TaxonomyNode.Kind.FAMILY)

    def specializations(self) -> TaxonomyNodeQuerySet:
        """Return the specialization nodes."""
        return self.filter(kind=TaxonomyNode.Kind.SPECIALIZATION)


class TaxonomyNode(ChangeTracked):
    """A node of the role tree: superfunction → function → family → specialization.

    Specializations are coded with their family, e.g. ``AIMLAM.GEN``, since a short
    specialization code such as GEN recurs under many families.
    """

    class Kind(models.TextChoices):
        SUPERFUNCTION = "superfunction", "Superfunction"
        FUNCTION = "function", "Function"
        FAMILY = "family", "Family"
        SPECIALIZATION = "specialization", "Specialization"

    # The kind a parent must have, per kind: the tree's shape as data.
    PARENT_KIND = {
        Kind.SUPERFUNCTION: None,
        Kind.FUNCTION: Kind.SUPERFUNCTION,
        Kind.FAMILY: Kind.FUNCTION,
        Kind.SPECIALIZATION: Kind.FAMILY,
    }
    DEPTH = {Kind.SUPERFUNCTION: 0, Kind.FUNCTION: 1, Kind.FAMILY: 2, Kind.SPECIALIZATION: 3}

    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, db_index=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    default_soc = models.ForeignKey(
        "taxonomy.OccupationCode",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="default SOC code",
        help_text="Roles under this node inherit this mapping until a reviewer refines it.",
    )

    objects = TaxonomyNodeQuerySet.as_manager()
    history = AuditedHistory()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=~Q(parent=models.F("pk")), name="node_not_own_parent"),
        ]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"

    def clean(self) -> None:
        errors = {}
        # A family may stand without its function while curators fill in the upper levels.
        if self.parent_id is not None and self.parent.kind != self.PARENT_KIND.get(self.kind):
            errors["parent"] = (
                f"A {self.get_kind_display().lower()} sits under a "
                f"{self.PARENT_KIND.get(self.kind) or 'nothing'}, not a {self.parent.kind}."
            )
        if self.kind == self.Kind.SPECIALIZATION and "." not in (self.code or ""):
            errors["code"] = "A specialization code includes its family, e.g. AIMLAM.GEN."
        if errors:
            raise ValidationError(errors)

    def natural_key(self) -> tuple[str]:
        return (self.code,)

    natural_key.dependencies = ["taxonomy.occupationcode"]


class OccupationCodeQuerySet(models.QuerySet):
    def get_by_natural_key(self, scheme: str, code: str) -> OccupationCode:
        return self.get(scheme=scheme, code=code)

    def soc(self) -> OccupationCodeQuerySet:
        """Return the SOC 2018 rows."""
        return self.filter(scheme=OccupationCode.Scheme.SOC_2018)

    def detailed(self) -> OccupationCodeQuerySet:
        """Return the SOC 2018 detailed occupations."""
        return self.soc().filter(level=OccupationCode.Level.DETAILED)

    def ancestors(self, pk: int) -> list[OccupationCode]:
        """Return [occupation, parent, grandparent, …] up to the major group, in one query.

        Raises OccupationCode.DoesNotExist for an unknown pk.
        """
        # An O*NET-SOC occupation sits four levels below its major group.
        occupation = self.select_related("parent__parent__parent__parent").get(pk=pk)
        chain = [occupation]
        while chain[-1].parent_id is not None and len(chain) < 5:
            chain.append(chain[-1].parent)
        return chain


class OccupationCode(ChangeTracked):
    """An official occupation: a SOC 2018 group or occupation, or an O*NET-SOC 2019 occupation."""

    class Scheme(models.TextChoices):
        SOC_2018 = "soc2018", "SOC 2018"
        ONET_SOC_2019 = "onet2019", "O*NET-SOC 2019"

    class Level(models.TextChoices):
        MAJOR = "major", "Major group"
        MINOR = "minor", "Minor group"
        BROAD = "broad", "Broad occupation"
        DETAILED = "detailed", "Detailed occupation"
        ONET = "onet", "O*NET-SOC occupation"

    CODE_FORMAT = {Scheme.SOC_2018: SOC_CODE_RE, Scheme.ONET_SOC_2019: ONET_SOC_CODE_RE}

    scheme = models.CharField(max_length=10, choices=Scheme.choices)
    code = models.CharField(max_length=10)
    title = models.CharField(max_length=200)
    level = models.CharField(max_length=10, choices=Level.choices, db_index=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )

    objects = OccupationCodeQuerySet.as_manager()
    history = AuditedHistory()

    class Meta:
        ordering = ["scheme", "code"]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "code"], name="occupation_unique_scheme_code"),
            models.CheckConstraint(
                condition=(
                    Q(scheme="soc2018", code__regex=SOC_CODE_RE)
                    | Q(scheme="onet2019", code__regex=ONET_SOC_CODE_RE)
                ),
                name="occupation_code_format",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"

    def natural_key(self) -> tuple[str, str]:
        return (self.scheme, self.code)

    @property
    def is_detailed(self) -> bool:
        return self.level in (self.Level.DETAILED, self.Level.ONET)

    @property
    def is_group_level(self) -> bool:
        """A major, minor or broad SOC group: approving a mapping to it needs an explicit confirmation."""
        return self.level in (self.Level.MAJOR, self.Level.MINOR, self.Level.BROAD)



class ReferenceTitleQuerySet(models.QuerySet):
    def matching(self, texts) -> ReferenceTitleQuerySet:
        """Return the reference titles equal to any of `texts`, ignoring case."""
        return self.filter(title_lower__in={t.lower() for t in texts})


class ReferenceTitle(models.Model):
    """A job title an official source files under a detailed SOC code: O*NET alternate titles, BLS direct matches.

    Reference data, loaded from fixtures/reference/ by `manage.py build_coder` (the coder reads
    the same files), never edited here: no history. Used to say under which code an alias is
    already known.
    """

    class Source(models.TextChoices):
        ONET_ALTERNATE = "onet_alternate", "O*NET alternate title"
        BLS_DIRECT_MATCH = "bls_direct_match", "BLS direct-match title"

    title = models.CharField(max_length=300)
    title_lower = models.CharField(max_length=300, db_index=True, editable=False)
    soc_code = models.CharField(max_length=7, help_text="The detailed SOC 2018 code, NN-NNNN.")
    onet_code = models.CharField(max_length=10, blank=True, help_text="The O*NET-SOC code, when O*NET files it.")
    source = models.CharField(max_length=20, choices=Source.choices)

    objects = ReferenceTitleQuerySet.as_manager()

    class Meta:
        ordering = ["title_lower", "soc_code"]
        constraints = [
            models.UniqueConstraint(fields=["title_lower", "soc_code", "source"], name="reference_title_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} “{self.title}” ({self.onet_code or self.soc_code})"
