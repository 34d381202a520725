"""Reads that span models: the role directory, the card page, adjacency and compare.

Each selector runs a fixed number of queries whatever the number of rows it reads.
"""

from __future__ import annotations

import re
import string
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.conf import settings
from django.db.models import F, Prefetch, Q, QuerySet
from django.db.models.functions import Coalesce

from taxonomy.models import Level

from .adjacency import AdjacencyIndex, AdjacencySettings, Adjacent, band, nearest_for, nearest_roles, paths_of_roles
from .models import ClassificationMapping, Component, Publication, Role, TitleAlias


def published_among(items: Iterable[Any]) -> list[Any]:
    """Those of `items` (roles, aliases, mappings; others ignored) that a release ever published, in order.

    One query, whatever the number of items.
    """
    items = [i for i in items if i.pk is not None and Publication.type_of(i) is not None]
    if not items:
        return []
    ids: dict[str, list[int]] = defaultdict(list)
    for item in items:
        ids[Publication.type_of(item)].append(item.pk)
    # One IN list per kind: a bulk delete of thousands of rows stays one short condition each.
    query = Q()
    for kind, pks in ids.items():
        query |= Q(item_type=kind, item_id__in=pks)
    found = set(Publication.objects.filter(query).values_list("item_type", "item_id"))
    return [i for i in items if (Publication.type_of(i), i.pk) in found]


def can_view_roles(user: Any) -> bool:
    """Whether `user` may read the role pages: active staff holding roles.view_role."""
    return bool(user.is_authenticated and user.is_active and user.is_staff and user.has_perm("roles.view_role"))


def pending_review_q() -> Q:
    """Roles with a pending alias or a mapping that needs review (from their digest: no scan of the items)."""
    return Q(digest__aliases_pending__gt=0) | Q(digest__mappings_needs_review__gt=0)


def role_directory() -> QuerySet[Role]:
    """Roles with their node, family and level joined and review counts annotated, in code order.

    One query per page whatever the page size: the counts are the role digests' (roles.derived).
    """
    return (
        Role.objects.with_related()
        .annotate(
            alias_count=Coalesce(
                F("digest__aliases_pending") + F("digest__aliases_approved") + F("digest__aliases_rejected"), 0
            ),
            pending_aliases=Coalesce(F("digest__aliases_pending"), 0),
            mapping_count=Coalesce(
                F("digest__mappings_needs_review") + F("digest__mappings_approved") + F("digest__mappings_rejected"), 0
            ),
            pending_mappings=Coalesce(F("digest__mappings_needs_review"), 0),
        )
        .order_by("code", "pk")
    )


def role_for_card(code: str) -> Role:
    """The role with everything its card shows, prefetched: four queries in all.

    Raises Role.DoesNotExist for an unknown code.
    """
    return (
        Role.objects.select_related(
            "node", "node__parent", "node__parent__parent", "node__parent__parent__parent", "level", "replaced_by"
        )
        .prefetch_related(
            Prefetch("components", queryset=Component.objects.order_by("kind", "position", "pk")),
            Prefetch("aliases", queryset=TitleAlias.objects.select_related("decided_by").order_by("pk")),
            Prefetch(
                "mappings",
                # Creation order, as the card prints them.
                queryset=ClassificationMapping.objects.select_related("occupation", "decided_by").order_by("pk"),
            ),
        )
        .get(code=code)
    )


@dataclass
class ComponentSection:
    """One kind of component as the card prints it: the label, the count and the items."""

    kind: str
    label: str
    items: list[Component] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.items)


def component_sections(role: Role) -> list[ComponentSection]:
    """The six component kinds in card order, each with its items (uses the prefetch)."""
    sections = {kind: ComponentSection(kind, label) for kind, label in Component.Kind.choices}
    for item in sorted(role.components.all(), key=lambda c: (c.position, c.pk)):
        sections[item.kind].items.append(item)
    return [sections[kind] for kind in Component.KIND_ORDER]


def split_aliases(role: Role) -> tuple[list[TitleAlias], list[TitleAlias]]:
    """Return (shown, rejected) aliases: the card's table, and those a reviewer rejected."""
    shown, rejected = [], []
    for alias in role.aliases.all():
        (rejected if alias.status == TitleAlias.Status.REJECTED else shown).append(alias)
    return shown, rejected


def split_mappings(role: Role) -> tuple[dict[str, list[ClassificationMapping]], list[ClassificationMapping]]:
    """Return ({scheme label: live mappings}, rejected): the card lists each scheme, rejected ones not."""
    labels = dict(ClassificationMapping.Scheme.choices)
    shown: dict[str, list[ClassificationMapping]] = {}
    rejected = []
    for mapping in role.mappings.all():
        if mapping.status == ClassificationMapping.Status.REJECTED:
            rejected.append(mapping)
        else:
            shown.setdefault(mapping.scheme, []).append(mapping)
    # The card prints its scheme line even when no mapping is left.
    schemes = sorted(shown) or [ClassificationMapping.Scheme.ONET_SOC.value]
    return {labels.get(s, s): shown.get(s, []) for s in schemes}, rejected


def adjacent_roles(role: Role, n: int | None = None, *, index: AdjacencyIndex | None = None) -> list[Adjacent]:
    """The `n` nearest roles to `role` (ROLEBOOK_ADJACENT_ROLES_SHOWN by default), nearest first.

    At most six queries whatever the number of roles (none when an `index` is given); the
    role itself and roles at distance 1 are left out.
    """
    if n is None:
        n = getattr(settings, "ROLEBOOK_ADJACENT_ROLES_SHOWN", 10)
    if index is None:
        return nearest_roles(role, n)
    if role.pk not in index.position:
        return []
    return index.nearest(role.pk, n)


# Mapping review: how the nearest roles are mapped.


class NeighbourMappings(NamedTuple):
    """A neighbour of a role in the mapping queue, with how that neighbour is mapped."""

    role: Role
    distance: float
    band: str
    mappings: list[ClassificationMapping]


def neighbour_mappings(roles: Iterable[Role | int], k: int = 3) -> dict[int, list[NeighbourMappings]]:
    """For each role, its `k` nearest roles with their mappings that are not rejected.

    A constant number of queries whatever the number of roles: nearest_for (the levels, the
    roles' paths, one per ring of the tree it reads), the neighbour roles, their mappings.
    """
    role_ids = [r if isinstance(r, int) else r.pk for r in roles]
    if not role_ids:
        return {}
    nearest = nearest_for(role_ids, k)
    neighbour_ids = {adj.pk for adjs in nearest.values() for adj in adjs}
    neighbours = Role.objects.select_related("level").in_bulk(neighbour_ids) if neighbour_ids else {}
    by_role: dict[int, list[ClassificationMapping]] = defaultdict(list)
    if neighbour_ids:
        mappings = (
            ClassificationMapping.objects.filter(role_id__in=neighbour_ids)
            .exclude(status=ClassificationMapping.Status.REJECTED)
            .select_related("occupation")
            .order_by("role_id", "scheme", "code", "pk")
        )
        for mapping in mappings:
            by_role[mapping.role_id].append(mapping)
    return {
        pk: [
            NeighbourMappings(neighbours[adj.pk], adj.distance, adj.band, by_role.get(adj.pk, []))
            for adj in adjs
            if adj.pk in neighbours
        ]
        for pk, adjs in nearest.items()
    }


def soc_prefix(code: str) -> str:
    """The significant part of a SOC / O*NET-SOC code: 15-0000 → "15-", 15-1250 → "15-125".

    A group's code ends in zeros; what precedes them is shared by every code under it.
    """
    base, _, detail = code.partition(".")
    major, _, rest = base.partition("-")
    significant = f"{major}-{rest.rstrip('0')}"
    if detail and detail != "00":
        return f"{base}.{detail}"
    return significant


def codes_agree(a: str, b: str) -> bool:
    """Whether two SOC codes are the same or one is a group that contains the other."""
    pa, pb = soc_prefix(a), soc_prefix(b)
    return pa.startswith(pb) or pb.startswith(pa)


def mapping_disagrees(mapping: ClassificationMapping, neighbours: Iterable[NeighbourMappings]) -> bool:
    """True when the neighbours are mapped in the mapping's scheme and none of them agrees.

    A neighbour agrees when one of its mappings (rejected ones are not loaded) has the same
    code or a group containing it, or a code inside the mapping's group. Neighbours with no
    mapping in the scheme have no opinion; with no opinions at all nothing is flagged.
    """
    opinions = 0
    for neighbour in neighbours:
        codes = [m.code for m in neighbour.mappings if m.scheme == mapping.scheme]
        if not codes:
            continue
        opinions += 1
        if any(codes_agree(mapping.code, code) for code in codes):
            return False
    return opinions > 0


def neighbour_agreement(mapping: ClassificationMapping, neighbours: Iterable[NeighbourMappings]) -> dict[str, int]:
    """How many of the neighbours agree with `mapping`, differ from it, or are not mapped (no queries)."""
    counts = {"agree": 0, "differ": 0, "unmapped": 0, "total": 0}
    for neighbour in neighbours:
        counts["total"] += 1
        codes = [m.code for m in neighbour.mappings if m.scheme == mapping.scheme]
        if not codes:
            counts["unmapped"] += 1
        elif any(codes_agree(mapping.code, code) for code in codes):
            counts["agree"] += 1
        else:
            counts["differ"] += 1
    return counts


# Compare side by side.

_PUNCTUATION = re.compile(f"[{re.escape(string.punctuation)}’‘“”–—]+")


def normalise_text(text: str) -> str:
    """Case-folded text with punctuation dropped and spaces collapsed, for matching items."""
    return " ".join(_PUNCTUATION.sub(" ", text).casefold().split())


@dataclass
class Matched:
    """Items of one section matched by normalised text: shared, and unique to either role."""

    shared: list[tuple[Any, Any]]
    only_a: list[Any]
    only_b: list[Any]


def match_by_text(items_a: Iterable[Any], items_b: Iterable[Any], key) -> Matched:
    """Pair items whose key(item) normalises to the same text, in the order of `items_a`."""
    items_b = list(items_b)
    pool: dict[str, list[int]] = defaultdict(list)
    for j, item in enumerate(items_b):
        pool[normalise_text(key(item))].append(j)
    shared, only_a, used = [], [], set()
    for item in items_a:
        candidates = pool.get(normalise_text(key(item)))
        if candidates:
            j = candidates.pop(0)
            used.add(j)
            shared.append((item, items_b[j]))
        else:
            only_a.append(item)
    only_b = [item for j, item in enumerate(items_b) if j not in used]
    return Matched(shared, only_a, only_b)


@dataclass
class Comparison:
    """Two roles section by section, ready for the compare template."""

    a: Role
    b: Role
    level_rows: list[dict]
    components: list[dict]
    aliases: Matched
    mappings: Matched
    distance: float | None
    band: str | None


def compare_roles(a: Role, b: Role) -> Comparison:
    """Compare two roles loaded with role_for_card(); no queries beyond the adjacency index (3)."""
    level_rows = []
    for field_name, label in a.level.ATTRIBUTES:
        va, vb = getattr(a.level, field_name), getattr(b.level, field_name)
        level_rows.append({"label": label, "a": va, "b": vb, "differs": va != vb})
    sections_b = {s.kind: s for s in component_sections(b)}
    components = []
    for section in component_sections(a):
        other = sections_b[section.kind]
        matched = match_by_text(section.items, other.items, key=lambda c: c.text)
        components.append(
            {"label": section.label, "count_a": section.count, "count_b": other.count, "matched": matched}
        )
    aliases = match_by_text(list(a.aliases.all()), list(b.aliases.all()), key=lambda x: x.alias)
    mappings = match_by_text(list(a.mappings.all()), list(b.mappings.all()), key=lambda m: f"{m.scheme} {m.code}")
    rows, paths = paths_of_roles(Role.objects.filter(pk__in=[a.pk, b.pk]))
    # Every level: the rank gaps are scaled by the widest gap of each track.
    levels = Level.objects.order_by().values_list("pk", "track", "rank")
    index = AdjacencyIndex(rows, (), levels, AdjacencySettings.from_settings(), paths=paths)
    dist = band_name = None
    if a.pk != b.pk:
        dist = round(index.distance(index.coordinates_of(a.pk), index.coordinates_of(b.pk)), 4)
        band_name = band(dist, index.conf)
    return Comparison(a, b, level_rows, components, aliases, mappings, dist, band_name)


def role_lookup(text: str, limit: int = 20) -> list[dict[str, str]]:
    """Roles whose code starts with, or title holds, `text`: [{code, title}] by code; one query."""
    text = text.strip()
    if not text:
        return []
    matches = Role.objects.filter(Q(code__istartswith=text) | Q(title__icontains=text)).order_by("code")
    return [{"code": code, "title": title} for code, title in matches.values_list("code", "title")[:limit]]
