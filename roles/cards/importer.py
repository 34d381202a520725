"""Import published role cards: plan the difference against the database, then apply it.

Planning reads a fixed handful of rows per card and writes nothing, so the admin preview and
`--dry-run` use it as is. Applying writes each model's new and changed rows with
simple-history's bulk helpers: the number of queries per card stays bounded whatever its size.

Review decisions survive a re-import: an approved alias or mapping stays approved while its
content is unchanged, a rejected one is never brought back (it is reported as suppressed),
and items missing from the card are reported, never deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from framework.audit import acting_as
from roles.models import ClassificationMapping, Component, Role, TitleAlias, normalize_space
from roles.services import mark_content_change, save_tracked
from taxonomy.models import Level, OccupationCode, TaxonomyNode

from .parser import CardData, CardSyntaxError, Problem, parse_card

ROLE_FIELDS = (
    "title",
    "headline",
    "who_does_this_work",
    "external_problem",
    "internal_problem",
    "why_it_matters",
    "plan",
    "whats_at_stake",
    "success_looks_like",
    "summary",
    "core_outputs",
)
ALIAS_SOURCE = "card import"
REMOVE_HINT = (
    "Missing items were kept: a curator deletes them in the admin "
    "(Roles › Components, Title aliases or Classification mappings) if they should go."
)


def import_reason(filename: str) -> str:
    return f"card import: {filename}"


@dataclass
class CardSource:
    """One uploaded or read card file: its display name and raw bytes."""

    filename: str
    data: bytes


@dataclass
class CardPlan:
    """What importing one card will do; `apply_plan` performs it."""

    filename: str
    card: CardData
    role: Role
    role_is_new: bool
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # Rows to write, in dependency order.
    nodes: list[TaxonomyNode] = field(default_factory=list)
    level: Level | None = None
    role_dirty: bool = False
    creates: dict[type, list] = field(default_factory=dict)
    updates: dict[type, tuple[list, set[str]]] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return self.card.code

    @property
    def writes(self) -> bool:
        return bool(self.nodes or self.level or self.role_dirty or self.creates or self.updates)

    @property
    def action(self) -> str:
        if self.role_is_new:
            return "created"
        return "updated" if self.writes else "unchanged"

    def counts(self) -> str:
        parts = [f"{len(self.added)} added", f"{len(self.changed)} changed"]
        if self.suppressed:
            parts.append(f"{len(self.suppressed)} suppressed")
        if self.missing:
            parts.append(f"{len(self.missing)} missing")
        return ", ".join(parts)


@dataclass
class ImportResult:
    """The outcome of a run: one plan per card, or the problems that stopped it."""

    plans: list[CardPlan] = field(default_factory=list)
    problems: list[tuple[str, Problem]] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def error_lines(self) -> list[str]:
        return [problem.format(filename) for filename, problem in self.problems]

    def summary(self) -> str:
        actions = [plan.action for plan in self.plans]
        suppressed = sum(len(p.suppressed) for p in self.plans)
        missing = sum(len(p.missing) for p in self.plans)
        verb = "Would import" if self.dry_run else "Imported"
        line = (
            f"{verb} {len(self.plans)} card{'s' if len(self.plans) != 1 else ''}: "
            f"{actions.count('created')} created, {actions.count('updated')} updated, "
            f"{actions.count('unchanged')} unchanged; {suppressed} suppressed, {missing} missing."
        )
        return f"{line} {REMOVE_HINT}" if missing else line


class _Context:
    """Levels, nodes and occupations met earlier in the run, so each is read once per run."""

    def __init__(self) -> None:
        self.levels: dict[str, Level | None] = {}
        self.nodes: dict[str, TaxonomyNode | None] = {}
        self.role_codes: set[str] = set()

    def level(self, code: str) -> Level | None:
        if code not in self.levels:
            self.levels[code] = Level.objects.filter(code=code).first()
        return self.levels[code]

    def load_nodes(self, codes: list[str]) -> None:
        wanted = [c for c in codes if c not in self.nodes]
        if wanted:
            found = {n.code: n for n in TaxonomyNode.objects.filter(code__in=wanted)}
            for code in wanted:
                self.nodes[code] = found.get(code)


def parse_sources(sources: Iterable[CardSource]) -> tuple[list[tuple[str, CardData]], list[tuple[str, Problem]]]:
    """Parse every source; return the cards and every problem found (a role code twice is one)."""
    cards: list[tuple[str, CardData]] = []
    problems: list[tuple[str, Problem]] = []
    first_file: dict[str, str] = {}
    for source in sources:
        try:
            card = parse_card(source.data)
        except CardSyntaxError as exc:
            problems.extend((source.filename, p) for p in exc.problems)
            continue
        if card.code in first_file:
            problems.append((source.filename, Problem(2, f"{card.code} is also in {first_file[card.code]}")))
            continue
        first_file[card.code] = source.filename
        cards.append((source.filename, card))
    return cards, problems


def import_cards(
    sources: Iterable[CardSource],
    *,
    actor: Any,
    dry_run: bool = False,
    progress: Callable[[int, int, CardPlan], None] | None = None,
) -> ImportResult:
    """Import every card in one transaction, or nothing at all if any card has a problem.

    With dry_run, only plan: nothing is written. Returns the plans, or the problems as
    (filename, Problem); never raises for bad input.
    """
    sources = list(sources)
    cards, problems = parse_sources(sources)
    result = ImportResult(problems=problems, dry_run=dry_run)
    if problems:
        return result
    with transaction.atomic():
        context = _Context()
        for index, (filename, card) in enumerate(cards, 1):
            plan = plan_card(card, filename=filename, actor=actor, context=context)
            result.plans.append(plan)
            if plan.problems:
                result.problems.extend((filename, p) for p in plan.problems)
            elif plan.writes and not dry_run and not result.problems:
                try:
                    with transaction.atomic():
                        apply_plan(plan, actor=actor)
                except DatabaseError as exc:
                    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    result.problems.append((filename, Problem(2, f"the database refused the card: {message}")))
            if progress is not None:
                progress(index, len(cards), plan)
        if result.problems or dry_run:
            transaction.set_rollback(True)
    return result


def plan_card(card: CardData, *, filename: str, actor: Any, context: _Context | None = None) -> CardPlan:
    """Compare `card` with the database and return what importing it would change; writes nothing."""
    context = context or _Context()
    role = Role.objects.select_related("node", "level").filter(code=card.code).first()
    plan = CardPlan(filename=filename, card=card, role=role or Role(code=card.code), role_is_new=role is None)
    specialization = _plan_taxonomy(plan, context)
    level = _plan_level(plan, context)
    if plan.problems:
        return plan
    role = plan.role
    if plan.role_is_new:
        role.node, role.level = specialization, level
    for name in ROLE_FIELDS:
        setattr(role, name, getattr(card, name))
    if plan.role_is_new:
        plan.role_dirty = True
    elif changed := role.changed_fields():
        plan.role_dirty = True
        plan.changed.append(f"role {role.code}: {', '.join(changed)}")
    _plan_components(plan)
    _plan_aliases(plan, actor)
    _plan_mappings(plan, actor)
    return plan


def _plan_taxonomy(plan: CardPlan, context: _Context) -> TaxonomyNode | None:
    card = plan.card
    family_code, spec_code = card.family_code, card.specialization_code
    if not plan.role_is_new:
        return plan.role.node
    context.load_nodes([family_code, spec_code])
    family, spec = context.nodes[family_code], context.nodes[spec_code]
    if family is None:
        family = TaxonomyNode(code=family_code, name=family_code, kind=TaxonomyNode.Kind.FAMILY)
        context.nodes[family_code] = family
        plan.nodes.append(family)
        plan.added.append(f"family {family_code}")
    elif family.kind != TaxonomyNode.Kind.FAMILY:
        plan.problems.append(Problem(2, f"{family_code} exists as a {family.kind}, not a family"))
    if spec is None:
        spec = TaxonomyNode(
            code=spec_code, name=spec_code.partition(".")[2], kind=TaxonomyNode.Kind.SPECIALIZATION, parent=family
        )
        context.nodes[spec_code] = spec
        plan.nodes.append(spec)
        plan.added.append(f"specialization {spec_code}")
    elif spec.kind != TaxonomyNode.Kind.SPECIALIZATION:
        plan.problems.append(Problem(2, f"{spec_code} exists as a {spec.kind}, not a specialization"))
    elif spec.parent_id is not None and family.pk is not None and spec.parent_id != family.pk:
        plan.problems.append(Problem(2, f"the specialization {spec_code} sits under another family"))
    return spec


def _plan_level(plan: CardPlan, context: _Context) -> Level:
    data = plan.card.level
    level = plan.role.level if not plan.role_is_new else context.level(data.code)
    if level is None:
        level = Level(code=data.code, rank=int(data.code[1:]), track=data.code[:1])
        context.levels[data.code] = level
        plan.added.append(f"level {data.code}")
    level.name, level.summary = data.name, data.summary
    for attr, _ in Level.ATTRIBUTES:
        setattr(level, attr, data.attributes.get(attr, ""))
    if level.pk is None:
        # A level planned earlier in this run but not yet written (preview) is written once.
        if f"level {data.code}" in plan.added:
            plan.level = level
    elif changed := level.changed_fields():
        plan.level = level
        plan.changed.append(f"level {level.code}: {', '.join(changed)} (the card's level block differs)")
    return level


def _queue(plan: CardPlan, obj, *, new: bool) -> None:
    model = type(obj)
    if new:
        plan.creates.setdefault(model, []).append(obj)
        return
    objs, fields = plan.updates.setdefault(model, ([], set()))
    objs.append(obj)
    fields.update(obj.changed_fields())


def _plan_components(plan: CardPlan) -> None:
    existing = {} if plan.role_is_new else {(c.kind, c.text): c for c in plan.role.components.all()}
    positions: dict[str, int] = {}
    for data in plan.card.components:
        position = positions.get(data.kind, 0)
        positions[data.kind] = position + 1
        component = existing.pop((data.kind, data.text), None)
        label = f"{data.kind} {data.text!r}"
        if component is None:
            _queue(
                plan,
                Component(
                    role=plan.role,
                    kind=data.kind,
                    text=data.text,
                    prevalence=data.prevalence,
                    scope=data.scope,
                    position=position,
                ),
                new=True,
            )
            plan.added.append(label)
            continue
        component.prevalence, component.scope, component.position = data.prevalence, data.scope, position
        if changed := component.changed_fields():
            _queue(plan, component, new=False)
            plan.changed.append(f"{label}: {', '.join(changed)}")
    for kind, text in existing:
        plan.missing.append(f"{kind} {text!r} is not on the card")


def _alias_key(text: str) -> str:
    return normalize_space(text).lower()


def _plan_aliases(plan: CardPlan, actor: Any) -> None:
    existing = {} if plan.role_is_new else {_alias_key(a.alias): a for a in plan.role.aliases.all()}
    for data in plan.card.aliases:
        alias = existing.pop(_alias_key(data.alias), None)
        label = f"alias {data.alias!r}"
        approved_at = datetime.combine(data.approved_on, time(0), tzinfo=UTC) if data.approved_on else None
        if alias is None:
            alias = TitleAlias(
                role=plan.role,
                alias=data.alias,
                alias_type=data.alias_type,
                confidence=data.confidence,
                source=ALIAS_SOURCE,
            )
            if approved_at:
                alias.status, alias.approved_at = TitleAlias.Status.APPROVED, approved_at
            mark_content_change(alias, actor=actor, pending=TitleAlias.Status.PENDING)
            _queue(plan, alias, new=True)
            plan.added.append(label + (" (approved)" if approved_at else ""))
            continue
        if alias.status == TitleAlias.Status.REJECTED:
            # A reviewer's rejection stands: the card cannot bring the alias back.
            plan.suppressed.append(f"{label} was rejected by a reviewer")
            continue
        was = alias.status
        alias.alias, alias.alias_type, alias.confidence = data.alias, data.alias_type, data.confidence
        mark_content_change(alias, actor=actor, pending=TitleAlias.Status.PENDING)
        if approved_at and was == TitleAlias.Status.PENDING:
            alias.status, alias.approved_at, alias.approved_by = TitleAlias.Status.APPROVED, approved_at, None
        if changed := alias.changed_fields():
            _queue(plan, alias, new=False)
            note = " (back to review)" if was == TitleAlias.Status.APPROVED and alias.status != was else ""
            content = [f for f in changed if f in TitleAlias.CONTENT_FIELDS or f == "status"]
            plan.changed.append(f"{label}: {', '.join(content or changed)}{note}")
    for alias in existing.values():
        if alias.status != TitleAlias.Status.REJECTED:
            plan.missing.append(f"alias {alias.alias!r} is not on the card")


def _plan_mappings(plan: CardPlan, actor: Any) -> None:
    existing = {} if plan.role_is_new else {(m.scheme, m.code): m for m in plan.role.mappings.all()}
    new: list[ClassificationMapping] = []
    now = timezone.now()
    for data in plan.card.mappings:
        mapping = existing.pop((data.scheme, data.code), None)
        label = f"mapping {data.code}"
        approve = data.status == ClassificationMapping.Status.APPROVED
        if mapping is None:
            mapping = ClassificationMapping(
                role=plan.role, scheme=data.scheme, code=data.code, title=data.title, source=data.source
            )
            if approve:
                mapping.status, mapping.reviewed_at = ClassificationMapping.Status.APPROVED, now
            mark_content_change(mapping, actor=actor, pending=ClassificationMapping.Status.NEEDS_REVIEW)
            new.append(mapping)
            plan.added.append(label)
            continue
        if mapping.status == ClassificationMapping.Status.REJECTED:
            plan.suppressed.append(f"{label} was rejected by a reviewer")
            continue
        mapping.title, mapping.source = data.title, data.source
        if approve and mapping.status == ClassificationMapping.Status.NEEDS_REVIEW:
            mapping.status, mapping.reviewed_at = ClassificationMapping.Status.APPROVED, now
        # An approved mapping stays approved when the card still says needs_review.
        if changed := mapping.changed_fields():
            _queue(plan, mapping, new=False)
            plan.changed.append(f"{label}: {', '.join(changed)}")
    _link_occupations(new)
    for mapping in new:
        _queue(plan, mapping, new=True)
    for mapping in existing.values():
        if mapping.status != ClassificationMapping.Status.REJECTED:
            plan.missing.append(f"mapping {mapping.code} is not on the card")


def _link_occupations(mappings: list[ClassificationMapping]) -> None:
    """roles.services.link_occupation for many mappings in one query (a card may list many)."""
    if not mappings:
        return
    condition = Q()
    for mapping in mappings:
        condition |= Q(scheme=ClassificationMapping.reference_scheme(mapping.code), code=mapping.code)
    found = {(o.scheme, o.code): o for o in OccupationCode.objects.filter(condition)}
    for mapping in mappings:
        mapping.occupation = found.get((ClassificationMapping.reference_scheme(mapping.code), mapping.code))


def apply_plan(plan: CardPlan, *, actor: Any) -> None:
    """Write `plan` as `actor` with the reason "card import: FILE": a bounded number of queries.

    Call inside a transaction. Raises DatabaseError if the database refuses a row.
    """
    reason = import_reason(plan.filename)
    # Unsaved parents (family, role) are saved first; Django then fills in their new pks.
    for node in plan.nodes:
        save_tracked(node, actor=actor, reason=reason)
    if plan.level is not None:
        save_tracked(plan.level, actor=actor, reason=reason)
    if plan.role_dirty:
        save_tracked(plan.role, actor=actor, reason=reason)
    with acting_as(actor, reason):
        for model in (Component, TitleAlias, ClassificationMapping):
            if objs := plan.creates.get(model):
                bulk_create_with_history(objs, model, default_user=actor, default_change_reason=reason)
            if model in plan.updates:
                objs, fields = plan.updates[model]
                bulk_update_with_history(objs, model, sorted(fields), default_user=actor, default_change_reason=reason)
