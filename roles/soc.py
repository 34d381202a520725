"""SOC suggestions for roles: build the coder's query from what a role's card says.

The query reads the role's title, its aliases that are not rejected (approved and pending),
its components' texts and its story. `suggest_for_roles` prefetches aliases and components (two
queries, plus one to evaluate a queryset passed in), so any number of roles costs the same, and
asks the coder once. `cached_suggestions` keeps each role's answer in RoleSuggestions until the
role's text or the coder changes, for the review pages; `suggest_mappings` turns the best code
into a "suggested" mapping that waits for review.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.dispatch import Signal
from django.utils import timezone

from roles import workflow
from roles.models import ClassificationMapping, Component, Role, RoleSuggestions, TitleAlias
from taxonomy.coder import CoderQuery, Suggestion, coder_version, suggest_many
from taxonomy.models import OccupationCode

# Suggestions kept per role in the cache (pages show 5; the disagreement flag reads them).
SUGGESTIONS_KEPT = 5

# Review status of an alias that no longer names the role: it is left out of the query.
REJECTED = "rejected"
# Component kinds that describe the work; all current kinds do, the list keeps new ones out until chosen.
COMPONENT_KINDS = ("responsibility", "task", "skill", "knowledge", "competency", "qualification")
STORY_FIELDS = (
    "headline",
    "who_does_this_work",
    "external_problem",
    "internal_problem",
    "why_it_matters",
    "whats_at_stake",
    "success_looks_like",
    "summary",
)


def role_query(role: Role, aliases: Iterable[TitleAlias], components: Iterable[Component]) -> CoderQuery:
    """Return the coder query for `role` from the given aliases and components (no database access)."""
    plan = role.plan if isinstance(role.plan, list) else []
    story_parts = [getattr(role, f) or "" for f in STORY_FIELDS] + [s for s in plan if isinstance(s, str)]
    return CoderQuery(
        title=role.title,
        aliases=tuple(a.alias for a in aliases if a.status != REJECTED),
        components=tuple(c.text for c in components if c.kind in COMPONENT_KINDS),
        story=" ".join(p.strip() for p in story_parts if p and p.strip()),
    )


class _AliasText(NamedTuple):
    alias: str
    status: str


class _ComponentText(NamedTuple):
    text: str
    kind: str


def _with_content(roles: Iterable[Role]) -> list[Role]:
    """Attach the texts the coder reads (live aliases, work components): two queries for any number of roles.

    Plain tuples, not model instances: a page of 50 roles reads thousands of these rows.
    """
    loaded = list(roles)
    ids = [r.pk for r in loaded]
    aliases: dict[int, list[_AliasText]] = defaultdict(list)
    for role_id, alias, status in (
        TitleAlias.objects.filter(role_id__in=ids).exclude(status=REJECTED).order_by("pk")
        .values_list("role_id", "alias", "status")
    ):
        aliases[role_id].append(_AliasText(alias, status))
    components: dict[int, list[_ComponentText]] = defaultdict(list)
    for role_id, text, kind in (
        Component.objects.filter(role_id__in=ids, kind__in=COMPONENT_KINDS).order_by("kind", "position", "pk")
        .values_list("role_id", "text", "kind")
    ):
        components[role_id].append(_ComponentText(text, kind))
    for role in loaded:
        role.coder_aliases, role.coder_components = aliases[role.pk], components[role.pk]
    return loaded


def suggest_for_role(role: Role, k: int = 5) -> list[Suggestion]:
    """Return up to k detailed SOC codes for `role`, best first (2 queries)."""
    return suggest_for_roles([role], k=k).get(role.pk, [])


def suggest_for_roles(roles: Iterable[Role], k: int = 5) -> dict[int, list[Suggestion]]:
    """Return {role pk: suggestions} for `roles` in one coder batch; 2 queries for any number of roles."""
    loaded = _with_content(roles)
    if not loaded:
        return {}
    queries = [role_query(r, r.coder_aliases, r.coder_components) for r in loaded]
    return {r.pk: s for r, s in zip(loaded, suggest_many(queries, k=k), strict=True)}


# ---------------------------------------------------------------------------------------------
# The per-role cache: suggestions for pages of roles, fresh whenever the role's text changes


@dataclass(frozen=True)
class RankedCode:
    """One suggestion as the review pages show it: the code, its groups, its score and evidence."""

    code: str
    title: str
    score: float
    evidence: tuple[str, ...]
    chain: tuple[tuple[str, str], ...]  # (code, title) of its major, minor and broad groups, top down
    confident: bool = False  # the best code, at a score of 90 % top-1 precision (taxonomy.coder.Suggestion)
    unsure: bool = False  # the best code, with a low score or a close second

    @property
    def lineage(self) -> set[str]:
        return {self.code, *(code for code, _ in self.chain)}


@dataclass(frozen=True)
class RoleSuggestionSet:
    """The coder's suggestions for one role, best first, with what the queue's flags read."""

    codes: tuple[RankedCode, ...]

    @property
    def top_codes(self) -> set[str]:
        return {s.code for s in self.codes}

    @property
    def top3_lineage(self) -> set[str]:
        return set().union(*(s.lineage for s in self.codes[:3])) if self.codes else set()

    @property
    def confident_code(self) -> str:
        """The best code if the coder is confident of it, else ""."""
        return self.codes[0].code if self.codes and self.codes[0].confident else ""

    @property
    def unsure(self) -> bool:
        return bool(self.codes) and self.codes[0].unsure


def query_hash(query: CoderQuery) -> str:
    """A fingerprint of what the coder reads about a role: suggestions are recomputed when it changes."""
    payload = json.dumps([query.title, list(query.aliases), list(query.components), query.story])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _chains(codes: set[str]) -> dict[str, tuple[tuple[str, str], ...]]:
    """The (code, title) groups above each detailed SOC code, top down, in one query."""
    chains = {}
    rows = OccupationCode.objects.soc().filter(code__in=codes).select_related("parent__parent__parent")
    for occupation in rows:
        chain, node = [], occupation.parent
        while node is not None:
            chain.append((node.code, node.title))
            node = node.parent if node.parent_id else None
        chains[occupation.code] = tuple(reversed(chain))
    return chains


def _as_set(suggestions: list[dict]) -> RoleSuggestionSet:
    return RoleSuggestionSet(
        tuple(
            RankedCode(s["code"], s["title"], s["score"], tuple(s["evidence"]), tuple(tuple(c) for c in s["chain"]),
                       s.get("confident", False), s.get("unsure", False))
            for s in suggestions
        )
    )


def cached_suggestions(roles: Iterable[Role], k: int = 5, *, stale_ok: bool = False) -> dict[int, RoleSuggestionSet]:
    """Return {role pk: the coder's top `k`} for `roles`, computing only the missing or stale ones.

    A role's cached row is used while the coder's version and the hash of the role's text match;
    the others are computed in one coder batch and stored. Queries: the roles' aliases and
    components (2) and the cache rows (1); when some were stale, the codes' groups (1) and one
    upsert (1). A page of any size costs the same.

    With `stale_ok` (the mapping queue), a stale row of the current coder is shown as it is, and
    a job recomputes it on the task worker (`roles.tasks.refresh_suggestions`): a role's text
    changes with every alias rejected, and recomputing a page's roles costs about 15 ms of CPU
    each, in the request. Only roles with no row for this coder are computed here.
    """
    loaded = _with_content(roles)
    if not loaded:
        return {}
    version = coder_version()
    queries = {r.pk: role_query(r, r.coder_aliases, r.coder_components) for r in loaded}
    hashes = {pk: query_hash(q) for pk, q in queries.items()}
    cached = {row.role_id: row for row in RoleSuggestions.objects.filter(role_id__in=list(queries))}
    result: dict[int, RoleSuggestionSet] = {}
    stale = []
    later = []
    for pk in queries:
        row = cached.get(pk)
        if row is not None and row.coder_version == version and row.content_hash == hashes[pk]:
            result[pk] = _as_set(row.suggestions[:k])
        elif stale_ok and row is not None and row.coder_version == version:
            result[pk] = _as_set(row.suggestions[:k])
            later.append(pk)
        else:
            stale.append(pk)
    if later:
        from framework.tasks import enqueue_after_commit

        from .tasks import refresh_suggestions

        enqueue_after_commit(refresh_suggestions, sorted(later))
    if stale:
        fresh = suggest_many([queries[pk] for pk in stale], k=max(k, SUGGESTIONS_KEPT))
        chains = _chains({s.code for suggestions in fresh for s in suggestions})
        rows = []
        for pk, suggestions in zip(stale, fresh, strict=True):
            stored = [
                {"code": s.code, "title": s.title, "score": s.score, "evidence": list(s.evidence),
                 "chain": [list(c) for c in chains.get(s.code, ())], "confident": s.confident, "unsure": s.unsure}
                for s in suggestions
            ]
            as_set = _as_set(stored)
            rows.append(RoleSuggestions(
                role_id=pk, coder_version=version, content_hash=hashes[pk], suggestions=stored,
                top_codes=_joined(as_set.top_codes), top3_lineage=_joined(as_set.top3_lineage),
                confident_code=as_set.confident_code, unsure=as_set.unsure, computed_at=timezone.now(),
            ))
            result[pk] = _as_set(stored[:k])
        # A cache row, not curated data: no history (like the coder's index on disk).
        RoleSuggestions.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["role"],
            update_fields=["coder_version", "content_hash", "suggestions", "top_codes", "top3_lineage",
                           "confident_code", "unsure", "computed_at"],
        )
    return result


def _joined(codes: set[str]) -> str:
    return f",{','.join(sorted(codes))}," if codes else ""


# ---------------------------------------------------------------------------------------------
# Suggested mappings


@dataclass
class SuggestedMappings:
    """What `suggest_mappings` made: the new mappings, and the roles it passed over with why."""

    created: list[ClassificationMapping] = field(default_factory=list)
    passed: list[tuple[Role, str]] = field(default_factory=list)


# Up to this many roles a curator's request suggests at once and lists the outcome per role; more
# go to the task worker (roles.tasks.suggest_mappings_later), which tells the curator in the bell.
SUGGEST_IN_REQUEST = 25
# Sent by the task worker when suggestions it made for a curator are done: actor, result (SuggestedMappings).
suggested = Signal()


def suggest_mappings_later(*, roles: QuerySet[Role], actor: Any) -> int:
    """Queue `suggest_mappings` for `roles` as `actor` on the task worker, after the commit; return how many roles.

    The job checks the actor's permission again when it runs (it may have been withdrawn).
    """
    from framework.tasks import enqueue_after_commit

    from .tasks import suggest_mappings_job

    role_ids = sorted(roles.values_list("pk", flat=True))
    if role_ids:
        enqueue_after_commit(suggest_mappings_job, role_ids, actor.pk)
    return len(role_ids)


def roles_without_detailed_mapping() -> QuerySet[Role]:
    """Roles that have no mapping (other than a rejected one) to a detailed or O*NET-SOC code."""
    detailed = ClassificationMapping.objects.filter(
        role=OuterRef("pk"),
        occupation__level__in=[OccupationCode.Level.DETAILED, OccupationCode.Level.ONET],
    ).exclude(status=ClassificationMapping.Status.REJECTED)
    return Role.objects.exclude(Exists(detailed))


@transaction.atomic
def suggest_mappings(
    *, roles: Iterable[Role], actor: Any, min_score: float = 0.0, dry_run: bool = False
) -> SuggestedMappings:
    """Give each role without a detailed mapping a "suggested" mapping to the coder's best code.

    The mapping needs review like any other (`actor` is its creator, so someone else must
    approve it) and records the coder's score and version. Roles that already have a detailed
    mapping, whose best score is under `min_score`, or that already have (or had rejected) the
    suggested code are passed over with the reason. Writes with history, in bulk; nothing with
    `dry_run`.
    """
    result = SuggestedMappings()
    roles = list(roles)
    eligible = set(roles_without_detailed_mapping().filter(pk__in=[r.pk for r in roles]).values_list("pk", flat=True))
    suggestions = cached_suggestions([r for r in roles if r.pk in eligible], k=1)
    existing = set(
        ClassificationMapping.objects.filter(role_id__in=eligible).values_list("role_id", "code")
    )
    best_codes = {s.codes[0].code for s in suggestions.values() if s.codes}
    occupations = {o.code: o for o in OccupationCode.objects.soc().filter(code__in=best_codes)}
    version = coder_version()
    for role in roles:
        found = suggestions.get(role.pk)
        if role.pk not in eligible:
            result.passed.append((role, "it already has a detailed mapping"))
        elif found is None or not found.codes:
            result.passed.append((role, "the coder has no suggestion for its text"))
        elif found.codes[0].score < min_score:
            best = found.codes[0]
            result.passed.append((role, f"the best code, {best.code}, scores {best.score:.2f} < {min_score:.2f}"))
        elif (role.pk, found.codes[0].code) in existing:
            result.passed.append((role, f"it already has (or had) a mapping to {found.codes[0].code}"))
        else:
            best = found.codes[0]
            mapping = ClassificationMapping(
                role=role, code=best.code, occupation=occupations.get(best.code), title=best.title,
                source=ClassificationMapping.Source.SUGGESTED, suggested_score=Decimal(f"{best.score:.4f}"),
                coder_version=version,
            )
            workflow.start(mapping, actor=actor)
            result.created.append(mapping)
    if result.created and not dry_run:
        # Through the review core: history rows, and the roles' derived rows marked stale.
        workflow.persist(actor=actor, reason=f"SOC coder suggestion ({version})",
                         creates={ClassificationMapping: result.created})
    return result
