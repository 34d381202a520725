"""Reads for review: who may decide what, the queues, alias flags, and the reference lookups.

Everything here reads; nothing writes. Queue helpers return querysets so views can chain
filters, sort and paginate, and per-row extras (flags, what changed) are computed for a
whole page in a constant number of queries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    FloatField,
    IntegerField,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast, Coalesce, Concat, Substr, TruncDate
from django.utils import timezone

from roles.flags import (  # noqa: F401 - the review pages read the flags from here
    DETAILED_LEVELS,
    FLAG_CHOICES,
    Flag,
    alias_flags,
    approved_detailed_codes,
    duplicate_key,
    level_flag,
    reference_evidence,
    reference_flag,
    stored_flags,
)
from roles.models import (
    Assignment,
    ClassificationMapping,
    Decision,
    DecisionKind,
    ReviewTally,
    Role,
    RoleDigest,
    Sample,
    SampleState,
    TitleAlias,
)
from roles.soc import RankedCode, RoleSuggestionSet, cached_suggestions
from roles.workflow import four_eyes_q, four_eyes_reason  # noqa: F401 - the queues read them from here
from taxonomy.coder import CoderQuery, coder_version, suggest
from taxonomy.models import Level, OccupationCode

GROUP_LEVELS = (OccupationCode.Level.MAJOR, OccupationCode.Level.MINOR, OccupationCode.Level.BROAD)


# ---------------------------------------------------------------------------------------------
# Permissions


def review_permission(item: Any) -> str:
    """Return the permission needed to decide `item` (an alias or a mapping, instance or class)."""
    model = item if isinstance(item, type) else type(item)
    if issubclass(model, TitleAlias):
        return TitleAlias.REVIEW_PERMISSION
    if issubclass(model, ClassificationMapping):
        return ClassificationMapping.REVIEW_PERMISSION
    raise TypeError(f"{model.__name__} is not reviewable.")


def can_review(user: Any, item: Any) -> bool:
    """Whether `user` may decide items like `item` at all (four-eyes is checked separately)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return user.has_perm(review_permission(item))


def can_approve(user: Any, item: TitleAlias | ClassificationMapping) -> bool:
    """Whether `user` may approve `item`: the review permission and four-eyes."""
    return can_review(user, item) and not four_eyes_reason(user, item)


# ---------------------------------------------------------------------------------------------
# Reference codes


def is_group_level(occupation: OccupationCode | None) -> bool:
    """True for a major, minor or broad SOC group: approving it needs an explicit confirmation."""
    return occupation is not None and occupation.is_group_level


def occupation_ancestors(pk: int) -> list[OccupationCode]:
    """Return [occupation, parent, grandparent, …] up to the major group, in one query.

    Raises OccupationCode.DoesNotExist for an unknown pk.
    """
    return OccupationCode.objects.ancestors(pk)


def detailed_codes_under(occupation: OccupationCode, query: str = "") -> QuerySet[OccupationCode]:
    """Return the refinements a reviewer may pick under `occupation`, filtered by code or title.

    Under a group: its SOC detailed occupations. Under a detailed occupation: its O*NET-SOC ones.
    """
    if is_group_level(occupation):
        qs = OccupationCode.objects.detailed().filter(
            Q(parent=occupation) | Q(parent__parent=occupation) | Q(parent__parent__parent=occupation)
        )
    else:
        qs = OccupationCode.objects.filter(parent=occupation, level=OccupationCode.Level.ONET)
    query = (query or "").strip()
    if query:
        qs = qs.filter(Q(code__startswith=query) | Q(title__icontains=query))
    return qs.order_by("code")


def _normal_title(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower().replace("&", " and ")).split())


def title_mismatch(card_title: str, official_title: str) -> str:
    """Describe how the card's title differs from the official one, or "" when they agree.

    "&" for "and", case and punctuation differences are named as such, so the reviewer can
    take the official title.
    """
    if not card_title or card_title == official_title:
        return ""
    if _normal_title(card_title) == _normal_title(official_title):
        if ("&" in card_title) != ("&" in official_title):
            return "“&” where the official title has “and”" if "&" in card_title else "“and” for “&”"
        return "differs only in case or punctuation"
    return "a different title"


# ---------------------------------------------------------------------------------------------
# Alias flags



def filter_alias_flag(qs: QuerySet[TitleAlias], flag: str) -> QuerySet[TitleAlias]:
    """Keep the aliases that carry `flag` (one of FLAG_CHOICES); raises ValueError for another.

    The flags are stored per alias (roles.derived keeps AliasSignals current after every write),
    so this is an index lookup: a partial index per flag, in confidence order.
    """
    if flag not in dict(FLAG_CHOICES):
        raise ValueError(f"Unknown alias flag {flag!r}: use one of {', '.join(c for c, _ in FLAG_CHOICES)}.")
    return qs.filter(**{f"signals__{flag}": True})

# ---------------------------------------------------------------------------------------------
# Queues


def assigned_q(user: Any, prefix: str = "role__") -> Q:
    """The filter for items under `user`'s assignments, directly or through a group (one query)."""
    q = Q(pk__in=[])
    for assignment in Assignment.objects.for_user(user).select_related("node"):
        q |= assignment.covers(prefix)
    return q


def overdue_nodes(today: date | None = None) -> tuple[set[int], set[int]]:
    """The (specialization, family) node ids under an assignment past its due date (one query)."""
    today = today or timezone.localdate()
    specs: set[int] = set()
    families: set[int] = set()
    for node_id, kind in Assignment.objects.filter(due_date__lt=today).values_list("node_id", "node__kind"):
        (families if kind == "family" else specs).add(node_id)
    return specs, families


def is_overdue(role: Role, overdue: tuple[set[int], set[int]]) -> bool:
    """Whether `role` (with its node loaded) sits under an assignment past its due date."""
    specs, families = overdue
    return role.node_id in specs or role.node.parent_id in families


@dataclass(frozen=True)
class AssignmentSummary:
    assignment: Assignment
    aliases_pending: int
    mappings_pending: int
    oldest: datetime | None
    overdue: bool


def assignment_summaries(assignments: list[Assignment]) -> list[AssignmentSummary]:
    """What waits under each assignment: open aliases and mappings, and the oldest one's creation.

    Four queries for any number of assignments: open aliases and open mappings, grouped by
    specialization and by family.
    """
    if not assignments:
        return []
    specs = {a.node_id for a in assignments if a.node.kind != "family"}
    families = {a.node_id for a in assignments if a.node.kind == "family"}
    totals: dict[tuple[str, int], dict[str, Any]] = {}
    for model, name in ((TitleAlias, "aliases"), (ClassificationMapping, "mappings")):
        open_items = model.objects.filter(status=model.OPEN)
        for key, node_ids in (("role__node_id", specs), ("role__node__parent_id", families)):
            if not node_ids:
                continue
            rows = (open_items.filter(**{f"{key}__in": node_ids}).values(key)
                    .annotate(n=Count("pk"), oldest=Min("created_at")))
            for row in rows:
                entry = totals.setdefault(("family" if "parent" in key else "spec", row[key]),
                                          {"aliases": 0, "mappings": 0, "oldest": None})
                entry[name] += row["n"]
                if entry["oldest"] is None or row["oldest"] < entry["oldest"]:
                    entry["oldest"] = row["oldest"]
    today = timezone.localdate()
    summaries = []
    for a in assignments:
        entry = totals.get(("family" if a.node.kind == "family" else "spec", a.node_id),
                           {"aliases": 0, "mappings": 0, "oldest": None})
        waiting = entry["aliases"] + entry["mappings"]
        summaries.append(AssignmentSummary(a, entry["aliases"], entry["mappings"], entry["oldest"],
                                           bool(a.due_date and a.due_date < today and waiting)))
    return summaries


# The queues join what a row shows, except people: the approver, the editor of a reopened item
# and the holder of its lease are read by with_people() once the page is cut. Three joins to the
# user table made PostgreSQL spend about 10 ms planning each queue page, longer than running it.


def alias_queue() -> QuerySet[TitleAlias]:
    """All aliases with what a queue row shows joined in; filter with review.filters.AliasFilter.

    The page's people come from with_people(). signals: the alias's stored flags; lease: whether
    someone holds it ("Review next").
    """
    return TitleAlias.objects.select_related("role", "role__node", "role__level", "lease", "signals")


def mapping_queue() -> QuerySet[ClassificationMapping]:
    """All mappings with what a queue row shows joined in; filter with review.filters.MappingFilter.

    The page's people come from with_people(). occupation__parent: the row shows the group a
    code sits in.
    """
    return ClassificationMapping.objects.select_related(
        "role", "role__node", "role__level", "occupation__parent", "lease"
    )


def with_people(items: list[TitleAlias] | list[ClassificationMapping]) -> None:
    """Attach the users a queue row names (approver, editor, lease holder) to `items`, in one query."""
    leases = {}
    for item in items:
        try:
            leases[item.pk] = item.lease
        except ObjectDoesNotExist:
            leases[item.pk] = None
    wanted = {item.decided_by_id for item in items} | {item.content_changed_by_id for item in items}
    wanted |= {lease.holder_id for lease in leases.values() if lease is not None}
    wanted.discard(None)
    users = get_user_model().objects.in_bulk(wanted) if wanted else {}
    for item in items:
        # Fill the relations' caches (what select_related would have); the keys stay as they are.
        fields = type(item)._meta
        fields.get_field("decided_by").set_cached_value(item, users.get(item.decided_by_id))
        fields.get_field("content_changed_by").set_cached_value(item, users.get(item.content_changed_by_id))
        lease = leases[item.pk]
        if lease is not None:
            lease._meta.get_field("holder").set_cached_value(lease, users[lease.holder_id])


@dataclass(frozen=True)
class Change:
    field: str
    old: Any
    new: Any


def content_changes(items: list[TitleAlias] | list[ClassificationMapping]) -> dict[int, list[Change]]:
    """Return what changed (old → new) in the content of items a curator edited, keyed by pk.

    "Old" is the content as it stood when the item was last decided. One query over the
    history of the items that have a content change (none when no item has one), and one for
    the codes of the roles an item was moved away from, when one was.
    """
    changed = [i for i in items if i.content_changed_at is not None]
    if not changed:
        return {}
    model = type(changed[0])
    # The occupation follows from the code: showing the code's change says it all.
    fields = [f for f in model.CONTENT_FIELDS if f != "occupation"]
    attnames = {f: model._meta.get_field(f).attname for f in fields}
    rows = (
        model.history.filter(id__in=[i.pk for i in changed])
        .exclude(status=model.OPEN)
        .order_by("id", "-history_date", "-history_id")
        .values("id", *attnames.values())
    )
    decided: dict[int, dict[str, Any]] = {}
    for row in rows:
        decided.setdefault(row["id"], row)
    changes: dict[int, list[Change]] = {}
    moved_from: set[int] = set()
    for item in changed:
        old = decided.get(item.pk)
        if old is None:
            continue
        diff = [Change(f, old[attnames[f]], getattr(item, attnames[f])) for f in fields
                if old[attnames[f]] != getattr(item, attnames[f])]
        if diff:
            changes[item.pk] = diff
            moved_from.update(c.old for c in diff if c.field == "role")
    if moved_from:
        codes = dict(Role.objects.filter(pk__in=moved_from).values_list("pk", "code"))
        for item in changed:
            changes[item.pk] = [
                Change("role", codes.get(c.old, "(deleted role)"), item.role.code) if c.field == "role" else c
                for c in changes.get(item.pk, [])
            ]
    return changes


def digest_totals() -> dict[str, int]:
    """The review counts over every role (roles.derived keeps their tally): one query of one row."""
    tally = ReviewTally.objects.filter(scope=ReviewTally.Scope.ALL, key="").values(*RoleDigest.COUNTS).first()
    return tally or dict.fromkeys(RoleDigest.COUNTS, 0)


def backlog_by_status(totals: dict[str, int] | None = None) -> dict[str, dict[str, int]]:
    """Return {"aliases": {status: n}, "mappings": {status: n}} from the role digests (`totals`, or one query)."""
    t = totals or digest_totals()
    return {
        "aliases": {"pending": t["aliases_pending"], "approved": t["aliases_approved"],
                    "rejected": t["aliases_rejected"]},
        "mappings": {"needs_review": t["mappings_needs_review"], "approved": t["mappings_approved"],
                     "rejected": t["mappings_rejected"]},
    }


def pending_by_family(limit: int = 15) -> list[tuple[str, int]]:
    """Return [(family code, pending aliases + mappings)] largest first, from the family tallies: one query."""
    rows = (
        ReviewTally.objects.filter(scope=ReviewTally.Scope.FAMILY)
        .annotate(n=F("aliases_pending") + F("mappings_needs_review"))
        .filter(n__gt=0)
        .order_by("-n", "key")
        .values_list("key", "n")[:limit]
    )
    return [(family or "—", n) for family, n in rows]


def pending_by_level() -> list[tuple[str, int]]:
    """Return [(level code, pending aliases)] in level order, from the level tallies: two small queries."""
    counts = dict(
        ReviewTally.objects.filter(scope=ReviewTally.Scope.LEVEL, aliases_pending__gt=0)
        .values_list("key", "aliases_pending")
    )
    levels = Level.objects.order_by("track", "rank").values_list("code", flat=True)
    return [(code, counts[code]) for code in levels if code in counts]


def pending_by_band(totals: dict[str, int] | None = None) -> list[tuple[str, int]]:
    """Return [(confidence band, pending aliases)] low, medium, high, from the role digests."""
    t = totals or digest_totals()
    return [(band, t[f"pending_{band}"]) for band in ("low", "medium", "high")]


def pending_reference_elsewhere(totals: dict[str, int] | None = None) -> int:
    """Pending aliases that an official source files under another code than the role's."""
    return (totals or digest_totals())["pending_reference_elsewhere"]


def pending_for(user: Any, totals: dict[str, int] | None = None) -> dict[str, int]:
    """What waits for `user`: pending aliases and mappings they may decide (four-eyes left out); four queries.

    The totals come from the role digests; what four-eyes keeps from `user` (what they created or
    changed) is counted through the indexes on created_by and content_editors.
    """
    if not (can_review(user, TitleAlias) or can_review(user, ClassificationMapping)):
        return {"aliases": 0, "mappings": 0, "can_review": False}
    t = totals or digest_totals()
    return {
        "aliases": t["aliases_pending"] - TitleAlias.objects.pending().filter(four_eyes_q(user)).count(),
        "mappings": t["mappings_needs_review"]
        - ClassificationMapping.objects.needs_review().filter(four_eyes_q(user)).count(),
        "can_review": True,
    }


def decisions_per_day(days: int = 7) -> list[tuple[Any, int]]:
    """Return [(date, decisions)] for each of the last `days` days, oldest first, in one query."""
    today = timezone.localdate()
    start = today - timedelta(days=days - 1)
    # A range on the timestamp (the index on created_at serves it), not created_at::date.
    since = timezone.make_aware(datetime.combine(start, time.min))
    counts = dict(
        Decision.objects.reviews().filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .order_by()
        .values_list("day")
        .annotate(n=Count("pk"))
    )
    return [(start + timedelta(days=i), counts.get(start + timedelta(days=i), 0)) for i in range(days)]



# ---------------------------------------------------------------------------------------------
# The SOC coder in the mapping review

CODER_FLAGS = [
    ("coder_disagrees", "Disagrees with the SOC coder"),
    ("coder_confident", "Coder is confident and agrees"),
    ("coder_unsure", "Coder unsure"),
]


@dataclass(frozen=True)
class SuggestionRow:
    """A suggestion for a mapping's role, and what a reviewer may do with it here."""

    suggestion: RankedCode
    # "same" (already this code), "refine" (under the current code), "replace", or "weak": a
    # score under REVIEW_CODER_MIN_SCORE, shown as evidence but never offered as an action.
    relation: str


@dataclass(frozen=True)
class CoderView:
    suggestions: list[SuggestionRow]
    disagrees: str  # why the mapping disagrees with the coder, or ""
    confident_agrees: bool = False  # the coder is confident of its best code, and it is the mapping's
    unsure: bool = False  # the coder's best code is too close to call or its score low


def coder_disagreement(mapping: ClassificationMapping, suggestions: RoleSuggestionSet) -> str:
    """Why `mapping` disagrees with the coder's suggestions for its role, or "" (no queries).

    A detailed code disagrees when it is not among the top 5; a group code when none of the
    top 3 lies under it. A code outside the reference is flagged as such elsewhere.
    """
    if mapping.occupation is None or not suggestions.codes:
        return ""
    if mapping.occupation.level in DETAILED_LEVELS:
        if mapping.code[:7] not in suggestions.top_codes:
            return f"{mapping.code[:7]} is not among the coder's top {len(suggestions.codes)}"
        return ""
    if mapping.code not in suggestions.top3_lineage:
        return f"none of the coder's top 3 lies under {mapping.code}"
    return ""


def _relation(mapping: ClassificationMapping, suggestion: RankedCode) -> str:
    if suggestion.code == mapping.code[:7]:
        return "same"
    if suggestion.score < settings.REVIEW_CODER_MIN_SCORE:
        return "weak"
    if mapping.occupation is not None and is_group_level(mapping.occupation) and mapping.code in suggestion.lineage:
        return "refine"
    if mapping.occupation is None and suggestion.code[:2] == mapping.code[:2]:
        return "refine"
    return "replace"


def coder_views(mappings: list[ClassificationMapping], *, stale_ok: bool = False) -> dict[int, CoderView]:
    """For a page of mappings: their roles' suggestions, how each relates to the mapping, the flag.

    Suggestions come from the per-role cache (roles.soc.cached_suggestions): a constant number
    of queries for any page. `stale_ok` (the queue): a role whose text changed since its row was
    computed shows that row while the task worker computes it again.
    """
    if not mappings:
        return {}
    sets = cached_suggestions([m.role for m in mappings], stale_ok=stale_ok)
    views = {}
    for mapping in mappings:
        found = sets.get(mapping.role_id, RoleSuggestionSet(()))
        views[mapping.pk] = CoderView(
            [SuggestionRow(s, _relation(mapping, s)) for s in found.codes],
            coder_disagreement(mapping, found),
            # An O*NET-SOC code (15-2051.01) agrees with its SOC code (15-2051).
            confident_agrees=bool(found.confident_code) and found.confident_code == mapping.code[:7],
            unsure=found.unsure,
        )
    return views


def filter_coder_flag(qs: QuerySet[ClassificationMapping], flag: str) -> QuerySet[ClassificationMapping]:
    """Keep the mappings with coder flag `flag` (CODER_FLAGS), read from the current coder's cached suggestions."""
    if flag == "coder_disagrees":
        return filter_coder_disagrees(qs)
    current = qs.filter(role__suggestions__coder_version=coder_version())
    if flag == "coder_confident":
        soc = Substr("code", 1, 7)  # an O*NET-SOC code (15-2051.01) agrees with its SOC code
        return current.filter(role__suggestions__confident_code=soc).exclude(role__suggestions__confident_code="")
    return current.filter(role__suggestions__unsure=True)


# The "Coder confidence" sort's keys, both never null (keyset pages compare them), then pk.
CODER_CONFIDENCE_ORDER = ("coder_rank", "coder_score", "pk")
CODER_RANK_UNSURE, CODER_RANK_SCORED, CODER_RANK_NONE = 0, 1, 2


def with_coder_confidence(qs: QuerySet[ClassificationMapping]) -> QuerySet[ClassificationMapping]:
    """Annotate `coder_rank` and `coder_score`, the keys of CODER_CONFIDENCE_ORDER; no extra query.

    coder_rank: 0 when the coder is unsure, 1 for another answer, 2 when the role has no answer
    of the current coder (no row, a row of another coder version, or no code suggested).
    coder_score: the coder's top score, 0.0 at rank 2. As filter_coder_flag does, a row of the
    current coder counts even when the role's text changed since (the queue shows it meanwhile).
    The score is read from the row's stored suggestions (best first), so no column repeats it.
    """
    suggestions = "role__suggestions__"
    answered = Q(**{f"{suggestions}coder_version": coder_version(), f"{suggestions}top_codes__gt": ""})
    top_score = Cast(KeyTextTransform("score", KeyTransform(0, f"{suggestions}suggestions")), FloatField())
    return qs.annotate(
        coder_rank=Case(
            When(answered & Q(**{f"{suggestions}unsure": True}), then=Value(CODER_RANK_UNSURE)),
            When(answered, then=Value(CODER_RANK_SCORED)),
            default=Value(CODER_RANK_NONE),
            output_field=IntegerField(),
        ),
        # A sentinel, not NULL, for rows without a score: NULL would drop out of "score > x" on the next page.
        coder_score=Case(
            When(answered, then=Coalesce(top_score, Value(0.0))), default=Value(0.0), output_field=FloatField()
        ),
    )


def filter_coder_disagrees(qs: QuerySet[ClassificationMapping]) -> QuerySet[ClassificationMapping]:
    """Keep the mappings that disagree with the coder's cached suggestions for their role.

    Only roles whose suggestions are cached for the current coder count (the review pages and
    `manage.py suggest_mappings` fill the cache).
    """
    soc = Concat(Value(","), Substr("code", 1, 7), Value(","), output_field=CharField())
    group = Concat(Value(","), "code", Value(","), output_field=CharField())
    detailed = Q(occupation__level__in=DETAILED_LEVELS) & ~Q(role__suggestions__top_codes__contains=soc)
    grouped = Q(occupation__level__in=GROUP_LEVELS) & ~Q(role__suggestions__top3_lineage__contains=group)
    return qs.filter(
        role__suggestions__coder_version=coder_version(), role__suggestions__top_codes__gt=""
    ).filter(detailed | grouped)


def ranked_codes(
    text: str, *, under: OccupationCode | None = None, limit: int = 50
) -> list[tuple[OccupationCode, float | None]]:
    """Detailed codes for what a reviewer typed: the coder's ranking first, then code and title matches.

    With `under`, only codes under it (its refinements). Each comes with the coder's score, or
    None for a plain match. Two queries, plus the coder's own work on the text.
    """
    text = (text or "").strip()[:200]
    candidates = detailed_codes_under(under, text if _looks_like_code(text) else "") if under else (
        OccupationCode.objects.detailed()
    )
    scored: dict[str, float] = {}
    if text and not _looks_like_code(text):
        for s in suggest(CoderQuery(title=text), k=limit):
            scored[s.code] = s.score
    by_code = {c.code: c for c in candidates.filter(code__in=list(scored))} if scored else {}
    ranked = [(by_code[code], score) for code, score in scored.items() if code in by_code]
    if len(ranked) < limit:
        plain = candidates.exclude(code__in=list(by_code))
        if text:
            plain = plain.filter(Q(code__startswith=text) | Q(title__icontains=text))
        ranked += [(c, None) for c in plain.order_by("code")[: limit - len(ranked)]]
    return ranked


def _looks_like_code(text: str) -> bool:
    return bool(re.fullmatch(r"[0-9][0-9.\-]*", text))


def code_relation(under: OccupationCode, occupation: OccupationCode) -> str:
    """"refine" when `occupation` lies under `under` (no queries: the groups are in the code's chain)."""
    node, depth = occupation.parent, 0
    while node is not None and depth < 5:
        if node.pk == under.pk:
            return "refine"
        node, depth = (node.parent if node.parent_id else None), depth + 1
    return "replace"


# ---------------------------------------------------------------------------------------------
# Double-blind samples


@dataclass
class Verdict:
    """One side of a disputed sample, as the lead sees it: who decided what, and why."""

    decision: Decision
    code_title: str

    @property
    def choice(self) -> str:
        """The adjudication form's value for siding with this review: "refine|15-2051"."""
        code = self.decision.new_code if self.decision.verdict in ("refine", "replace") else ""
        return f"{self.decision.verdict}|{code}"

    @property
    def label(self) -> str:
        verdict, code = self.decision.verdict, self.decision.new_code
        if verdict == "reject":
            return "Reject"
        if verdict == "approve":
            return f"Approve {code}".strip() if self.decision.mapping_id else "Approve"
        return f"{verdict.capitalize()} to {code}"


def _disputed() -> QuerySet[Sample]:
    # Still about the item as it stands (an item changed since has a void sample, made so at its next
    # decision): a primary-key lookup per disputed sample, never a scan of the items.
    live = Q(Exists(TitleAlias.objects.filter(pk=OuterRef("alias_id"), version=OuterRef("item_version")))) | Q(
        Exists(ClassificationMapping.objects.filter(pk=OuterRef("mapping_id"), version=OuterRef("item_version"))))
    return Sample.objects.filter(live, state=SampleState.DISPUTED)


def disputed_samples() -> QuerySet[Sample]:
    """Samples whose two blind reviews disagree, oldest first, with both reviews and their items."""
    votes = Decision.objects.filter(decision=DecisionKind.VOTE).select_related("actor").order_by("created_at", "pk")
    return (
        _disputed()
        .select_related("alias__role", "mapping__role", "mapping__occupation")
        .prefetch_related(Prefetch("decisions", queryset=votes, to_attr="votes"))
        .order_by("drawn_at", "pk")
    )


def verdicts(samples: list[Sample]) -> dict[int, list[Verdict]]:
    """Each disputed sample's two reviews with the titles of the codes they chose (one query for the titles)."""
    codes = {d.new_code for sample in samples for d in sample.votes if d.new_code}
    titles = dict(OccupationCode.objects.filter(code__in=codes).values_list("code", "title")) if codes else {}
    return {sample.pk: [Verdict(d, titles.get(d.new_code, "")) for d in sample.votes] for sample in samples}


def disputed_count() -> int:
    return _disputed().count()
