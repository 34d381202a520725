"""A realistic, reproducible demo data set at O*NET scale, for benchmarks and demos.

`generate_demo()` builds a taxonomy tree (superfunctions → functions → about one family per
ten roles → specializations), the levels P1–P6 and M1–M4 (the missing ones; P1 as on the
reference card), and roles with their story, components of the six kinds, title aliases and
one or two SOC mappings each (when the SOC 2018 reference rows are loaded). The same seed on
the same starting database gives the same data.

Review states: `approve_fraction` of the aliases and mappings are approved by "demo-reviewer",
REJECT_SHARE of the others are rejected, and the rest wait (pending / needs_review). The
decisions are made through the state machine (roles.workflow), so each has its Decision row
and four-eyes holds: the items are created by the acting user, decided by the demo reviewer.

Every row is written with `bulk_create_with_history` (two queries per batch: the rows, then
their history), attributed to the acting user with the reason "generate_demo seed=S", in one
transaction. Codes already used by curated rows (e.g. the seed's AIMLAM) are avoided. A
database holds one demo data set: a second run stops with `DemoDataExists` before writing
anything (flush the database to build another).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TextIO

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connection, transaction
from django.utils import timezone

from roles import derived, workflow
from roles.groups import REVIEWERS
from roles.models import (
    AliasSignals,
    ClassificationMapping,
    Component,
    Decision,
    DecisionKind,
    Role,
    RoleDigest,
    TitleAlias,
)
from taxonomy.models import Level, OccupationCode, TaxonomyNode

from .vocabulary import (
    ABBREVIATION_RE,
    ABBREVIATIONS,
    ALIAS_SOURCES,
    COMPONENTS,
    CONFIDENCE,
    CORE_OUTPUTS,
    EXTERNAL,
    INTERNAL,
    KIND_WEIGHTS,
    LEVEL_HEADLINES,
    LEVEL_ORDER,
    LEVEL_SUMMARIES,
    LEVELS,
    PLAN,
    PREVALENCE,
    QUALIFIERS,
    SCOPE,
    SPECIALIZATIONS,
    STAKE,
    SUCCESS,
    TITLES,
    TREE,
    WHO,
    WHY,
)

BATCH_SIZE = 2000
REVIEWER_USERNAME = "demo-reviewer"
# Of the items not approved, this share is rejected; the rest wait for review.
REJECT_SHARE = 0.08
SECOND_MAPPING_SHARE = 0.4


class DemoError(Exception):
    """A demo data set that cannot be built, with a message saying what to do instead."""


class DemoDataExists(DemoError):
    """The database already holds a demo data set."""


@dataclass
class DemoSummary:
    """Counts of the rows generate_demo created (history rows come on top: one per row)."""

    seed: int = 0
    levels: int = 0
    nodes: int = 0
    roles: int = 0
    components: int = 0
    aliases: int = 0
    mappings: int = 0
    aliases_approved: int = 0
    aliases_rejected: int = 0
    mappings_approved: int = 0
    mappings_rejected: int = 0
    seconds: float = 0.0
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """All rows created, history excluded."""
        return self.levels + self.nodes + self.roles + self.components + self.aliases + self.mappings

    def __str__(self) -> str:
        return (
            f"{self.roles:,} roles, {self.aliases:,} aliases ({self.aliases_approved:,} approved, "
            f"{self.aliases_rejected:,} rejected), {self.components:,} components, "
            f"{self.mappings:,} mappings, {self.nodes:,} taxonomy nodes, {self.levels} new levels"
        )


@dataclass
class _Function:
    code: str
    name: str
    nouns: list[str]
    socs: list[str]
    superfunction: tuple[str, str, str]
    families: list[tuple[str, str, list[str]]] = field(default_factory=list)


def _parse_tree() -> list[_Function]:
    """Read TREE into functions, each knowing its superfunction and families."""
    functions: list[_Function] = []
    superfunction = ("", "", "")
    for line in TREE.strip("\n").splitlines():
        depth = (len(line) - len(line.lstrip())) // 2
        head, *rest = (part.strip() for part in line.strip().split("|"))
        code, _, name = head.partition(" ")
        if depth == 0:
            name, _, soc = name.rpartition(" ")
            superfunction = (code, name, soc)
        elif depth == 1:
            functions.append(_Function(code, name, rest[0].split("; "), rest[1].split(), superfunction))
        else:
            functions[-1].families.append((code, name, rest[0].split("; ")))
    return functions


def _lower(theme: str) -> str:
    """The theme inside a sentence: lower case, unless its first word is an acronym or brand (AI, iOS)."""
    first = theme.split()[0]
    if first[1:] != first[1:].lower() or not first[:1].isupper():
        return theme
    return theme.lower()


def _unique(code: str, taken: set[str], sep: str = "") -> str:
    """Return `code`, or code2, code3… when a row outside the demo already uses it."""
    candidate, n = code, 1
    while candidate in taken:
        n += 1
        candidate = f"{code}{sep}{n}"
    taken.add(candidate)
    return candidate


def _state(rng: random.Random, approve_fraction: float) -> int:
    """Draw a review state: 0 waiting, 1 approved, 2 rejected (REJECT_SHARE of the rest)."""
    r = rng.random()
    if r < approve_fraction:
        return 1
    if r < approve_fraction + (1 - approve_fraction) * REJECT_SHARE:
        return 2
    return 0


class _Writer:
    """Buffers new rows per model and writes them with their history, BATCH_SIZE at a time."""

    def __init__(self, *, actor: Any, reason: str, now: datetime, stdout: TextIO | None, totals: dict[str, int]):
        self.actor, self.reason, self.now = actor, reason, now
        self.stdout, self.totals = stdout, totals
        self.buffers: dict[type, list] = {}
        self.decisions: dict[type, list[Decision]] = {}
        self.done: dict[str, int] = {}
        self.reported: dict[str, int] = {}

    def add(self, obj, decision: Decision | None = None) -> None:
        """Buffer `obj` (and the Decision that decided it, written right after it)."""
        buffer = self.buffers.setdefault(type(obj), [])
        buffer.append(obj)
        if decision is not None:
            self.decisions.setdefault(type(obj), []).append(decision)
        if len(buffer) >= BATCH_SIZE:
            self.flush(type(obj))

    def flush(self, model: type, *, final: bool = False) -> list:
        """Write the buffered rows of `model` and their history; report progress every 10,000 rows."""
        objs = self.buffers.pop(model, [])
        decisions = self.decisions.pop(model, [])
        if objs:
            # Through the review core: it checks the reviewer's decisions and writes them after their items.
            # generate_demo marks every role stale at the end, which re-flags every alias: marking each
            # new alias's text as well would queue the same work 56k times over.
            workflow.persist(actor=self.actor, reason=self.reason, creates={model: objs}, decisions=decisions,
                             date=self.now, batch_size=BATCH_SIZE, mark_texts=False)
        created = objs
        name = str(model._meta.verbose_name_plural)
        done = self.done.get(name, 0) + len(created)
        self.done[name] = done
        unreported = done - self.reported.get(name, 0)
        if self.stdout is not None and unreported and (final or unreported >= 10_000):
            self.reported[name] = done
            total = self.totals.get(name)
            of = f" / {total:,}" if total else ""
            self.stdout.write(f"  {name:<24} {done:>9,}{of}\n")
        return created


def generate_demo(
    *,
    roles: int,
    aliases_per_role: int,
    components_per_role: int,
    seed: int,
    actor,
    approve_fraction: float = 0.0,
    stdout: TextIO | None = None,
) -> DemoSummary:
    """Build the demo data set in one transaction and return its counts.

    Raises DemoError for a bad argument and DemoDataExists when a demo data set is already
    in the database (nothing is written then).
    """
    for name, value in (
        ("roles", roles),
        ("aliases_per_role", aliases_per_role),
        ("components_per_role", components_per_role),
    ):
        if not isinstance(value, int) or value < 0:
            raise DemoError(f"{name} must be a whole number, 0 or more (got {value!r}).")
    if not 0.0 <= approve_fraction <= 1.0:
        raise DemoError(f"approve_fraction must be between 0 and 1 (got {approve_fraction!r}).")
    if actor is None or actor.pk is None:
        raise DemoError("actor must be a saved user: every row's history is attributed to it.")

    started = time.perf_counter()
    rng = random.Random(seed)
    summary = DemoSummary(seed=seed)
    reason = f"generate_demo seed={seed}"
    now = timezone.now()
    functions = _parse_tree()
    with transaction.atomic():
        plan = _plan_tree(rng, functions, roles)
        totals = {
            "roles": roles,
            "components": roles * components_per_role,
            "title aliases": roles * aliases_per_role,
        }
        writer = _Writer(actor=actor, reason=reason, now=now, stdout=stdout, totals=totals)
        if stdout is not None:
            stdout.write(
                f"generate_demo seed={seed}: {roles:,} roles × {aliases_per_role} aliases × "
                f"{components_per_role} components, in batches of {BATCH_SIZE:,}\n"
            )
        levels = _ensure_levels(writer, summary)
        socs = {o.code: o for o in OccupationCode.objects.soc().only("id", "code", "title", "level")}
        reviewer = _demo_reviewer() if roles else None
        if reviewer is not None and reviewer.pk == actor.pk:
            raise DemoError(f"{REVIEWER_USERNAME} decides the demo items, so it cannot also create them: act as "
                            "another user.")
        specs = _create_nodes(writer, summary, plan, socs)
        role_rows = _create_roles(writer, rng, plan, specs, levels, roles)
        summary.roles = len(role_rows)
        _create_children(
            writer,
            rng,
            role_rows,
            summary,
            reviewer=reviewer,
            now=now,
            socs=socs,
            aliases_per_role=aliases_per_role,
            components_per_role=components_per_role,
            approve_fraction=approve_fraction,
        )
        # Bulk writes send no signals: every role's flags and digest are computed after commit
        # (roles already there too: a demo alias may share a text with one of theirs).
        derived.enqueue(roles=Role.objects.values_list("pk", flat=True))
    _analyze()
    summary.seconds = time.perf_counter() - started
    return summary


def _analyze() -> None:
    """Refresh PostgreSQL's statistics of the tables just filled, as after any bulk load.

    Until autovacuum gets round to it the planner believes the tables are as small as they were,
    and picks plans (sequential scans, sorts of whole tables) that make every page slow for the
    first minutes. SQLite plans without statistics of that kind.
    """
    if connection.vendor != "postgresql":
        return
    models = [Level, TaxonomyNode, Role, Component, TitleAlias, ClassificationMapping, Decision]
    tables = [m._meta.db_table for m in models] + [m.history.model._meta.db_table for m in models
                                                   if hasattr(m, "history")]
    tables += [AliasSignals._meta.db_table, RoleDigest._meta.db_table]  # refreshed at the commit above
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(t) for t in tables))


def _plan_tree(rng: random.Random, functions: list[_Function], roles: int) -> list[dict]:
    """Choose the families, their specializations and each specialization's levels.

    About ten roles per family and five per specialization; families are taken in turn from
    each function so that even a small data set spans several superfunctions.
    """
    superfunction_codes = sorted({f.superfunction[0] for f in functions})
    existing_nodes = set(TaxonomyNode.objects.values_list("code", flat=True))
    clash = sorted(existing_nodes.intersection(superfunction_codes))
    if clash:
        raise DemoDataExists(
            f"The database already holds demo data (superfunction {', '.join(clash)} exists). "
            "generate_demo builds one data set per database: run it on an empty database, "
            "or flush this one first (manage.py flush)."
        )
    if roles == 0:
        return []
    # Codes already used by curated rows (e.g. the seed's AIMLAM) get a numeric suffix.
    taken = existing_nodes | {code.split(".", 1)[0] for code in existing_nodes}
    taken |= {code.split(".", 1)[0] for code in Role.objects.values_list("code", flat=True)}
    taken |= set(superfunction_codes)
    function_codes: dict[str, str] = {}
    # Round robin: first families of the first function of each superfunction, then the next
    # function's, and so on, so that even a few roles span the whole tree.
    by_superfunction: dict[str, list[_Function]] = {}
    for function in functions:
        by_superfunction.setdefault(function.superfunction[0], []).append(function)
    rounds: list[list[_Function]] = []
    for members in by_superfunction.values():
        for i, function in enumerate(members):
            if i == len(rounds):
                rounds.append([])
            rounds[i].append(function)
    ordered = [function for round_ in rounds for function in round_]
    order = []
    for i in range(max(len(f.families) for f in functions)):
        order.extend((f, f.families[i]) for f in ordered if i < len(f.families))
    n_specs = math.ceil(roles / 5)
    n_families = math.ceil(roles / 10)
    if n_families > len(order):
        # Past the vocabulary, families grow more specializations before codes get a suffix.
        n_families = max(len(order), math.ceil(n_specs / len(SPECIALIZATIONS)))
    families = []
    for i in range(n_families):
        function, (code, name, themes) = order[i % len(order)]
        round_ = i // len(order)
        if round_:
            code, name = f"{code}{round_ + 1}", f"{name} {round_ + 1}"
        if function.code not in function_codes:
            function_codes[function.code] = _unique(function.code, taken)
        families.append(
            {
                "function": function,
                "function_code": function_codes[function.code],
                "code": _unique(code, taken),
                "name": name,
                "themes": themes,
                "specs": [SPECIALIZATIONS[0]],
            }
        )
    # Extra specializations go to random families, at most one of each kind per family.
    for _ in range(n_specs - n_families):
        open_families = [f for f in families if len(f["specs"]) < len(SPECIALIZATIONS)]
        family = rng.choice(open_families)
        family["specs"].append(rng.choice([s for s in SPECIALIZATIONS if s not in family["specs"]]))
    slots = [(family, spec) for family in families for spec in family["specs"]]
    per_spec = [roles // len(slots)] * len(slots)
    for i in rng.sample(range(len(slots)), roles % len(slots)):
        per_spec[i] += 1
    for (family, spec), count in zip(slots, per_spec, strict=True):
        family.setdefault("levels", {})[spec[0]] = sorted(rng.sample(LEVEL_ORDER, count), key=LEVEL_ORDER.index)
    for family in families:
        family["default_soc"] = rng.random() < 0.35
    return families


def _ensure_levels(writer: _Writer, summary: DemoSummary) -> dict[str, Level]:
    """Return the levels P1–P6 and M1–M4, creating the missing ones with their attributes."""
    levels = {level.code: level for level in Level.objects.filter(code__in=LEVEL_ORDER)}
    for code in LEVEL_ORDER:
        if code in levels:
            continue
        values = dict(
            zip(
                [
                    "name",
                    "summary",
                    "scope",
                    "autonomy",
                    "complexity",
                    "impact",
                    "decision_rights",
                    "leadership",
                    "typical_experience",
                ],
                LEVELS[code],
                strict=True,
            )
        )
        # bulk_create skips Level.save(), which derives the track: set it here.
        writer.add(Level(code=code, track=code[0], rank=int(code[1:]), **values))
    for level in writer.flush(Level, final=True):
        levels[level.code] = level
        summary.levels += 1
    return levels


def _demo_reviewer():
    """Return the "demo-reviewer" account that approves and rejects demo items, creating it."""
    user_model = get_user_model()
    user, created = user_model._default_manager.get_or_create(
        username=REVIEWER_USERNAME,
        defaults={"first_name": "Demo", "last_name": "Reviewer", "is_staff": True},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        group = Group.objects.filter(name=REVIEWERS).first()
        if group is not None:
            user.groups.add(group)
    # The review permissions themselves, in case the group is missing (a flushed database).
    user.user_permissions.add(*Permission.objects.filter(
        content_type__app_label="roles", codename__in=["review_alias", "review_mapping"]
    ))
    return user_model._default_manager.get(pk=user.pk)


def _create_nodes(writer: _Writer, summary: DemoSummary, plan: list[dict], socs: dict) -> dict:
    """Write the tree one kind at a time (parents need their keys); return specializations by code."""
    kind = TaxonomyNode.Kind
    superfunctions: dict[str, TaxonomyNode] = {}
    functions: dict[str, TaxonomyNode] = {}
    for family in plan:
        code, name, soc = family["function"].superfunction
        if code not in superfunctions:
            superfunctions[code] = TaxonomyNode(
                code=code, name=name, kind=kind.SUPERFUNCTION, default_soc=socs.get(soc)
            )
            writer.add(superfunctions[code])
    writer.flush(TaxonomyNode)
    for family in plan:
        function = family["function"]
        if function.code not in functions:
            functions[function.code] = TaxonomyNode(
                code=family["function_code"],
                name=function.name,
                kind=kind.FUNCTION,
                parent=superfunctions[function.superfunction[0]],
            )
            writer.add(functions[function.code])
    writer.flush(TaxonomyNode)
    for family in plan:
        function = family["function"]
        present = [socs[c] for c in function.socs if c in socs]
        family["node"] = TaxonomyNode(
            code=family["code"],
            name=family["name"],
            kind=kind.FAMILY,
            parent=functions[function.code],
            default_soc=present[0] if present and family["default_soc"] else None,
        )
        writer.add(family["node"])
    writer.flush(TaxonomyNode)
    specs = {}
    for family in plan:
        for spec_code, spec_name, _ in family["specs"]:
            node = TaxonomyNode(
                code=f"{family['code']}.{spec_code}",
                name=f"{family['name']} — {spec_name}",
                kind=kind.SPECIALIZATION,
                parent=family["node"],
            )
            specs[node.code] = node
            writer.add(node)
    writer.flush(TaxonomyNode, final=True)
    summary.nodes = len(superfunctions) + len(functions) + len(plan) + len(specs)
    return specs


def _fill(rng: random.Random, pool: list[str], **names: str) -> str:
    return rng.choice(pool).format(**names)


def _create_roles(writer, rng, plan, specs, levels, roles) -> list[tuple[Role, dict, str]]:
    """Write the roles with their story; return (role, family, sector) in creation order."""
    rows = []
    for family in plan:
        theme, noun = family["themes"][0], family["function"].nouns[0]
        article = "An" if noun[0] in "AEIOU" else "A"
        names = {"t": _lower(theme), "T": theme, "r": f"{article} {noun.lower()}"}
        for spec_code, _, sector in family["specs"]:
            for level_code in family["levels"][spec_code]:
                title = TITLES[level_code][0].format(t=theme, n=noun)
                if sector:
                    title = f"{title}, {sector}"
                headline = LEVEL_HEADLINES[level_code].format(L=level_code, a=family["name"])
                steps = sorted(rng.sample(range(len(PLAN)), rng.randint(4, 6)))
                outputs = rng.sample(CORE_OUTPUTS, rng.choice([0, 0, 2, 3, 4]))
                role = Role(
                    code=f"{family['code']}.{spec_code}.{level_code}",
                    title=title,
                    node=specs[f"{family['code']}.{spec_code}"],
                    level=levels[level_code],
                    headline=headline,
                    who_does_this_work=_fill(rng, WHO, **names),
                    external_problem=_fill(rng, EXTERNAL, **names),
                    internal_problem=_fill(rng, INTERNAL, **names),
                    why_it_matters=_fill(rng, WHY, **names),
                    plan=[PLAN[i].format(**names) for i in steps],
                    whats_at_stake=_fill(rng, STAKE, **names),
                    success_looks_like=_fill(rng, SUCCESS, **names),
                    summary=f"{headline} {LEVEL_SUMMARIES[level_code]}",
                    core_outputs=[s.format(**names) for s in outputs],
                )
                rows.append((role, family, sector))
                writer.add(role)
    writer.flush(Role, final=True)
    return rows


def _alias_pool(rng, role: Role, family: dict, sector: str) -> Iterator[tuple[str, str]]:
    """Yield (alias, type) candidates: the title, then a mix of the level's patterns (common),
    their abbreviations and hidden variants (internal or legacy titles with a qualifier).

    Repeats are possible; the caller skips them. The supply never runs out: past the patterns
    come qualified variants of each, then numbered titles.
    """
    level_code = role.code.rsplit(".", 1)[1]
    patterns = [TITLES[level_code][0], *TITLES[level_code][1]]
    common = [
        p.format(t=theme, n=noun)
        for p in patterns
        for theme in family["themes"]
        for noun in (family["function"].nouns if "{n}" in p else [""])
    ]
    rng.shuffle(common)
    bases = list(common)
    qualifiers = [sector, *QUALIFIERS] if sector else QUALIFIERS
    abbreviated = [
        short for text in common if (short := ABBREVIATION_RE.sub(lambda m: ABBREVIATIONS[m[1]], text)) != text
    ]
    yield role.title, TitleAlias.AliasType.COMMON
    # Roughly 70% common, 20% abbreviations, 10% hidden while the patterns last.
    while common or abbreviated:
        r = rng.random()
        if r < 0.7 and common:
            yield common.pop(), TitleAlias.AliasType.COMMON
        elif r < 0.9 and abbreviated:
            yield abbreviated.pop(), TitleAlias.AliasType.ABBREVIATION
        else:
            yield f"{rng.choice(bases)} ({rng.choice(qualifiers)})", TitleAlias.AliasType.HIDDEN
    # Only past the patterns (more aliases than a level has patterns): every qualified variant.
    hidden = [f"{base} ({q})" for base in bases for q in qualifiers]
    rng.shuffle(hidden)
    while hidden:
        yield hidden.pop(), TitleAlias.AliasType.HIDDEN
    for n in range(2, 1_000_000):
        yield f"{role.title} ({n})", TitleAlias.AliasType.HIDDEN


CONFIDENCE_RANGES = {
    TitleAlias.AliasType.COMMON: (45, 95),
    TitleAlias.AliasType.ABBREVIATION: (35, 85),
    TitleAlias.AliasType.HIDDEN: (30, 65),
}


def _texts(rng, kind: str, count: int, fmt: Callable[[str], str]) -> list[str]:
    """`count` distinct component texts of one kind."""
    pool = COMPONENTS[kind]
    picked = [fmt(s) for s in rng.sample(pool, min(count, len(pool)))]
    seen = set(picked)
    n = 2
    while len(picked) < count:
        text = f"{fmt(pool[len(picked) % len(pool)])} ({n})"
        if text not in seen:
            seen.add(text)
            picked.append(text)
        else:
            n += 1
    return picked


def _split(total: int) -> dict[str, int]:
    """Split `total` components over the kinds in the card's proportions (largest remainder)."""
    weight = sum(KIND_WEIGHTS.values())
    exact = {k: total * w / weight for k, w in KIND_WEIGHTS.items()}
    counts = {k: int(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: counts[k] - exact[k])[: total - sum(counts.values())]:
        counts[k] += 1
    return counts


def _create_children(
    writer, rng, role_rows, summary, *, reviewer, now, socs, aliases_per_role, components_per_role, approve_fraction
) -> None:
    """Write components, aliases and mappings, streaming them out in batches.

    Foreign keys are set by id: assigning objects costs a descriptor call and a check per row.
    """
    split = _split(components_per_role)
    by_major: dict[str, list] = {}
    for occupation in socs.values():
        if occupation.level == OccupationCode.Level.DETAILED:
            by_major.setdefault(occupation.code[:2], []).append(occupation)
    for role, family, sector in role_rows:
        level = role.level
        theme = family["themes"][0]
        names = {"t": _lower(theme), "T": theme, "f": family["name"], "x": level.typical_experience}

        def fmt(s: str, names: dict[str, str] = names) -> str:
            return s.format(**names)

        for kind, count in split.items():
            for position, text in enumerate(_texts(rng, kind, count, fmt)):
                writer.add(
                    Component(
                        role_id=role.pk,
                        kind=kind,
                        text=text,
                        position=position,
                        prevalence=rng.choice(PREVALENCE),
                        scope=rng.choice(SCOPE),
                    )
                )
                summary.by_kind[kind] = summary.by_kind.get(kind, 0) + 1
        summary.components += components_per_role

        seen: set[str] = set()
        pool = _alias_pool(rng, role, family, sector)
        while len(seen) < aliases_per_role:
            text, alias_type = next(pool)
            text = " ".join(text.split())
            key = text.lower()
            if key in seen:
                continue
            seen.add(key)
            low, high = CONFIDENCE_RANGES[alias_type]
            created_at = now - timedelta(minutes=rng.randint(60, 90 * 24 * 60))
            state = _state(rng, approve_fraction)
            alias = TitleAlias(
                role_id=role.pk,
                alias=text,
                alias_type=alias_type,
                confidence=CONFIDENCE[rng.randint(low, high)],
                source=rng.choice(ALIAS_SOURCES),
            )
            workflow.start(alias, actor=writer.actor, at=created_at)
            decision = None
            if state:
                decided_at = created_at + timedelta(minutes=rng.randint(5, 50 * 60))
                decision = _decide(alias, state, reviewer, decided_at)
                if state == 1:
                    summary.aliases_approved += 1
                else:
                    summary.aliases_rejected += 1
            writer.add(alias, decision)
        summary.aliases += aliases_per_role

        for mapping in _mappings(rng, role, family, socs, by_major):
            workflow.start(mapping, actor=writer.actor, at=now - timedelta(minutes=rng.randint(60, 90 * 24 * 60)))
            state = _state(rng, approve_fraction)
            decision = None
            if state:
                decided_at = mapping.created_at + timedelta(minutes=rng.randint(5, 50 * 60))
                decision = _decide(mapping, state, reviewer, decided_at)
                if state == 1:
                    summary.mappings_approved += 1
                else:
                    summary.mappings_rejected += 1
            writer.add(mapping, decision)
            summary.mappings += 1
    for model in (Component, TitleAlias, ClassificationMapping):
        writer.flush(model, final=True)


def _decide(item, state: int, reviewer, at: datetime) -> Decision:
    """The demo reviewer's decision on a new item, made through the state machine (in memory)."""
    if state == 1:
        # The demo approves group-level codes as they are, as a reviewer may after confirming.
        return workflow.prepare_move(item, "approved", actor=reviewer, kind=DecisionKind.APPROVE, at=at,
                                     reason="demo data")
    return workflow.prepare_move(item, "rejected", actor=reviewer, kind=DecisionKind.REJECT, at=at,
                                 reason="demo data: not a fit")


def _mappings(rng, role: Role, family: dict, socs: dict, by_major: dict) -> list[ClassificationMapping]:
    """One or two mappings to real SOC codes; none when the reference data is not loaded."""
    if not socs:
        return []
    source = ClassificationMapping.Source
    node = family["node"]
    function = family["function"]
    superfunction_soc = socs.get(function.superfunction[2])
    first = []
    if node.default_soc is not None:
        first = [(node.default_soc, source.INFERRED_FROM_FAMILY)]
    elif superfunction_soc is not None:
        first = [(superfunction_soc, source.INFERRED_FROM_SUPERFUNCTION)]
    candidates = [socs[c] for c in function.socs if c in socs] or by_major.get(function.superfunction[2][:2], [])
    chosen = list(first)
    if candidates and (not chosen or rng.random() < SECOND_MAPPING_SHARE):
        occupation = rng.choice(candidates)
        if all(occupation.code != o.code for o, _ in chosen):
            chosen.append((occupation, rng.choice([source.MANUAL, source.IMPORTED])))
    mappings = []
    for occupation, how in chosen:
        title = occupation.title
        # Inherited titles are written as the card writes them ("&" for "and").
        if how == source.INFERRED_FROM_SUPERFUNCTION:
            title = title.replace(" and ", " & ")
        mappings.append(
            ClassificationMapping(
                role_id=role.pk,
                scheme=ClassificationMapping.Scheme.ONET_SOC,
                code=occupation.code,
                occupation_id=occupation.pk,
                title=title,
                source=how,
            )
        )
    return mappings
