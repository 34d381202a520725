"""Adjacent roles: structural coordinates, the distance between two roles, and match bands.

A role's coordinates are where it sits in the taxonomy tree (superfunction → function →
family → specialization) and on the level ladder (track letter and rank: P1 < P2 < …; M1 …).

distance(a, b) = w_taxonomy · taxonomy_distance + w_level · level_distance, in [0, 1], where

- taxonomy_distance is the number of edges between the two specializations in the tree,
  divided by its largest possible value 2 × TREE_DEPTH. The tree hangs from an implicit root
  above the superfunctions, so two specializations with no common ancestor are 2 × 4 = 8
  edges apart: 0 (same specialization), 0.25 (same family), 0.5 (same function),
  0.75 (same superfunction) or 1 (nothing in common).
- level_distance is the rank gap divided by the largest gap in that track (P1..P6 → 5). Across
  tracks it is a fixed penalty (0.5) that grows to 1 with the gap in seniority, once the
  tracks are lined up by an offset (M1 sits beside P4): a senior professional and a team
  manager are a step apart, an entry-level analyst and an executive are far apart.

The functions here are pure and work on small tuples; `AdjacencyIndex` loads the coordinates
of every role in three queries and ranks them in Python.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from django.conf import settings

from taxonomy.models import Level, TaxonomyNode

# Levels of the tree below its implicit root: superfunction, function, family, specialization.
TREE_DEPTH = 4
KIND_SLOT = {kind: depth for kind, depth in TaxonomyNode.DEPTH.items()}

CLOSE, RELATED, DISTANT = "close", "related", "distant"
BANDS = (CLOSE, RELATED, DISTANT)
# O*NET's three tiers of related occupations, which the bands follow.
ONET_TIER = {CLOSE: "Primary-Short", RELATED: "Primary-Long", DISTANT: "Supplemental"}
# The key of track_spans() holding the widest seniority gap across tracks.
SENIORITY = "*"
# Floating point sums of weights may land a hair below 1.0 for "nothing in common".
_EPSILON = 1e-9

Path = tuple[str | None, str | None, str | None, str | None]


class Coordinates(NamedTuple):
    """Where a role sits: its node path from the superfunction down, and its level."""

    path: Path
    track: str
    rank: int


@dataclass(frozen=True)
class AdjacencySettings:
    """The weights, cross-track penalty and band thresholds, read from settings."""

    taxonomy_weight: float = 0.6
    level_weight: float = 0.4
    track_penalty: float = 0.5
    # Added to a track's ranks to line it up with the others: M1 sits beside P4.
    track_offsets: Mapping[str, int] = field(default_factory=lambda: {"M": 3})
    close_below: float = 0.25
    related_below: float = 0.5

    @classmethod
    def from_settings(cls) -> AdjacencySettings:
        """Read ROLEBOOK_ADJACENCY_* settings; the defaults above stand in for missing ones.

        Raises ValueError when the values cannot give a distance in [0, 1] or ordered bands.
        """
        weights = getattr(settings, "ROLEBOOK_ADJACENCY_WEIGHTS", {})
        bands = getattr(settings, "ROLEBOOK_ADJACENCY_BANDS", {})
        conf = cls(
            taxonomy_weight=float(weights.get("taxonomy", cls.taxonomy_weight)),
            level_weight=float(weights.get("level", cls.level_weight)),
            track_penalty=float(getattr(settings, "ROLEBOOK_ADJACENCY_TRACK_PENALTY", cls.track_penalty)),
            track_offsets=dict(getattr(settings, "ROLEBOOK_ADJACENCY_TRACK_OFFSETS", {"M": 3})),
            close_below=float(bands.get(CLOSE, cls.close_below)),
            related_below=float(bands.get(RELATED, cls.related_below)),
        )
        conf.validate()
        return conf

    def validate(self) -> None:
        """Raise ValueError unless the weights are non-negative and the bands ordered in (0, 1]."""
        if self.taxonomy_weight < 0 or self.level_weight < 0 or self.taxonomy_weight + self.level_weight <= 0:
            raise ValueError("ROLEBOOK_ADJACENCY_WEIGHTS: give non-negative weights that are not both 0.")
        # Above 0, or a manager and a professional of the same seniority would be at distance 0.
        if not 0 < self.track_penalty <= 1:
            raise ValueError("ROLEBOOK_ADJACENCY_TRACK_PENALTY must lie above 0 and at most 1.")
        if not 0 < self.close_below <= self.related_below <= 1:
            raise ValueError("ROLEBOOK_ADJACENCY_BANDS: need 0 < close <= related <= 1.")

    @property
    def weights(self) -> tuple[float, float]:
        """The two weights scaled to sum to 1, so the distance stays within [0, 1]."""
        total = self.taxonomy_weight + self.level_weight
        return self.taxonomy_weight / total, self.level_weight / total


def node_path(rows: Iterable[tuple[str | None, str | None]]) -> Path:
    """Place (code, kind) pairs of a node and its ancestors into the four tree slots.

    A missing ancestor (a family filed without its function) leaves its slot None.
    """
    slots: list[str | None] = [None] * TREE_DEPTH
    for code, kind in rows:
        if code is not None and kind in KIND_SLOT:
            slots[KIND_SLOT[kind]] = code
    return tuple(slots)  # type: ignore[return-value]


def common_depth(a: Path, b: Path) -> int:
    """Return how many tree levels, from the top, the two paths share (0..4).

    Codes are unique in the tree, so the deepest shared node fixes every level above it;
    reading from the bottom keeps that true when an upper level was never filled in.
    """
    for depth in range(TREE_DEPTH, 0, -1):
        code = a[depth - 1]
        if code is not None and code == b[depth - 1]:
            return depth
    return 0


def taxonomy_distance(a: Path, b: Path) -> float:
    """Edges between the two nodes via their lowest common ancestor, over 2 × TREE_DEPTH."""
    return 2 * (TREE_DEPTH - common_depth(a, b)) / (2 * TREE_DEPTH)


def level_distance(
    track_a: str,
    rank_a: int,
    track_b: str,
    rank_b: int,
    *,
    spans: Mapping[str, int],
    track_penalty: float,
    offsets: Mapping[str, int] | None = None,
) -> float:
    """Rank gap over the track's largest gap (`spans`); across tracks, a penalty plus seniority.

    Across tracks the distance is `track_penalty`, growing to 1 with the gap in seniority
    (rank + the track's offset) over the widest seniority gap of all levels, spans[SENIORITY]:
    with the defaults P4 against M1 is 0.5, P1 against M4 is 1.
    """
    if track_a != track_b:
        offsets = offsets or {}
        gap = abs(rank_a + offsets.get(track_a, 0) - rank_b - offsets.get(track_b, 0))
        widest = max(spans.get(SENIORITY, 0), gap)
        return track_penalty + (1 - track_penalty) * (gap / widest if widest else 0.0)
    gap = abs(rank_a - rank_b)
    if gap == 0:
        return 0.0
    # A rank outside the known span (a level added since) still lands within [0, 1].
    return gap / max(spans.get(track_a, 0), gap)


def distance(
    a: Coordinates, b: Coordinates, *, spans: Mapping[str, int], conf: AdjacencySettings | None = None
) -> float:
    """The weighted distance in [0, 1] between two coordinates; 0 only when they are equal."""
    conf = conf or AdjacencySettings.from_settings()
    w_tax, w_level = conf.weights
    return w_tax * taxonomy_distance(a.path, b.path) + w_level * level_distance(
        a.track,
        a.rank,
        b.track,
        b.rank,
        spans=spans,
        track_penalty=conf.track_penalty,
        offsets=conf.track_offsets,
    )


def band(value: float, conf: AdjacencySettings | None = None) -> str:
    """Return "close", "related" or "distant" for a distance, under the configured thresholds."""
    conf = conf or AdjacencySettings.from_settings()
    if value < conf.close_below:
        return CLOSE
    if value < conf.related_below:
        return RELATED
    return DISTANT


def is_unrelated(value: float) -> bool:
    """True for distance 1: nothing in common, left out of every neighbour list."""
    return value >= 1 - _EPSILON


def track_spans(levels: Iterable[tuple[str, int]], offsets: Mapping[str, int] | None = None) -> dict[str, int]:
    """Return the largest rank gap in each track from (track, rank) pairs, and under SENIORITY
    the largest gap in seniority (rank + track offset) across all levels."""
    offsets = offsets or {}
    low: dict[str, int] = {}
    high: dict[str, int] = {}
    seniorities = []
    for track, rank in levels:
        low[track] = min(low.get(track, rank), rank)
        high[track] = max(high.get(track, rank), rank)
        seniorities.append(rank + offsets.get(track, 0))
    spans = {track: high[track] - low[track] for track in low}
    if seniorities:
        spans[SENIORITY] = max(seniorities) - min(seniorities)
    return spans


class Adjacent(NamedTuple):
    """One neighbour of a role: who it is, how far, and in which band."""

    pk: int
    code: str
    title: str
    distance: float
    band: str

    @property
    def onet_tier(self) -> str:
        return ONET_TIER[self.band]


def node_paths(nodes: Iterable[tuple[int, str, str, int | None]]) -> dict[int, Path]:
    """Map node id → path from (id, code, kind, parent id) rows of the whole tree.

    Each node's path is its parent's with its own slot filled in, each worked out once.
    A missing ancestor (a family filed without its function) leaves its slot None.
    """
    rows = {pk: (code, kind, parent) for pk, code, kind, parent in nodes}
    paths: dict[int, Path] = {}
    empty: Path = (None, None, None, None)

    def path_of(pk: int, hops: int) -> Path:
        known = paths.get(pk)
        if known is not None:
            return known
        code, kind, parent = rows[pk]
        # The tree is four levels deep; the hop limit also stops a (corrupt) cycle.
        base = path_of(parent, hops + 1) if parent in rows and hops < TREE_DEPTH else empty
        slot = KIND_SLOT.get(kind)
        path = base if slot is None else base[:slot] + (code,) + base[slot + 1 :]
        paths[pk] = path  # type: ignore[assignment]
        return path  # type: ignore[return-value]

    for pk in rows:
        path_of(pk, 0)
    return paths


class AdjacencyIndex:
    """The coordinates of every role, loaded once, ranked in Python.

    Three queries whatever the number of roles: the levels, the tree's nodes, and one narrow
    row per role. Ranking walks outwards from the role (its specialization, family, function,
    superfunction, then everything) and stops once no farther role can enter the top n, so a
    role usually meets only its own corner of the tree.
    """

    def __init__(
        self,
        rows: Iterable[tuple[int, str, str, int, int]],
        nodes: Iterable[tuple[int, str, str, int | None]],
        levels: Iterable[tuple[int, str, int]],
        conf: AdjacencySettings,
        *,
        paths: dict[int, Path] | None = None,
    ):
        self.conf = conf
        level_rows = {pk: (track, rank) for pk, track, rank in levels}
        self.spans = track_spans(level_rows.values(), conf.track_offsets)
        paths = node_paths(nodes) if paths is None else paths
        rows = list(rows)
        # Column lists (one C-level transpose) keep 10,000 rows cheap to hold and scan.
        columns = list(zip(*rows, strict=True)) if rows else [(), (), (), (), ()]
        self.pks: list[int] = list(columns[0])
        self.codes: list[str] = list(columns[1])
        self.titles: list[str] = list(columns[2])
        empty: Path = (None, None, None, None)
        self.paths: list[Path] = [paths.get(node_id, empty) for node_id in columns[3]]
        # One shared (track, rank) tuple per level, so ranking can key on it directly.
        self.levels: list[tuple[str, int]] = [level_rows[level_id] for level_id in columns[4]]
        self.position: dict[int, int] = {pk: i for i, pk in enumerate(self.pks)}
        # buckets[d][code]: the roles whose path has `code` at depth d (1 = superfunction … 4).
        by_node: dict[int, list[int]] = {}
        for i, node_id in enumerate(columns[3]):
            by_node.setdefault(node_id, []).append(i)
        self.buckets: list[dict[str, list[int]]] = [{} for _ in range(TREE_DEPTH + 1)]
        for node_id, members in by_node.items():
            path = paths.get(node_id, empty)
            for depth in range(1, TREE_DEPTH + 1):
                if path[depth - 1] is not None:
                    self.buckets[depth].setdefault(path[depth - 1], []).extend(members)

    @classmethod
    def load(cls, queryset=None) -> AdjacencyIndex:
        """Load the coordinates of the roles in `queryset` (all roles by default): three queries."""
        from .models import Role  # roles.models imports nothing from here; keep the module light.

        conf = AdjacencySettings.from_settings()
        levels = Level.objects.order_by().values_list("pk", "track", "rank")
        nodes = TaxonomyNode.objects.order_by().values_list("pk", "code", "kind", "parent_id")
        queryset = Role.objects.all() if queryset is None else queryset
        rows = queryset.order_by().values_list("pk", "code", "title", "node_id", "level_id")
        return cls(rows, nodes, levels, conf)

    def __len__(self) -> int:
        return len(self.pks)

    def coordinates_of(self, pk: int) -> Coordinates:
        """Return the coordinates of the role with this pk; raises KeyError if not loaded."""
        i = self.position[pk]
        return Coordinates(self.paths[i], *self.levels[i])

    def distance(self, a: Coordinates, b: Coordinates) -> float:
        return distance(a, b, spans=self.spans, conf=self.conf)

    def nearest(self, pk: int, n: int = 10) -> list[Adjacent]:
        """The `n` nearest roles to role `pk`, nearest first, ties by code.

        The role itself and roles at distance 1 are left out. Raises KeyError if `pk` is not loaded.
        """
        return [
            Adjacent(self.pks[i], code, self.titles[i], round(d, 4), band(d, self.conf))
            for d, code, i in self._rank(pk, n)
        ]

    def _rank(self, pk: int, n: int) -> list[tuple[float, str, int]]:
        """(distance, code, index) of the `n` nearest roles, unrounded."""
        origin_index = self.position[pk]
        origin = self.coordinates_of(pk)
        w_tax, w_level = self.conf.weights
        level_terms: dict[tuple[str, int], float] = {}
        seen = {origin_index}
        best: list[tuple[float, str, int]] = []
        for depth in range(TREE_DEPTH, -1, -1):
            # Every role not met in a deeper bucket shares exactly `depth` levels with the origin.
            tax = w_tax * taxonomy_step(depth)
            if len(best) >= n and best[n - 1][0] < tax:
                break  # nobody farther out can beat the n-th best
            if depth == 0:
                members: Iterable[int] = range(len(self.pks))
            elif origin.path[depth - 1] is None:
                continue
            else:
                members = self.buckets[depth].get(origin.path[depth - 1], ())
            for i in members:
                if i in seen:
                    continue
                seen.add(i)
                key = self.levels[i]
                lv = level_terms.get(key)
                if lv is None:
                    lv = level_terms[key] = w_level * level_distance(
                        origin.track,
                        origin.rank,
                        key[0],
                        key[1],
                        spans=self.spans,
                        track_penalty=self.conf.track_penalty,
                        offsets=self.conf.track_offsets,
                    )
                d = tax + lv
                if not is_unrelated(d):
                    best.append((d, self.codes[i], i))
            best = heapq.nsmallest(n, best)
        return best


def taxonomy_step(depth: int) -> float:
    """The taxonomy distance between roles sharing exactly `depth` tree levels (as taxonomy_distance)."""
    return 2 * (TREE_DEPTH - depth) / (2 * TREE_DEPTH)


# The tree slots of a role's node and its ancestors, read through joins: (code, kind) pairs.
_CHAIN = ("node", "node__parent", "node__parent__parent", "node__parent__parent__parent")
_CHAIN_COLUMNS = tuple(col for hop in _CHAIN for col in (f"{hop}__code", f"{hop}__kind"))
_ROW_COLUMNS = ("pk", "code", "title", "node_id", "level_id")
# The filter selecting the roles that share the tree slot `depth` (4 specialization … 1 superfunction).
_RING_LOOKUP = {
    4: "node__code__in",
    3: "node__parent__code__in",
    2: "node__parent__parent__code__in",
    1: "node__parent__parent__parent__code__in",
}


def _split(row: tuple) -> tuple[tuple, int, Path]:
    """A role row with its chain columns → (the row, its node id, its path)."""
    base, chain = row[: len(_ROW_COLUMNS)], row[len(_ROW_COLUMNS) :]
    return base, base[3], node_path(zip(chain[0::2], chain[1::2], strict=True))


def paths_of_roles(queryset) -> tuple[list[tuple], dict[int, Path]]:
    """The rows (pk, code, title, node_id, level_id) of `queryset` and the paths of their nodes: one query."""
    rows, paths = [], {}
    for row in queryset.order_by().values_list(*_ROW_COLUMNS, *_CHAIN_COLUMNS):
        base, node_id, path = _split(row)
        rows.append(base)
        paths[node_id] = path
    return rows, paths


def nearest_for(roles, n: int = 10) -> dict[int, list[Adjacent]]:
    """The `n` nearest roles to each of `roles` (Role objects or pks), nearest first: {pk: [Adjacent]}.

    Reads outwards from the roles, as far as each needs: their specializations' families' roles
    first, then their functions', superfunctions', and all roles only for a role whose nearer
    rings hold fewer than `n` roles closer than anything beyond them. Each ring is one query for
    all the roles together, so the cost follows the size of their corner of the tree, not the
    number of roles (two queries for the levels and the roles' own paths, then one per ring).
    """
    from .models import Role

    ids = [r if isinstance(r, int) else r.pk for r in roles]
    if not ids:
        return {}
    conf = AdjacencySettings.from_settings()
    levels = list(Level.objects.order_by().values_list("pk", "track", "rank"))
    rows_by_pk: dict[int, tuple] = {}
    paths: dict[int, Path] = {}
    own_rows, own_paths = paths_of_roles(Role.objects.filter(pk__in=ids))
    paths.update(own_paths)
    origin = {row[0]: own_paths[row[3]] for row in own_rows}
    for row in own_rows:
        rows_by_pk[row[0]] = row

    def rings(path: Path) -> list[int]:
        found = [d for d in (3, 2, 1) if path[d - 1] is not None]
        if path[2] is None and path[3] is not None:
            found.insert(0, 4)
        return [*found, 0]

    todo = {pk: rings(path) for pk, path in origin.items()}
    result: dict[int, list[Adjacent]] = {pk: [] for pk in ids}
    w_tax = conf.weights[0]
    loaded_all = False
    for depth in (4, 3, 2, 1, 0):
        wanted = [pk for pk, ring_list in todo.items() if depth in ring_list]
        if not wanted:
            continue
        if depth == 0:
            if not loaded_all:
                for row in Role.objects.order_by().values_list(*_ROW_COLUMNS, *_CHAIN_COLUMNS):
                    base, node_id, path = _split(row)
                    rows_by_pk[base[0]] = base
                    paths[node_id] = path
                loaded_all = True
        else:
            codes = {origin[pk][depth - 1] for pk in wanted}
            for row in Role.objects.filter(**{_RING_LOOKUP[depth]: codes}).order_by().values_list(
                *_ROW_COLUMNS, *_CHAIN_COLUMNS
            ):
                base, node_id, path = _split(row)
                rows_by_pk[base[0]] = base
                paths[node_id] = path
        index = AdjacencyIndex(rows_by_pk.values(), (), levels, conf, paths=paths)
        for pk in wanted:
            best = index._rank(pk, n)
            # Roles outside this ring share at most depth - 1 levels with the role.
            if depth == 0 or (len(best) >= n and best[n - 1][0] < w_tax * taxonomy_step(depth - 1)):
                result[pk] = [
                    Adjacent(index.pks[i], code, index.titles[i], round(d, 4), band(d, conf)) for d, code, i in best
                ]
                del todo[pk]
    return result


def nearest_roles(role, n: int = 10) -> list[Adjacent]:
    """The `n` nearest roles to `role` (a Role), for one card page (see nearest_for)."""
    return nearest_for([role], n)[role.pk]


def breakdown(a: Coordinates, b: Coordinates, *, spans: Mapping[str, int], conf: AdjacencySettings) -> dict:
    """The terms of distance(a, b), for the "How coordinates work" page."""
    w_tax, w_level = conf.weights
    depth = common_depth(a.path, b.path)
    tax = taxonomy_distance(a.path, b.path)
    lvl = level_distance(
        a.track,
        a.rank,
        b.track,
        b.rank,
        spans=spans,
        track_penalty=conf.track_penalty,
        offsets=conf.track_offsets,
    )
    total = w_tax * tax + w_level * lvl
    return {
        "common_depth": depth,
        "edges": 2 * (TREE_DEPTH - depth),
        "max_edges": 2 * TREE_DEPTH,
        "taxonomy": tax,
        "same_track": a.track == b.track,
        "rank_gap": abs(a.rank - b.rank),
        "span": spans.get(a.track, 0),
        "seniority_gap": abs(a.rank + conf.track_offsets.get(a.track, 0) - b.rank - conf.track_offsets.get(b.track, 0)),
        "seniority_span": spans.get(SENIORITY, 0),
        "track_penalty": conf.track_penalty,
        "level": lvl,
        "w_taxonomy": w_tax,
        "w_level": w_level,
        "distance": total,
        "band": band(total, conf),
        "unrelated": is_unrelated(total),
    }
