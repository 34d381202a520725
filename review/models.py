"""The decision log: one row per review decision on a title alias or a classification mapping."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from roles.models import ClassificationMapping, TitleAlias


class DecisionQuerySet(models.QuerySet):
    def with_related(self) -> DecisionQuerySet:
        """Join the actor and the decided item with its role: what the decision log shows."""
        return self.select_related("actor", "alias", "alias__role", "mapping", "mapping__role")

    def by(self, user) -> DecisionQuerySet:
        """Return the decisions `user` made ("my decisions")."""
        return self.filter(actor=user)

    def since(self, when) -> DecisionQuerySet:
        """Return decisions made at or after `when`."""
        return self.filter(created_at__gte=when)

    def last_days(self, days: int = 7) -> DecisionQuerySet:
        """Return decisions made in the last `days` days (counted back from now)."""
        return self.since(timezone.now() - timedelta(days=days))

    def for_item(self, item: TitleAlias | ClassificationMapping) -> DecisionQuerySet:
        """Return the decisions on one alias or mapping, newest first."""
        field = "alias" if isinstance(item, TitleAlias) else "mapping"
        return self.filter(**{field: item}).order_by("-created_at", "-pk")


class Decision(models.Model):
    """A reviewer's decision on exactly one alias or mapping, with the move it made.

    The item's own history row records the same change; this table is the queryable log
    ("my decisions", "decided in the last 7 days", "who decided this and when").
    """

    class Kind(models.TextChoices):
        APPROVE = "approve", "Approved"
        REJECT = "reject", "Rejected"
        REOPEN = "reopen", "Reopened"
        REFINE = "refine", "Refined and approved"

    # Decisions whose comment is a required reason.
    NEEDS_REASON = (Kind.REJECT, Kind.REOPEN)

    # Deleting an item deletes its decisions; the item's history keeps the deletion row.
    alias = models.ForeignKey(
        TitleAlias, null=True, blank=True, on_delete=models.CASCADE, related_name="decisions"
    )
    mapping = models.ForeignKey(
        ClassificationMapping, null=True, blank=True, on_delete=models.CASCADE, related_name="decisions"
    )
    decision = models.CharField(max_length=10, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    comment = models.TextField(blank=True, help_text="The reviewer's comment, or the reason to reject or reopen.")
    from_status = models.CharField(max_length=20)
    to_status = models.CharField(max_length=20)
    old_code = models.CharField(max_length=10, blank=True, help_text="Refine: the code before.")
    new_code = models.CharField(max_length=10, blank=True, help_text="Refine: the code after.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = DecisionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        get_latest_by = "created_at"
        permissions = [
            ("review_alias", "Can approve, reject and reopen title aliases"),
            ("review_mapping", "Can approve, reject, refine and reopen classification mappings"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(alias__isnull=False, mapping__isnull=True) | Q(alias__isnull=True, mapping__isnull=False)
                ),
                name="decision_exactly_one_item",
                violation_error_message="A decision is about exactly one alias or one mapping.",
            ),
            models.CheckConstraint(
                condition=~Q(decision__in=["reject", "reopen"]) | ~Q(comment=""),
                name="decision_reason_required",
                violation_error_message="Rejecting or reopening needs a reason.",
            ),
            models.CheckConstraint(
                condition=~Q(decision="refine") | (~Q(old_code="") & ~Q(new_code="")),
                name="decision_refine_codes",
                violation_error_message="A refinement records the old and the new code.",
            ),
        ]
        indexes = [
            # "My decisions", newest first.
            models.Index(fields=["actor", "-created_at"], name="decision_actor_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} {self.item} by {self.actor_id} at {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def item(self) -> TitleAlias | ClassificationMapping:
        return self.alias if self.alias_id is not None else self.mapping

    @property
    def item_kind(self) -> str:
        return "alias" if self.alias_id is not None else "mapping"
