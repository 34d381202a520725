"""Double-blind samples: a share of reviewers' decisions drawn for a second, independent review.

When a reviewer decides an open item (approve, refine, replace, reject) the core may draw it
(REVIEW_SAMPLE_SHARE, default 5 %): the decision is recorded as a blind review (a VOTE Decision,
after a DRAWN one) and the item stays open. The reviewer is told; nobody else is.

- **The second review is blind and independent.** The item waits in the queue like any other
  open item; the first decision is hidden from everyone but its reviewer and leads
  (`Decision.objects.visible_to`). The first reviewer cannot review it again, and an author of
  the item cannot be its second reviewer (four-eyes applies to both).
- **Agreement settles it.** When the second decision agrees with the first (same verdict, and
  for a mapping the same resulting code), it is made as an ordinary decision and settles the item.
- **Disagreement goes to a lead.** The second decision is recorded as a blind review too, and the
  item waits for a lead (roles.lead_review) who was not one of the two reviewers. The lead sees
  both decisions and reasons, and decides with a reason through the core like any other decision.
- **A sample is about one version of the item.** If the item changes before it is settled (a
  curator's edit, an import), the sample is void: the reviews were about other content.

Written only from `roles.workflow.core`, inside the decision's transaction, after the item is
locked: checks here read the sample of the locked item, so two second reviews never both count.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.dispatch import Signal

from framework.audit import acting_as, has_visible_text

from ..models import (
    VERDICT_KINDS,
    ClassificationMapping,
    Decision,
    DecisionKind,
    Reviewable,
    Sample,
    SampleState,
)
from .rules import ReasonRequired, ReviewError, describe, four_eyes_reason

SAMPLED_KINDS = frozenset(VERDICT_KINDS)
# Sent when a sample is settled, inside the decision's transaction (notifications listen), with
# sender=Sample, sample, item (as settled), actor (the agreeing second reviewer or the lead), reason.
settled = Signal()
_random = random.SystemRandom()


class AlreadyReviewed(ReviewError):
    """The actor gave one of the sample's blind reviews: the other review must come from someone else."""


class AwaitingLead(ReviewError):
    """The sample's two reviews disagree: only a lead who was not one of them settles it."""


class NotIndependent(ReviewError):
    """An author of the item cannot give its second, independent review."""


# ---------------------------------------------------------------------------------------------
# Reading


def _field(model: type[Reviewable]) -> str:
    return Decision.item_field(model)


def is_live(sample: Sample, item: Reviewable) -> bool:
    """Whether an open sample still concerns `item` as it stands (same version, still open)."""
    return sample.is_open and sample.item_version == item.version and item.is_open


def hidden_from_q(user: Any, model: type[Reviewable]) -> Q:
    """The items of `model` a queue hides from `user`: samples they reviewed, and disputed ones (a lead's).

    A correlated EXISTS on the open-sample index: PostgreSQL plans an anti join that touches only
    the items that have a sample, where `pk IN (samples joined to items)` scanned every item.
    """
    theirs = Sample.objects.open().filter(
        Q(first_by=user) | Q(second_by=user) | Q(state=SampleState.DISPUTED),
        **{_field(model): OuterRef("pk")}, item_version=OuterRef("version"),
    )
    return Q(Exists(theirs))


def in_open_sample(model: type[Reviewable]) -> Exists:
    """An annotation: whether the item is in an open sample (read with the locked rows, no extra query)."""
    return Exists(Sample.objects.open().filter(**{_field(model): OuterRef("pk")}))


def hides_any(user: Any, model: type[Reviewable]) -> bool:
    """Whether `user`'s queue of `model` hides any item: another reviewer's lease, or an open sample
    (theirs, or one that waits for a lead). One query."""
    from ..models import Lease

    leases = Lease.objects.live().of(model).exclude(holder=user).values_list("pk")
    theirs = Sample.objects.open().of(model).filter(
        Q(first_by=user) | Q(second_by=user) | Q(state=SampleState.DISPUTED)
    ).values_list("pk")
    return leases.union(theirs).exists()


def open_sample(locked: Reviewable, *, actor: Any, at: datetime) -> Sample | None:
    """The locked item's live sample; a sample its item moved away from is made void (and None returned)."""
    if not getattr(locked, "in_sample", True):  # read with the locked row (`in_open_sample`)
        return None
    sample = Sample.objects.open().filter(**{_field(type(locked)): locked}).first()
    if sample is None:
        return None
    if is_live(sample, locked):
        return sample
    _void([sample], actor=actor, at=at)
    return None


def open_samples(
    model: type[Reviewable], items: Sequence[Reviewable], *, actor: Any, at: datetime
) -> dict[int, Sample]:
    """The live samples of many locked items, by item pk (one query); stale ones are made void."""
    if all(hasattr(item, "in_sample") for item in items):
        items = [item for item in items if item.in_sample]  # read with the rows (`in_open_sample`)
    if not items:
        return {}
    field = _field(model)
    found = Sample.objects.open().filter(**{f"{field}_id__in": [item.pk for item in items]})
    by_pk = {item.pk: item for item in items}
    live, stale = {}, []
    for sample in found:
        item = by_pk[getattr(sample, f"{field}_id")]
        if is_live(sample, item):
            live[item.pk] = sample
        else:
            stale.append(sample)
    _void(stale, actor=actor, at=at)
    return live


def _void(samples: list[Sample], *, actor: Any, at: datetime) -> None:
    with acting_as(actor, "sample void: the item changed before its second review settled it"):
        for sample in samples:
            sample.state, sample.settled_at = SampleState.VOID, at
            sample.save(update_fields=["state", "settled_at"])


def reviews(sample: Sample) -> list[Decision]:
    """The sample's blind reviews and settling decision, oldest first."""
    return list(sample.decisions.exclude(verdict="").select_related("actor").order_by("created_at", "pk"))


# ---------------------------------------------------------------------------------------------
# Checks


def check_turn(sample: Sample, locked: Reviewable, *, actor: Any, is_lead: bool) -> None:
    """Raise unless `actor` may give the sample's next decision (second review, or a lead's adjudication)."""
    reviewers = {sample.first_by_id, sample.second_by_id} - {None}
    if sample.state == SampleState.DISPUTED:
        if not is_lead:
            raise AwaitingLead(
                f"{describe(locked).capitalize()} had two blind reviews that disagree: a lead reviewer settles it."
            )
        if actor.pk in reviewers:
            raise AlreadyReviewed(
                f"You gave one of the two reviews of {describe(locked)}: another lead settles the disagreement."
            )
        return
    if actor.pk in reviewers:
        raise AlreadyReviewed(
            f"You already reviewed {describe(locked)} (it was drawn for a second, blind review): "
            "another reviewer decides it."
        )
    if why := four_eyes_reason(actor, locked):
        raise NotIndependent(
            f"{describe(locked).capitalize()} needs a second, independent review, and {why}: "
            "another reviewer decides it."
        )


def adjudication_reason(text: str) -> str:
    """A lead's adjudication needs a reason: it settles two reviewers' disagreement."""
    if not has_visible_text(text):
        raise ReasonRequired(
            "Give a reason for settling the disagreement: it is in the decision log for both reviewers."
        )
    return text


def draws(item: Reviewable, *, actor: Any, kind: str) -> bool:
    """Whether this decision is drawn for a second review: a reviewer's verdict on an open item, by a
    non-author, with probability REVIEW_SAMPLE_SHARE."""
    share = settings.REVIEW_SAMPLE_SHARE
    if share <= 0 or kind not in SAMPLED_KINDS or not item.is_open or four_eyes_reason(actor, item):
        return False
    return share >= 1 or _random.random() < share


def label(item: Reviewable, kind: str, new_code: str) -> str:
    """What a verdict decides, compared between the two reviews: reject, approve, or a mapping's code."""
    if kind == DecisionKind.REJECT:
        return "reject"
    return new_code if isinstance(item, ClassificationMapping) else "approve"


def verdict_label(decision: Decision) -> str:
    return label(decision.item, decision.verdict, decision.new_code)


def resulting_code(item: Reviewable, kind: str, new_code: str) -> str:
    """A mapping verdict's code (the current one for an approval); "" for aliases and rejections."""
    if not isinstance(item, ClassificationMapping) or kind == DecisionKind.REJECT:
        return ""
    return new_code or item.code


# ---------------------------------------------------------------------------------------------
# Writing (inside the core's transaction)


def _vote(
    item: Reviewable, sample: Sample, *, kind: str, actor: Any, text: str, new_code: str, at: datetime
) -> Decision:
    return Decision(
        **{_field(type(item)): item}, sample=sample, decision=DecisionKind.VOTE, verdict=kind, actor=actor,
        comment=text, from_status=item.status, to_status=item.status,
        old_code=item.code if isinstance(item, ClassificationMapping) else "", new_code=new_code, created_at=at,
    )


def draw(items: Sequence[Reviewable], *, kind: str, actor: Any, text: str, codes: dict[int, str], at: datetime) -> None:
    """Draw `items` (locked, open, of one model) for a second review: one sample, a DRAWN and a VOTE each."""
    if not items:
        return
    share = settings.REVIEW_SAMPLE_SHARE
    reason = f"drawn for a second, blind review ({share:.0%} sample)"
    field = _field(type(items[0]))
    samples = [Sample(**{field: item}, item_version=item.version, first_by=actor, drawn_at=at) for item in items]
    with acting_as(actor, reason):
        for sample in samples:
            sample.save()
    rows: list[Decision] = []
    for item, sample in zip(items, samples, strict=True):
        rows.append(Decision(**{field: item}, sample=sample, decision=DecisionKind.DRAWN, actor=actor, comment=reason,
                             from_status=item.status, to_status=item.status, created_at=at))
        rows.append(_vote(item, sample, kind=kind, actor=actor, text=text, new_code=codes.get(item.pk, ""), at=at))
    Decision.objects.bulk_create(rows)


def first_review(sample: Sample) -> Decision:
    return sample.decisions.filter(decision=DecisionKind.VOTE, actor_id=sample.first_by_id).get()


def dispute(item: Reviewable, sample: Sample, *, kind: str, actor: Any, text: str, new_code: str, at: datetime) -> None:
    """Record a second review that disagrees with the first: the sample waits for a lead."""
    sample.state, sample.second_by = SampleState.DISPUTED, actor
    with acting_as(actor, "second blind review disagrees: a lead settles it"):
        sample.save(update_fields=["state", "second_by"])
    _vote(item, sample, kind=kind, actor=actor, text=text, new_code=new_code, at=at).save()


def settle(sample: Sample, item: Reviewable, *, actor: Any, at: datetime, reason: str = "") -> None:
    """Mark the sample settled by `actor`'s decision: an agreeing second review, or a lead's adjudication."""
    agreed = sample.state == SampleState.AWAITING
    if agreed:
        sample.second_by = actor
    sample.state = SampleState.AGREED if agreed else SampleState.ADJUDICATED
    sample.settled_by, sample.settled_at = actor, at
    why = "the second blind review agrees: settled" if agreed else "a lead settled the disagreement"
    with acting_as(actor, why):
        sample.save(update_fields=["state", "second_by", "settled_by", "settled_at"])
    settled.send(sender=Sample, sample=sample, item=item, actor=actor, reason=reason)
