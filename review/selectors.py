"""Reads for review: who may decide what, the queues, alias flags, and the reference lookups.

Everything here reads; nothing writes. Queue helpers return querysets so views can chain
filters, sort and paginate, and per-row extras (flags, what changed) are computed for a
whole page in a constant number of queries.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db.models import CharField, Count, Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat, Lower, Replace, Substr, TruncDate
from django.utils import timezone

from roles.models import ClassificationMapping, Decision, Role, TitleAlias
from roles.soc import RankedCode, RoleSuggestionSet, cached_suggestions
from roles.workflow import four_eyes_q, four_eyes_reason  # noqa: F401 - the queues read them from here
from taxonomy.coder import CoderQuery, coder_version, suggest
from taxonomy.models import OccupationCode, ReferenceTitle

from .groups import REVIEW_ALIAS, REVIEW_MAPPING

GROUP_LEVELS = (OccupationCode.Level.MAJOR, OccupationCode.Level.MINOR, OccupationCode.Level.BROAD)


# ---------------------------------------------------------------------------------------------
# Permissions


def review_permission(item: Any) -> str:
    """Return the permission needed to decide `item` (an alias or a mapping, instance or class)."""
    model = item if isinstance(item, type) else type(item)
    if issubclass(model, TitleAlias):
        return REVIEW_ALIAS
    if issubclass(model, ClassificationMapping):
        return REVIEW_MAPPING
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
    return occupation is not None and occupation.level in GROUP_LEVELS


def occupation_ancestors(pk: int) -> list[OccupationCode]:
    """Return [occupation, parent, grandparent, …] up to the major group, in one query.

    Raises OccupationCode.DoesNotExist for an unknown pk.
    """
    # An O*NET-SOC occupation sits four levels below its major group.
    occupation = OccupationCode.objects.select_related("parent__parent__parent__parent").get(pk=pk)
    chain = [occupation]
    while chain[-1].parent_id is not None and len(chain) < 5:
        chain.append(chain[-1].parent)
    return chain


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


@dataclass(frozen=True)
class Flag:
    code: str
    label: str
    detail: str = ""


FLAG_CHOICES = [
    ("conflict", "Used by another role"),
    ("role_title", "Another role's title"),
    ("near_duplicate", "Near-duplicate in this role"),
    ("level", "At odds with the level"),
    ("reference_elsewhere", "Official title of another SOC code"),
]
DETAILED_LEVELS = (OccupationCode.Level.DETAILED, OccupationCode.Level.ONET)

# Punctuation that separates words in an alias; roman numerals compare equal to digits.
# Kept short: each is one nested REPLACE in SQL, and SQLite's parser stack is shallow.
_SEPARATORS = "-/.,&"
_ROMAN = [("iii", "3"), ("ii", "2"), ("iv", "4"), ("i", "1")]


def duplicate_key(text: str) -> str:
    """Return the key near-duplicates share: case, punctuation, spacing and I/1 ignored.

    "Machine Learning I", "machine-learning 1" and "Machine  Learning 1." share one key.
    The SQL twin is `duplicate_key_expression()`.
    """
    lowered = text.lower()
    for sep in _SEPARATORS:
        lowered = lowered.replace(sep, " ")
    roman = dict(_ROMAN)
    return "".join(roman.get(word, word) for word in lowered.split())


def duplicate_key_expression(field: str = "alias"):
    """The SQL expression of `duplicate_key()`, for filtering by the near-duplicate flag."""
    expr = Lower(field, output_field=CharField())
    for sep in _SEPARATORS:
        expr = Replace(expr, Value(sep), Value(" "))
    expr = Concat(Value(" "), expr, Value(" "), output_field=CharField())
    for roman, digit in _ROMAN:
        expr = Replace(expr, Value(f" {roman} "), Value(f" {digit} "))
    return Replace(expr, Value(" "), Value(""))


def _role_key_expression():
    return Concat(Cast("role_id", CharField()), Value(":"), duplicate_key_expression(), output_field=CharField())


@lru_cache(maxsize=8)
def _level_pattern(words: tuple[str, ...]) -> str:
    # POSIX-compatible word boundaries: the same pattern runs in Python and in PostgreSQL.
    return r"(^|[^a-z0-9])(" + "|".join(re.escape(w).replace(r"\ ", " ") for w in words) + r")([^a-z0-9]|$)"


def _level_rules() -> list[tuple[str, str, int | None, int | None]]:
    rules = []
    for name, rule in settings.REVIEW_LEVEL_WORDS.items():
        rules.append((name, _level_pattern(tuple(rule["words"])), rule.get("max_rank"), rule.get("min_rank")))
    return rules


def level_flag(alias_text: str, level_code: str, rank: int) -> Flag | None:
    """Return a flag when the alias carries a word at odds with the role's level (no queries)."""
    for name, pattern, max_rank, min_rank in _level_rules():
        match = re.search(pattern, alias_text, re.IGNORECASE)
        if not match:
            continue
        if (max_rank is not None and rank > max_rank) or (min_rank is not None and rank < min_rank):
            return Flag("level", "At odds with the level", f"“{match.group(2)}” ({name}) on {level_code}")
    return None


def reference_evidence(aliases: list[TitleAlias]) -> dict[int, list[ReferenceTitle]]:
    """The official titles (O*NET alternate, BLS direct match) equal to each alias, keyed by pk; one query."""
    if not aliases:
        return {}
    found: dict[str, list[ReferenceTitle]] = defaultdict(list)
    for title in ReferenceTitle.objects.matching(a.alias for a in aliases).order_by("soc_code", "source"):
        found[title.title_lower].append(title)
    return {a.pk: found.get(a.alias.lower(), []) for a in aliases}


def approved_detailed_codes(role_ids: set[int]) -> dict[int, set[str]]:
    """The detailed SOC codes each role is approved under (O*NET-SOC codes read as their SOC code); one query."""
    codes: dict[int, set[str]] = defaultdict(set)
    for role_id, code in (
        ClassificationMapping.objects.approved()
        .filter(role_id__in=role_ids, occupation__level__in=DETAILED_LEVELS)
        .values_list("role_id", "code")
    ):
        codes[role_id].add(code[:7])
    return codes


def alias_flags(
    aliases: list[TitleAlias], references: dict[int, list[ReferenceTitle]] | None = None
) -> dict[int, list[Flag]]:
    """Return the flags of each alias in `aliases` (a page), keyed by pk, in five queries.

    Queries: aliases of other roles with the same text; roles whose title equals an alias;
    the sibling aliases of the page's roles; the official titles equal to an alias; the page
    roles' approved detailed codes (`references`, when the caller has them, saves one).
    Aliases need `role__level` loaded (with_related()).
    """
    if not aliases:
        return {}
    lowers = {a.alias.lower() for a in aliases}
    role_ids = {a.role_id for a in aliases}
    used_by: dict[str, set[str]] = defaultdict(set)
    for text, role_id, role_code in (
        TitleAlias.objects.annotate(text_lower=Lower("alias"))
        .filter(text_lower__in=lowers)
        .values_list("text_lower", "role_id", "role__code")
    ):
        used_by[text].add((role_id, role_code))
    titled: dict[str, set[tuple[int, str]]] = defaultdict(set)
    for text, role_id, role_code in (
        Role.objects.annotate(title_lower=Lower("title"))
        .filter(title_lower__in=lowers)
        .values_list("title_lower", "pk", "code")
    ):
        titled[text].add((role_id, role_code))
    keys: dict[tuple[int, str], list[tuple[int, str]]] = defaultdict(list)
    for pk, role_id, text in TitleAlias.objects.filter(role_id__in=role_ids).values_list("pk", "role_id", "alias"):
        keys[(role_id, duplicate_key(text))].append((pk, text))
    references = reference_evidence(aliases) if references is None else references
    approved = approved_detailed_codes(role_ids)

    flags: dict[int, list[Flag]] = {}
    for a in aliases:
        found = []
        text = a.alias.lower()
        others = sorted(code for rid, code in used_by[text] if rid != a.role_id)
        if others:
            found.append(Flag("conflict", "Used by another role", ", ".join(others[:3])))
        titles = sorted(code for rid, code in titled[text] if rid != a.role_id)
        if titles:
            found.append(Flag("role_title", "Another role's title", ", ".join(titles[:3])))
        twins = [t for pk, t in keys[(a.role_id, duplicate_key(a.alias))] if pk != a.pk]
        if twins:
            found.append(Flag("near_duplicate", "Near-duplicate", "; ".join(twins[:3])))
        level = a.role.level
        flag = level_flag(a.alias, level.code, level.rank)
        if flag:
            found.append(flag)
        if flag := reference_flag(references.get(a.pk, []), approved.get(a.role_id, set())):
            found.append(flag)
        flags[a.pk] = found
    return flags


def reference_flag(titles: list[ReferenceTitle], approved: set[str]) -> Flag | None:
    """Flag an alias that an official source files under a code the role is not approved under."""
    if not titles or not approved or any(t.soc_code in approved for t in titles):
        return None
    where = ", ".join(sorted({t.soc_code for t in titles})[:3])
    return Flag(
        "reference_elsewhere", "Official title of another SOC code",
        f"{titles[0].get_source_display()} under {where}; the role is approved under {', '.join(sorted(approved))}",
    )


def filter_alias_flag(qs: QuerySet[TitleAlias], flag: str) -> QuerySet[TitleAlias]:
    """Keep the aliases that carry `flag` (one of FLAG_CHOICES); raises ValueError for another."""
    if flag == "conflict":
        shared = (
            TitleAlias.objects.annotate(text_lower=Lower("alias"))
            .values("text_lower")
            .annotate(roles=Count("role_id", distinct=True))
            .filter(roles__gt=1)
            .values("text_lower")
        )
        return qs.annotate(text_lower=Lower("alias")).filter(text_lower__in=shared)
    if flag == "role_title":
        titles = Role.objects.annotate(title_lower=Lower("title")).values("title_lower")
        # An alias equal to its own role's title is not this flag (unless another role shares it).
        other_titles = Role.objects.annotate(title_lower=Lower("title")).filter(
            title_lower=OuterRef("text_lower")
        ).exclude(pk=OuterRef("role_id"))
        return (
            qs.annotate(text_lower=Lower("alias"))
            .filter(text_lower__in=titles)
            .filter(Exists(other_titles))
        )
    if flag == "near_duplicate":
        # "role:key" pairs shared by two or more aliases, found in one grouped scan; an
        # uncorrelated IN is computed once (a correlated EXISTS would rescan per row).
        twins = (
            TitleAlias.objects.annotate(pair=_role_key_expression())
            .values("pair")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
            .values("pair")
        )
        return qs.annotate(pair=_role_key_expression()).filter(pair__in=twins)
    if flag == "reference_elsewhere":
        approved = ClassificationMapping.objects.approved().filter(
            role=OuterRef("role"), occupation__level__in=DETAILED_LEVELS
        )
        official = ReferenceTitle.objects.filter(title_lower=OuterRef("text_lower"))
        same_code = official.filter(
            soc_code__in=ClassificationMapping.objects.approved()
            .filter(role=OuterRef(OuterRef("role")), occupation__level__in=DETAILED_LEVELS)
            .annotate(soc=Substr("code", 1, 7))
            .values("soc")
        )
        return qs.annotate(text_lower=Lower("alias")).filter(Exists(official), Exists(approved), ~Exists(same_code))
    if flag == "level":
        condition = Q(pk__in=[])
        for _name, pattern, max_rank, min_rank in _level_rules():
            if max_rank is not None:
                condition |= Q(role__level__rank__gt=max_rank, alias__iregex=pattern)
            if min_rank is not None:
                condition |= Q(role__level__rank__lt=min_rank, alias__iregex=pattern)
        return qs.filter(condition)
    raise ValueError(f"Unknown alias flag {flag!r}: use one of {', '.join(c for c, _ in FLAG_CHOICES)}.")


# ---------------------------------------------------------------------------------------------
# Queues


def alias_queue() -> QuerySet[TitleAlias]:
    """All aliases with what a queue row shows joined in; filter with review.filters.AliasFilter."""
    # content_changed_by: the queue names who changed a reopened alias.
    return TitleAlias.objects.with_related().select_related("content_changed_by")


def mapping_queue() -> QuerySet[ClassificationMapping]:
    """All mappings with what a queue row shows joined in; filter with review.filters.MappingFilter."""
    # occupation__parent: the row shows the group a code sits in.
    return ClassificationMapping.objects.with_related().select_related(
        "occupation__parent", "content_changed_by"
    )


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


def backlog_by_status() -> dict[str, dict[str, int]]:
    """Return {"aliases": {status: n}, "mappings": {status: n}} in two queries."""
    result = {}
    for name, model in (("aliases", TitleAlias), ("mappings", ClassificationMapping)):
        counts = dict(model.objects.order_by().values_list("status").annotate(n=Count("pk")))
        result[name] = {value: counts.get(value, 0) for value, _label in model.Status.choices}
    return result


def pending_by_family(limit: int = 15) -> list[tuple[str, int]]:
    """Return [(family code, pending aliases + mappings)] largest first, in two queries."""
    totals: dict[str, int] = defaultdict(int)
    for qs in (TitleAlias.objects.pending(), ClassificationMapping.objects.needs_review()):
        for family, n in (
            qs.order_by().values_list("role__node__parent__code").annotate(n=Count("pk"))
        ):
            totals[family or "—"] += n
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def pending_by_level() -> list[tuple[str, int]]:
    """Return [(level code, pending aliases)] in level order, in one query."""
    rows = (
        TitleAlias.objects.pending().order_by().values_list("role__level__code", "role__level__track",
                                                            "role__level__rank")
        .annotate(n=Count("pk"))
    )
    return [(code, n) for code, _track, _rank, n in sorted(rows, key=lambda r: (r[1], r[2]))]


def pending_by_band() -> list[tuple[str, int]]:
    """Return [(confidence band, pending aliases)] low, medium, high, in one query."""
    bands = settings.ROLEBOOK_CONFIDENCE_BANDS
    counts = TitleAlias.objects.pending().aggregate(
        low=Count("pk", filter=Q(confidence__lt=bands["medium"])),
        medium=Count("pk", filter=Q(confidence__gte=bands["medium"], confidence__lt=bands["high"])),
        high=Count("pk", filter=Q(confidence__gte=bands["high"])),
    )
    return [(band, counts[band]) for band in ("low", "medium", "high")]


def pending_for(user: Any) -> dict[str, int]:
    """What waits for `user`: pending aliases and mappings they may decide (four-eyes left out); two queries."""
    if not (can_review(user, TitleAlias) or can_review(user, ClassificationMapping)):
        return {"aliases": 0, "mappings": 0, "can_review": False}
    return {
        "aliases": TitleAlias.objects.pending().exclude(four_eyes_q(user)).count(),
        "mappings": ClassificationMapping.objects.needs_review().exclude(four_eyes_q(user)).count(),
        "can_review": True,
    }


def decisions_per_day(days: int = 7) -> list[tuple[Any, int]]:
    """Return [(date, decisions)] for each of the last `days` days, oldest first, in one query."""
    today = timezone.localdate()
    start = today - timedelta(days=days - 1)
    counts = dict(
        Decision.objects.reviews().filter(created_at__date__gte=start)
        .annotate(day=TruncDate("created_at"))
        .order_by()
        .values_list("day")
        .annotate(n=Count("pk"))
    )
    return [(start + timedelta(days=i), counts.get(start + timedelta(days=i), 0)) for i in range(days)]



# ---------------------------------------------------------------------------------------------
# The SOC coder in the mapping review

CODER_FLAG = ("coder_disagrees", "Disagrees with the SOC coder")


@dataclass(frozen=True)
class SuggestionRow:
    """A suggestion for a mapping's role, and what a reviewer may do with it here."""

    suggestion: RankedCode
    relation: str  # "same" (already this code), "refine" (under the current code) or "replace"


@dataclass(frozen=True)
class CoderView:
    suggestions: list[SuggestionRow]
    disagrees: str  # why the mapping disagrees with the coder, or ""


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
    if mapping.occupation is not None and is_group_level(mapping.occupation) and mapping.code in suggestion.lineage:
        return "refine"
    if mapping.occupation is None and suggestion.code[:2] == mapping.code[:2]:
        return "refine"
    return "replace"


def coder_views(mappings: list[ClassificationMapping]) -> dict[int, CoderView]:
    """For a page of mappings: their roles' suggestions, how each relates to the mapping, the flag.

    Suggestions come from the per-role cache (roles.soc.cached_suggestions): a constant number
    of queries for any page.
    """
    if not mappings:
        return {}
    sets = cached_suggestions([m.role for m in mappings])
    views = {}
    for mapping in mappings:
        found = sets.get(mapping.role_id, RoleSuggestionSet(()))
        views[mapping.pk] = CoderView(
            [SuggestionRow(s, _relation(mapping, s)) for s in found.codes],
            coder_disagreement(mapping, found),
        )
    return views


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
