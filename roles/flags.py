"""Alias flags: what a reviewer should look at twice, computed for a set of aliases in a fixed number of queries.

Five flags, each with the detail a reviewer needs: "conflict" (another role uses the same text),
"role_title" (another role's title), "near_duplicate" (the same words as a sibling, ignoring case,
punctuation, spacing and I/1), "level" (a word at odds with the role's level, from
settings.REVIEW_LEVEL_WORDS) and "reference_elsewhere" (an official title filed under a SOC code the
role is not approved under). The review queue shows them per page (`alias_flags`); roles.derived
stores them per alias (AliasSignals) so the queue can filter by them with an index.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.db.models.functions import Lower

from taxonomy.models import OccupationCode, ReferenceTitle

from .models import ClassificationMapping, Role, TitleAlias


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
# The label each flag carries on a queue row (alias_flags and stored_flags agree).
LABELS = {
    "conflict": "Used by another role",
    "role_title": "Another role's title",
    "near_duplicate": "Near-duplicate",
    "level": "At odds with the level",
    "reference_elsewhere": "Official title of another SOC code",
}

# Punctuation that separates words in an alias; roman numerals compare equal to digits.
# Kept short: each is one nested REPLACE in SQL, and SQLite's parser stack is shallow.
_SEPARATORS = "-/.,&"
_ROMAN = [("iii", "3"), ("ii", "2"), ("iv", "4"), ("i", "1")]


def duplicate_key(text: str) -> str:
    """Return the key near-duplicates share: case, punctuation, spacing and I/1 ignored.

    "Machine Learning I", "machine-learning 1" and "Machine  Learning 1." share one key.
    """
    lowered = text.lower()
    for sep in _SEPARATORS:
        lowered = lowered.replace(sep, " ")
    roman = dict(_ROMAN)
    return "".join(roman.get(word, word) for word in lowered.split())


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
            return Flag("level", LABELS["level"], f"“{match.group(2)}” ({name}) on {level_code}")
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
        .order_by()
        .values_list("text_lower", "role_id", "role__code")
    ):
        used_by[text].add((role_id, role_code))
    titled: dict[str, set[tuple[int, str]]] = defaultdict(set)
    for text, role_id, role_code in (
        Role.objects.annotate(title_lower=Lower("title"))
        .filter(title_lower__in=lowers)
        .order_by()
        .values_list("title_lower", "pk", "code")
    ):
        titled[text].add((role_id, role_code))
    keys: dict[tuple[int, str], list[tuple[int, str]]] = defaultdict(list)
    for pk, role_id, text in TitleAlias.objects.filter(role_id__in=role_ids).order_by().values_list(
        "pk", "role_id", "alias"
    ):
        keys[(role_id, duplicate_key(text))].append((pk, text))
    references = reference_evidence(aliases) if references is None else references
    approved = approved_detailed_codes(role_ids)

    flags: dict[int, list[Flag]] = {}
    for a in aliases:
        found = []
        text = a.alias.lower()
        others = sorted(code for rid, code in used_by[text] if rid != a.role_id)
        if others:
            found.append(Flag("conflict", LABELS["conflict"], ", ".join(others[:3])))
        titles = sorted(code for rid, code in titled[text] if rid != a.role_id)
        if titles:
            found.append(Flag("role_title", LABELS["role_title"], ", ".join(titles[:3])))
        twins = [t for pk, t in keys[(a.role_id, duplicate_key(a.alias))] if pk != a.pk]
        if twins:
            found.append(Flag("near_duplicate", LABELS["near_duplicate"], "; ".join(twins[:3])))
        level = a.role.level
        flag = level_flag(a.alias, level.code, level.rank)
        if flag:
            found.append(flag)
        if flag := reference_flag(references.get(a.pk, []), approved.get(a.role_id, set())):
            found.append(flag)
        flags[a.pk] = found
    return flags


def stored_flags(alias: TitleAlias) -> list[Flag]:
    """The flags roles.derived stored for `alias` (AliasSignals, loaded with select_related("signals")); no queries.

    What the queue shows: read, never recomputed per view. A new alias has none until the task
    worker's refresh (about a second after its commit).
    """
    try:
        signals = alias.signals
    except TitleAlias.signals.RelatedObjectDoesNotExist:
        return []
    details = signals.details or {}
    return [Flag(code, LABELS[code], details.get(code, "")) for code in LABELS if getattr(signals, code)]


def reference_flag(titles: list[ReferenceTitle], approved: set[str]) -> Flag | None:
    """Flag an alias that an official source files under a code the role is not approved under."""
    if not titles or not approved or any(t.soc_code in approved for t in titles):
        return None
    where = ", ".join(sorted({t.soc_code for t in titles})[:3])
    return Flag(
        "reference_elsewhere", LABELS["reference_elsewhere"],
        f"{titles[0].get_source_display()} under {where}; the role is approved under {', '.join(sorted(approved))}",
    )
