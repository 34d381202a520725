"""How far reviewers agree: figures over the double-blind samples (roles.workflow.samples).

A measured sample (disputed, agreed or adjudicated) is one item with two independent reviews, by
`first_by` and `second_by`; a settled one also has its outcome, decided by `settled_by` (for an
agreed sample the second review itself). Each review is reduced to a label: "reject", or for an
approval "approve" (aliases) or the code it leads to (mappings). Mapping labels are compared at
three levels: the detailed code as decided, its broad group and its major group.

The figures, each with the number of items behind it (n):

- Krippendorff's alpha (nominal), over all samples, per family and per item type; for mappings
  also per level.
- Cohen's kappa for every pair of reviewers who reviewed the same items, and the raw share of
  items on which they agreed.

NLTK's `nltk.metrics.agreement.AnnotationTask` computes both statistics (docs/agreement.md).
- Each reviewer's agreement with the settled outcome.

A statistic that cannot be computed (fewer than two items, one category only) has the value
None and a note saying why. Everything is read in QUERIES (two queries, whatever the number of
samples); nothing is written. docs/agreement.md says how to read the figures.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.db.models import Count, QuerySet
from django.db.models.functions import Coalesce
from nltk.metrics.agreement import AnnotationTask

from .models import LEAD_REVIEW, ClassificationMapping, Decision, Sample, SampleState, TitleAlias

ALIAS, MAPPING = "alias", "mapping"
ITEM_TYPES = (ALIAS, MAPPING)
DETAILED, BROAD, MAJOR = "detailed", "broad", "major"
LEVELS = (DETAILED, BROAD, MAJOR)
APPROVE, REJECT = "approve", "reject"
SETTLED_STATES = (SampleState.AGREED, SampleState.ADJUDICATED)
# What figures() reads, one query each.
QUERIES = (
    "the reviews and settling decisions of measured samples, with their reviewer, item code and family",
    "samples counted by state",
)
COLUMNS = ("figure", "scope", "value", "n", "note")
# A text cell starting with one of these is a formula to a spreadsheet: written with a leading quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

FEWER_THAN_TWO = "fewer than 2 items"
NO_ITEMS = "no items"


@dataclass(frozen=True)
class Stat:
    """One statistic: its value (None when undefined, with the reason in `note`) and its n."""

    value: float | None
    n: int
    note: str = ""

    @property
    def defined(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class Scope:
    """Krippendorff's alpha and the raw share of agreeing items over one set of samples."""

    alpha: Stat
    agreement: Stat


@dataclass(frozen=True)
class Pair:
    """Two reviewers (in name order) over the items both reviewed."""

    reviewers: tuple[str, str]
    kappa: Stat
    agreement: Stat


@dataclass(frozen=True)
class Unit:
    """One measured sample, its reviews reduced to labels (detailed level)."""

    sample: int
    item_type: str
    family: str
    state: str
    first_by: str
    second_by: str
    first: str
    second: str
    settled: str | None = None


@dataclass(frozen=True)
class Figures:
    """Every agreement figure over a set of samples (see the module docstring)."""

    by_state: dict[str, int]
    overall: Scope
    by_item_type: dict[str, Scope]
    by_family: dict[str, Scope]
    family_names: dict[str, str]
    mapping_levels: dict[str, Scope]
    pairs: list[Pair]
    reviewers: dict[str, Stat]
    # Measured samples left out because a review is missing from the log (normally none).
    incomplete: int = 0
    units: list[Unit] = field(default_factory=list, repr=False)

    @property
    def measured(self) -> int:
        return sum(self.by_state.get(state, 0) for state in Sample.MEASURED_STATES)


# ---------------------------------------------------------------------------------------------
# Labels


def label(*, verdict: str, item_type: str, code: str = "") -> str:
    """What a review decided: "reject", "approve" for an alias, or the code a mapping verdict leads to."""
    if verdict == REJECT:
        return REJECT
    return code if item_type == MAPPING else APPROVE


def at_level(value: str, level: str) -> str:
    """A mapping label at `level`: the code as decided, its broad group (15-1252 → 15-1250) or its
    major group (15-0000); "reject" and "approve" stay. An O*NET-SOC code is read as its SOC code."""
    if level == DETAILED or value in (REJECT, APPROVE):
        return value
    soc = value[:7]
    if level == BROAD:
        return soc[:6] + "0"
    if level == MAJOR:
        return soc[:2] + "-0000"
    raise ValueError(f"Unknown level {level!r}: use one of {', '.join(LEVELS)}.")


# ---------------------------------------------------------------------------------------------
# Statistics on plain data


def annotations(units: Sequence[Sequence[Hashable | None]]) -> tuple[list[tuple[str, str, str]], list[Hashable]]:
    """Turn units (each the values its observers gave, None where one gave none) into NLTK's
    annotation triples (observer, unit, category), and the categories found (sorted by their text,
    so the same data gives the same triples)."""
    categories = sorted({value for unit in units for value in unit if value is not None}, key=str)
    number = {value: str(i) for i, value in enumerate(categories)}
    triples = [
        (str(o), str(u), number[value])
        for u, unit in enumerate(units) for o, value in enumerate(unit) if value is not None
    ]
    return triples, categories


def alpha(units: Sequence[Sequence[Hashable | None]]) -> Stat:
    """Krippendorff's alpha (nominal) of `units`; n counts the pairable units (two values or more).

    Undefined with fewer than 2 pairable units or when every value is in one category.
    """
    pairable = [unit for unit in units if sum(value is not None for value in unit) >= 2]
    n = len(pairable)
    if n < 2:
        return Stat(None, n, FEWER_THAN_TWO)
    triples, categories = annotations(pairable)
    if len(categories) < 2:
        return Stat(None, n, f"one category only ({categories[0]}): nothing to tell agreement from chance")
    # NLTK's AnnotationTask: nominal distance (binary_distance) by default.
    return _stat(AnnotationTask(data=triples).alpha(), n)


def kappa(first: Sequence[Hashable], second: Sequence[Hashable]) -> Stat:
    """Cohen's kappa of two raters' labels on the same items, in the same order.

    Undefined with fewer than 2 items, or when both raters gave one and the same label throughout
    (chance agreement is then 1).
    """
    if len(first) != len(second):
        raise ValueError(f"Two raters of the same items give as many labels: {len(first)} and {len(second)}.")
    n = len(first)
    if n < 2:
        return Stat(None, n, FEWER_THAN_TWO)
    categories = sorted(set(first) | set(second), key=str)
    if len(categories) < 2:
        return Stat(None, n, f"one category only ({categories[0]}): chance agreement is 1")
    triples, _categories = annotations(list(zip(first, second, strict=True)))
    return _stat(AnnotationTask(data=triples).kappa_pairwise("0", "1"), n)


def share_agreeing(pairs: Iterable[tuple[Hashable, Hashable]]) -> Stat:
    """The share of pairs whose two values are equal (raw agreement, 0 to 1)."""
    pairs = list(pairs)
    if not pairs:
        return Stat(None, 0, NO_ITEMS)
    return Stat(sum(a == b for a, b in pairs) / len(pairs), len(pairs))


def _stat(value: Any, n: int) -> Stat:
    value = float(value)
    if math.isnan(value):
        return Stat(None, n, "undefined for these labels")
    return Stat(value, n)


def scope(units: Sequence[Unit], level: str = DETAILED) -> Scope:
    """Alpha and raw agreement over `units`, their labels read at `level`."""
    pairs = [(at_level(u.first, level), at_level(u.second, level)) for u in units]
    return Scope(alpha=alpha(pairs), agreement=share_agreeing(pairs))


# ---------------------------------------------------------------------------------------------
# Figures


def compute(units: Sequence[Unit], by_state: dict[str, int] | None = None,
            family_names: dict[str, str] | None = None, incomplete: int = 0) -> Figures:
    """Every figure over `units` (no queries): the statistics of figures(), on plain data."""
    units = list(units)
    by_family: dict[str, list[Unit]] = defaultdict(list)
    for unit in units:
        by_family[unit.family].append(unit)
    mappings = [u for u in units if u.item_type == MAPPING]

    pairs: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for unit in units:
        ordered = sorted([(unit.first_by, unit.first), (unit.second_by, unit.second)])
        pairs[(ordered[0][0], ordered[1][0])].append((ordered[0][1], ordered[1][1]))

    with_outcome: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for unit in units:
        if unit.settled is not None:
            with_outcome[unit.first_by].append((unit.first, unit.settled))
            with_outcome[unit.second_by].append((unit.second, unit.settled))

    states = {state.value: 0 for state in SampleState}
    states.update(by_state or {})
    return Figures(
        by_state=states,
        overall=scope(units),
        by_item_type={kind: scope([u for u in units if u.item_type == kind]) for kind in ITEM_TYPES},
        by_family={code: scope(found) for code, found in sorted(by_family.items())},
        family_names={code: (family_names or {}).get(code, "") for code in sorted(by_family)},
        mapping_levels={level: scope(mappings, level) for level in LEVELS},
        pairs=[
            Pair(reviewers=names, kappa=kappa([a for a, _ in found], [b for _, b in found]),
                 agreement=share_agreeing(found))
            for names, found in sorted(pairs.items())
        ],
        reviewers={name: share_agreeing(found) for name, found in sorted(with_outcome.items())},
        incomplete=incomplete,
        units=units,
    )


def figures(samples: QuerySet[Sample] | None = None) -> Figures:
    """Every figure over the measured samples among `samples` (default: all), in len(QUERIES) queries."""
    samples = Sample.objects.all() if samples is None else samples
    units, family_names, incomplete = _units(samples)
    counts = dict(samples.order_by().values_list("state").annotate(n=Count("pk")))
    return compute(units, counts, family_names, incomplete)


def _units(samples: QuerySet[Sample]) -> tuple[list[Unit], dict[str, str], int]:
    """The measured samples' units, read from their decisions in one query."""
    username = f"actor__{get_user_model().USERNAME_FIELD}"
    rows = (
        Decision.objects.filter(sample__in=samples.measured().values("pk"))
        .exclude(verdict="")
        .annotate(
            family=Coalesce("alias__role__node__parent__code", "mapping__role__node__parent__code"),
            family_name=Coalesce("alias__role__node__parent__name", "mapping__role__node__parent__name"),
        )
        .order_by("sample_id", "created_at", "pk")
        .values_list(
            "sample_id", "sample__state", "sample__first_by_id", "sample__second_by_id", "sample__settled_by_id",
            "actor_id", username, "verdict", "new_code", "old_code", "mapping_id", "mapping__code",
            "family", "family_name",
        )
    )
    samples_seen: dict[int, dict[str, Any]] = {}
    family_names: dict[str, str] = {}
    names: dict[int, str] = {}
    for (sample, state, first_by, second_by, settled_by, actor, name, verdict, new_code, old_code, mapping,
         mapping_code, family, family_name) in rows:
        item_type = MAPPING if mapping is not None else ALIAS
        entry = samples_seen.setdefault(sample, {
            "state": state, "first_by": first_by, "second_by": second_by, "settled_by": settled_by,
            "item_type": item_type, "family": family or "", "labels": {},
        })
        names[actor] = name
        family_names[family or ""] = family_name or ""
        # A refinement or replacement records its code; a mapping approval its current one.
        code = new_code or old_code or mapping_code or ""
        # Later decisions by the same person in the same sample replace earlier ones (oldest first).
        entry["labels"][actor] = label(verdict=verdict, item_type=item_type, code=code)
    units, incomplete = [], 0
    for sample, entry in samples_seen.items():
        labels = entry["labels"]
        first, second = labels.get(entry["first_by"]), labels.get(entry["second_by"])
        if first is None or second is None:
            incomplete += 1
            continue
        units.append(Unit(
            sample=sample, item_type=entry["item_type"], family=entry["family"], state=entry["state"],
            first_by=names[entry["first_by"]], second_by=names[entry["second_by"]], first=first, second=second,
            settled=labels.get(entry["settled_by"]) if entry["state"] in SETTLED_STATES else None,
        ))
    return units, family_names, incomplete


# ---------------------------------------------------------------------------------------------
# Output: CSV rows, the release manifest's summary


def rows(figures: Figures) -> list[dict[str, Any]]:
    """Every figure as a row of COLUMNS (figure, scope, value, n, note), for the CSV download."""
    out: list[dict[str, Any]] = []

    def add(figure: str, scope_name: str, stat: Stat) -> None:
        value = None if stat.value is None else round(stat.value, 6)
        out.append({"figure": figure, "scope": scope_name, "value": value, "n": stat.n, "note": stat.note})

    for state, count in figures.by_state.items():
        add("samples_by_state", state, Stat(float(count), count))
    for figure, scopes in (
        ("", {"all": figures.overall}),
        ("_by_item_type", figures.by_item_type),
        ("_by_family", figures.by_family),
        ("_by_mapping_level", figures.mapping_levels),
    ):
        for name, found in scopes.items():
            add(f"alpha{figure}", name, found.alpha)
            add(f"agreement{figure}", name, found.agreement)
    for pair in figures.pairs:
        add("kappa_by_pair", " / ".join(pair.reviewers), pair.kappa)
        add("agreement_by_pair", " / ".join(pair.reviewers), pair.agreement)
    for name, stat in figures.reviewers.items():
        add("agreement_with_settled_by_reviewer", name, stat)
    if figures.incomplete:
        add("incomplete_samples", "all", Stat(float(figures.incomplete), figures.incomplete,
                                              "measured samples with a review missing: left out"))
    return out


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ (or a tab or CR) gets a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


def write_csv(figures: Figures, handle: IO[str]) -> None:
    """Write rows(figures) as CSV (a header of COLUMNS), every text cell through csv_cell."""
    writer = csv.writer(handle, dialect="excel", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows(figures):
        writer.writerow([csv_cell(row[column]) for column in COLUMNS])


def _compact(stat: Stat) -> dict[str, Any]:
    compact: dict[str, Any] = {"value": None if stat.value is None else round(stat.value, 4), "n": stat.n}
    if stat.note:
        compact["note"] = stat.note
    return compact


def summary(figures: Figures) -> dict[str, Any]:
    """The figures a release's manifest carries: no reviewer names, values to 4 decimals."""
    return {
        "measure": "Krippendorff's alpha (nominal) and raw agreement between two blind reviews per sample",
        "samples": {**figures.by_state, "measured": figures.measured},
        "alpha": _compact(figures.overall.alpha),
        "agreement": _compact(figures.overall.agreement),
        "alpha_by_item_type": {kind: _compact(found.alpha) for kind, found in figures.by_item_type.items()},
        "mapping_levels": {
            level: {"alpha": _compact(found.alpha), "agreement": _compact(found.agreement)}
            for level, found in figures.mapping_levels.items()
        },
    }


# ---------------------------------------------------------------------------------------------
# Who may read them


def can_view(user: Any) -> bool:
    """Whether `user` may read the agreement figures: reviewers (of aliases or mappings) and leads."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return any(user.has_perm(permission) for permission in
               (TitleAlias.REVIEW_PERMISSION, ClassificationMapping.REVIEW_PERMISSION, LEAD_REVIEW))
