"""Import published role cards: plan the difference against the database, then apply it.

Planning reads a fixed handful of rows per card and writes nothing, so the admin preview and
`--dry-run` use it as is. A real import plans under row locks (`select_for_update`) and applies
in the same transaction, so a decision made meanwhile either lands before the plan reads the
row, or waits for the import. Applying writes each model's new and changed rows with
simple-history's bulk helpers: the number of queries per card stays bounded whatever its size.

Review states on a card are claims by the system that published it, never decisions by the
person who uploads it. They become decisions ("imported" Decision rows naming the importer and
the file) only when the import is asked to and the importer was granted roles.import_decisions
(superuser status does not imply it). An imported approval is the importer's decision and obeys
four-eyes like any other: content the importer wrote (new items, changed ones) is never
approved by the import. Otherwise the items come in pending and the preview lists each claim
that is ignored, with why.
Decisions made in Rolebook survive a re-import: an approved item stays approved while its
content is unchanged, a changed one goes back to review, a rejected one is never brought back
(reported as suppressed), and items missing from the card are reported, never deleted.

A field a person changed in Rolebook since the card's last import is left alone, shown in the
preview old → new with who changed it and when, unless `overwrite_edits` is given. A code a
reviewer refined and a decision the card disagrees with are kept and shown the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from functools import partial
from typing import Any

from django.db import DatabaseError, models, transaction
from django.db.models import Q
from django.utils import timezone

from framework.audit import save_with_reason
from roles import workflow
from roles.models import (
    ClassificationMapping,
    Component,
    Decision,
    DecisionKind,
    Reviewable,
    Role,
    TitleAlias,
    normalize_space,
)
from taxonomy.models import Level, OccupationCode, TaxonomyNode

from .parser import AliasData, CardData, CardSyntaxError, MappingData, Problem, parse_card

logger = logging.getLogger("rolebook.import")

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
LEVEL_FIELDS = ("name", "summary", *(attr for attr, _ in Level.ATTRIBUTES))
COMPONENT_FIELDS = ("prevalence", "scope", "position")
ALIAS_FIELDS = ("alias", "alias_type", "confidence")
MAPPING_FIELDS = ("title", "source")
ALIAS_SOURCE = "card import"
IMPORT_REASON_PREFIX = "card import: "
REMOVE_HINT = (
    "Missing items were kept: a curator deletes them in the admin "
    "(Roles › Components, Title aliases or Classification mappings) if they should go."
)
DETAILED_LEVELS = (OccupationCode.Level.DETAILED, OccupationCode.Level.ONET)


def import_reason(filename: str) -> str:
    return f"{IMPORT_REASON_PREFIX}{filename}"


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
    # Review states the card claims: imported as decisions, or listed as ignored.
    claims_imported: list[str] = field(default_factory=list)
    claims_ignored: list[str] = field(default_factory=list)
    # Fields changed in Rolebook since the card's last import: kept, or overwritten on request.
    edits_kept: list[str] = field(default_factory=list)
    edits_overwritten: list[str] = field(default_factory=list)
    # Rows to write, in dependency order.
    nodes: list[TaxonomyNode] = field(default_factory=list)
    level: Level | None = None
    role_dirty: bool = False
    creates: dict[type, list] = field(default_factory=dict)
    updates: dict[type, tuple[list, set[str]]] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)

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

    @property
    def conflicts(self) -> int:
        """Rolebook edits the card disagrees with (kept or overwritten)."""
        return len(self.edits_kept) + len(self.edits_overwritten)

    def counts(self) -> str:
        parts = [f"{len(self.added)} added", f"{len(self.changed)} changed"]
        if self.suppressed:
            parts.append(f"{len(self.suppressed)} suppressed")
        if self.missing:
            parts.append(f"{len(self.missing)} missing")
        if self.conflicts:
            parts.append(f"{self.conflicts} Rolebook edit{'s' if self.conflicts != 1 else ''} in conflict")
        if self.claims_ignored:
            parts.append(f"{len(self.claims_ignored)} claim{'s' if len(self.claims_ignored) != 1 else ''} ignored")
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

    @property
    def writes(self) -> bool:
        return any(plan.writes for plan in self.plans)

    @property
    def may_write(self) -> bool:
        """Whether confirming can change anything: writes planned, or Rolebook edits to overwrite."""
        return self.writes or any(plan.edits_kept for plan in self.plans)

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
        kept = sum(len(p.edits_kept) for p in self.plans)
        overwritten = sum(len(p.edits_overwritten) for p in self.plans)
        if kept or overwritten:
            line += f" Conflicts with Rolebook edits: {kept} kept, {overwritten} overwritten."
        imported = sum(len(p.claims_imported) for p in self.plans)
        ignored = sum(len(p.claims_ignored) for p in self.plans)
        if imported or ignored:
            line += f" Review claims: {imported} imported as decisions, {ignored} ignored (stay pending)."
        return f"{line} {REMOVE_HINT}" if missing else line


@dataclass(frozen=True)
class ImportOptions:
    """How a run treats the card's review claims and Rolebook's own edits."""

    import_decisions: bool = False
    overwrite_edits: bool = False


class _Context:
    """Levels, nodes and occupations met earlier in the run, so each is read once per run."""

    def __init__(self, *, lock: bool = False) -> None:
        self.levels: dict[str, Level | None] = {}
        self.nodes: dict[str, TaxonomyNode | None] = {}
        self.lock = lock

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

    def rows(self, queryset: models.QuerySet) -> models.QuerySet:
        """The rows a real import may change, locked until its transaction ends."""
        return queryset.select_for_update(of=("self",)) if self.lock else queryset


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
    import_decisions: bool = False,
    overwrite_edits: bool = False,
    progress: Callable[[int, int, CardPlan], None] | None = None,
) -> ImportResult:
    """Import every card in one transaction, or nothing at all if any card has a problem.

    With dry_run, only plan: nothing is written. With import_decisions, the card's review
    claims become "imported" decisions when `actor` holds roles.import_decisions (otherwise
    they are listed as ignored). With overwrite_edits, the card's values replace fields changed
    in Rolebook since its last import. Returns the plans, or the problems as (filename,
    Problem); never raises for bad input.
    """
    sources = list(sources)
    cards, problems = parse_sources(sources)
    result = ImportResult(problems=problems, dry_run=dry_run)
    if problems:
        return result
    options = ImportOptions(
        import_decisions=import_decisions and workflow.may_move(actor, TitleAlias, DecisionKind.IMPORTED),
        overwrite_edits=overwrite_edits,
    )
    with transaction.atomic():
        context = _Context(lock=not dry_run)
        for index, (filename, card) in enumerate(cards, 1):
            plan = plan_card(card, filename=filename, actor=actor, context=context, options=options)
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
        else:
            transaction.on_commit(partial(_log_import, result, actor))  # one log line per import
    return result


def _log_import(result: ImportResult, actor: Any) -> None:
    """Log one line naming the cards an import wrote; called once it has committed."""
    written = [f"{plan.code} {plan.action}" for plan in result.plans if plan.action != "unchanged"]
    logger.info(
        "card import by %s: %s%s", getattr(actor, "username", None), result.summary(),
        f" ({', '.join(written)})" if written else "",
        extra={"cards": {plan.code: plan.action for plan in result.plans}, "files": [p.filename for p in result.plans],
               "actor_id": getattr(actor, "pk", None)},
    )


def plan_card(
    card: CardData,
    *,
    filename: str,
    actor: Any,
    context: _Context | None = None,
    options: ImportOptions | None = None,
) -> CardPlan:
    """Compare `card` with the database and return what importing it would change; writes nothing."""
    context = context or _Context()
    options = options or ImportOptions()
    role = context.rows(Role.objects.select_related("node", "level")).filter(code=card.code).first()
    plan = CardPlan(filename=filename, card=card, role=role or Role(code=card.code), role_is_new=role is None)
    specialization = _plan_taxonomy(plan, context)
    level = _plan_level(plan, context, options)
    if plan.problems:
        return plan
    role = plan.role
    if plan.role_is_new:
        role.node, role.level = specialization, level
    for name in ROLE_FIELDS:
        setattr(role, name, getattr(card, name))
    if plan.role_is_new:
        plan.role_dirty = True
    else:
        edits = _EditLog(Role, [role.pk], ROLE_FIELDS) if role.changed_fields() else None
        changed = _settle_edits(plan, role, ROLE_FIELDS, edits, options, f"role {role.code}")
        if changed:
            plan.role_dirty = True
            plan.changed.append(f"role {role.code}: {', '.join(changed)}")
    _plan_components(plan, context, options)
    _plan_aliases(plan, actor, context, options)
    _plan_mappings(plan, actor, context, options)
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


def _plan_level(plan: CardPlan, context: _Context, options: ImportOptions) -> Level:
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
        return level
    edits = _EditLog(Level, [level.pk], LEVEL_FIELDS) if level.changed_fields() else None
    if changed := _settle_edits(plan, level, LEVEL_FIELDS, edits, options, f"level {level.code}"):
        plan.level = level
        plan.changed.append(f"level {level.code}: {', '.join(changed)} (the card's level block differs)")
    return level


# ---------------------------------------------------------------------------------------------
# Rolebook edits since the card's last import


@dataclass(frozen=True)
class _Edit:
    who: str
    when: datetime


class _EditLog:
    """For rows of one model: which fields people changed in Rolebook since the last card import,
    and who last changed each watched field and when, whoever it was.

    Read from the rows' history in one query: after the newest "card import: …" row (or the
    row's creation, when no card ever wrote it), every other change of a watched field counts.
    """

    def __init__(self, model: type[models.Model], pks: Iterable[int], fields: Iterable[str]):
        self.edits: dict[int, dict[str, _Edit]] = {}
        self.latest: dict[int, dict[str, _Edit]] = {}
        fields = list(fields)
        attnames = [model._meta.get_field(name).attname for name in fields]
        rows = (
            model.history.filter(id__in=set(pks))
            .order_by("id", "history_date", "history_id")
            .values_list("id", "history_change_reason", "history_user__username", "history_date", *attnames)
        )
        previous: dict[int, tuple] = {}
        for pk, reason, username, date, *values in rows:
            edit = _Edit(username or "someone", date)
            before = previous.get(pk)
            # The row's creation sets every field; later rows, those that differ from the row before.
            changed = [name for i, name in enumerate(fields) if before is None or before[i] != values[i]]
            self.latest.setdefault(pk, {}).update(dict.fromkeys(changed, edit))
            if (reason or "").startswith(IMPORT_REASON_PREFIX):
                self.edits[pk] = {}
            elif before is not None:
                self.edits.setdefault(pk, {}).update(dict.fromkeys(changed, edit))
            previous[pk] = tuple(values)

    def for_row(self, pk: int | None) -> dict[str, _Edit]:
        return self.edits.get(pk, {}) if pk is not None else {}

    def last_change(self, pk: int | None, name: str) -> _Edit | None:
        """The newest history row that changed `name` on row `pk`, an import's included (None without history)."""
        return self.latest.get(pk, {}).get(name) if pk is not None else None


def _by(edit: _Edit | None) -> str:
    """The words " by edith on 2026-01-15 09:30 UTC" for a Rolebook edit, or "" when the history holds none."""
    if edit is None:
        return ""
    return f" by {edit.who} on {timezone.localtime(edit.when):%Y-%m-%d %H:%M %Z}"


def _show(value: Any) -> str:
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value)
    text = str(value)
    return repr(text[:57] + "…") if len(text) > 60 else repr(text) if isinstance(value, str) else text


def _settle_edits(
    plan: CardPlan, obj: models.Model, fields: Iterable[str], edits: _EditLog | None, options: ImportOptions,
    label: str,
) -> list[str]:
    """Resolve the card's changes to `obj` against Rolebook edits; return "field old → new" per change kept.

    A field changed in Rolebook since the last import keeps its Rolebook value unless
    options.overwrite_edits; either way the preview lists it with who changed it and when.
    """
    changed = [name for name in obj.changed_fields() if name in fields]
    loaded = obj._loaded_values
    made = []
    for name in changed:
        attname = obj._meta.get_field(name).attname
        old, new = loaded[attname], getattr(obj, attname)
        edit = edits.for_row(obj.pk).get(name) if edits is not None else None
        if edit is not None:
            line = f"{label} {name}: {_show(old)} → {_show(new)} — changed in Rolebook{_by(edit)}"
            if not options.overwrite_edits:
                setattr(obj, attname, old)
                plan.edits_kept.append(line + ": kept (tick “overwrite Rolebook edits” to take the card’s)")
                continue
            plan.edits_overwritten.append(line + ": overwritten with the card’s value")
        made.append(f"{name} {_show(old)} → {_show(new)}")
    return made


# ---------------------------------------------------------------------------------------------
# Components, aliases and mappings


def _queue(plan: CardPlan, obj, *, new: bool) -> None:
    model = type(obj)
    if new:
        plan.creates.setdefault(model, []).append(obj)
        return
    objs, fields = plan.updates.setdefault(model, ([], set()))
    fields.update(obj.changed_fields())
    # The bulk update bypasses save(): count the change as save() would.
    obj.version = obj._loaded_values["version"] + 1
    fields.add("version")
    objs.append(obj)


def _plan_components(plan: CardPlan, context: _Context, options: ImportOptions) -> None:
    existing = {} if plan.role_is_new else {
        (c.kind, c.text): c for c in context.rows(Component.objects.filter(role=plan.role))
    }
    positions: dict[str, int] = {}
    to_settle = []
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
        if component.changed_fields():
            to_settle.append((component, label))
    edits = _EditLog(Component, [c.pk for c, _ in to_settle], COMPONENT_FIELDS) if to_settle else None
    for component, label in to_settle:
        if changed := _settle_edits(plan, component, COMPONENT_FIELDS, edits, options, label):
            _queue(plan, component, new=False)
            plan.changed.append(f"{label}: {', '.join(changed)}")
    for kind, text in existing:
        plan.missing.append(f"{kind} {text!r} is not on the card")


def _alias_key(text: str) -> str:
    return normalize_space(text).lower()


def _claim_date(data: AliasData) -> datetime | None:
    return datetime.combine(data.approved_on, time(0), tzinfo=UTC) if data.approved_on else None


NO_PERMISSION_CLAIM = "the import does not decide for a reviewer (importing review decisions needs " \
    "roles.import_decisions, and the choice to import them)"
RETURNED_CLAIM = "the card changes content a reviewer decided in Rolebook, so it goes back to review first"


def _ignore_claim(
    plan: CardPlan, label: str, claim: str, line: int, stays: str, why: str = NO_PERMISSION_CLAIM
) -> None:
    plan.claims_ignored.append(f"{label} (line {line}): the card says {claim} — will stay {stays}: {why}")


def _import_claim(
    plan: CardPlan, item: Reviewable, to: str, *, actor: Any, label: str, claim: str, decided_at: datetime | None,
    line: int,
) -> None:
    """Turn the card's claim into the importer's "imported" decision on `item` (in memory; applied with the
    plan), or list it as ignored when the review core refuses it (four-eyes: the importer wrote it)."""
    reason = f"{import_reason(plan.filename)}: the card says {claim}"
    try:
        plan.decisions.append(workflow.claim(item, to, actor=actor, reason=reason, decided_at=decided_at))
    except workflow.ReviewError as exc:
        stays = item.get_status_display().lower()
        _ignore_claim(plan, label, claim, line, stays, why=f"the review core refuses it: {exc}")
        return
    plan.claims_imported.append(f"{label}: {claim} (imported as a decision)")


def _plan_aliases(plan: CardPlan, actor: Any, context: _Context, options: ImportOptions) -> None:
    existing = {} if plan.role_is_new else {
        _alias_key(a.alias): a for a in context.rows(TitleAlias.objects.filter(role=plan.role))
    }
    to_settle = []
    for data in plan.card.aliases:
        alias = existing.pop(_alias_key(data.alias), None)
        label = f"alias {data.alias!r}"
        approved_at = _claim_date(data)
        claim = f"approved on {data.approved_on}" if approved_at else ""
        if alias is None:
            alias = TitleAlias(
                role=plan.role,
                alias=data.alias,
                alias_type=data.alias_type,
                confidence=data.confidence,
                source=ALIAS_SOURCE,
            )
            workflow.start(alias, actor=actor)
            if approved_at and options.import_decisions:
                _import_claim(plan, alias, TitleAlias.Status.APPROVED, actor=actor, label=label, claim=claim,
                              decided_at=approved_at, line=data.line)
            elif approved_at:
                _ignore_claim(plan, label, claim, data.line, "pending")
            _queue(plan, alias, new=True)
            plan.added.append(label + (" (approved)" if alias.status == TitleAlias.Status.APPROVED else ""))
            continue
        if alias.status == TitleAlias.Status.REJECTED:
            # A reviewer's rejection stands: the card cannot bring the alias back.
            plan.suppressed.append(f"{label} was rejected by a reviewer")
            continue
        if alias.deprecated:
            # Frozen as published: the card cannot change it (a new alias can replace it).
            if (data.alias, data.alias_type, data.confidence) != (alias.alias, alias.alias_type, alias.confidence):
                plan.suppressed.append(f"{label} is deprecated: it stays as it was published")
            continue
        alias.alias, alias.alias_type, alias.confidence = data.alias, data.alias_type, data.confidence
        to_settle.append((alias, data, label, claim, approved_at))
    changing = [a for a, *_ in to_settle if a.changed_fields()]
    edits = _EditLog(TitleAlias, [a.pk for a in changing], ALIAS_FIELDS) if changing else None
    for alias, data, label, claim, approved_at in to_settle:
        was = alias.status
        changed = _settle_edits(plan, alias, ALIAS_FIELDS, edits, options, label)
        returned = None
        if changed:
            returned = workflow.note_content_change(alias, actor=actor, reason=import_reason(plan.filename))
            if returned is not None:
                plan.decisions.append(returned)
        if approved_at and returned is not None:
            # The card changes what a reviewer decided: the new content goes to review first.
            _ignore_claim(plan, label, claim, data.line, "pending", why=RETURNED_CLAIM)
        elif approved_at and alias.is_open:
            if options.import_decisions:
                _import_claim(plan, alias, TitleAlias.Status.APPROVED, actor=actor, label=label, claim=claim,
                              decided_at=approved_at, line=data.line)
            else:
                _ignore_claim(plan, label, claim, data.line, "pending")
        if alias.changed_fields():
            _queue(plan, alias, new=False)
            note = " (back to review)" if was == TitleAlias.Status.APPROVED and alias.is_open else ""
            if alias.status == TitleAlias.Status.APPROVED and was != alias.status:
                note = " (approved)"
            plan.changed.append(f"{label}: {', '.join(changed) or 'status'}{note}")
    for alias in existing.values():
        if alias.status != TitleAlias.Status.REJECTED:
            plan.missing.append(f"alias {alias.alias!r} is not on the card")


def _mapping_claim_refusal(mapping: ClassificationMapping, data: MappingData) -> str | None:
    """Why an imported approval of `mapping` cannot stand, or None: it needs a detailed official code.

    Such a claim is listed as ignored (the mapping is imported for review), not refused: Rolebook's
    own exports carry group-level approvals a reviewer confirmed, and a card must import again.
    """
    if data.status != ClassificationMapping.Status.APPROVED:
        return None
    occupation = mapping.occupation
    if occupation is None:
        return (f"{data.code} is not in the SOC 2018 / O*NET-SOC 2019 reference: an imported approval needs an "
                "official code")
    if occupation.level not in DETAILED_LEVELS:
        return (f"{data.code} is a {occupation.get_level_display().lower()}: an imported approval needs a detailed "
                "code (a reviewer refines it, or approves it as group-level, in Rolebook)")
    return None


def _plan_mappings(plan: CardPlan, actor: Any, context: _Context, options: ImportOptions) -> None:
    current = [] if plan.role_is_new else list(
        context.rows(ClassificationMapping.objects.filter(role=plan.role)).select_related("occupation")
    )
    existing = {(m.scheme, m.code): m for m in current}
    # A mapping a reviewer refined keeps answering to the code the card still prints.
    refined = {(m.scheme, m.previous_code): m for m in current if m.previous_code}
    statuses = ClassificationMapping.Status
    new: list[tuple[ClassificationMapping, MappingData]] = []
    to_settle = []
    kept_codes: list[tuple[ClassificationMapping, MappingData, str]] = []
    seen: set[int] = set()
    for data in plan.card.mappings:
        mapping = existing.pop((data.scheme, data.code), None)
        label = f"mapping {data.code}"
        if mapping is None and (data.scheme, data.code) in refined:
            mapping = refined[(data.scheme, data.code)]
            if mapping.pk not in seen:
                kept_codes.append((mapping, data, label))
                seen.add(mapping.pk)
            continue
        if mapping is None:
            mapping = ClassificationMapping(
                role=plan.role, scheme=data.scheme, code=data.code, title=data.title, source=data.source
            )
            workflow.start(mapping, actor=actor)
            new.append((mapping, data))
            plan.added.append(label)
            continue
        seen.add(mapping.pk)
        if mapping.status == statuses.REJECTED:
            if data.status != statuses.REJECTED:
                plan.suppressed.append(f"{label} was rejected by a reviewer")
            continue
        if mapping.deprecated:
            # Frozen as published: the card cannot change it.
            if (data.title, data.source) != (mapping.title, mapping.source):
                plan.suppressed.append(f"{label} is deprecated: it stays as it was published")
            continue
        mapping.title, mapping.source = data.title, data.source
        to_settle.append((mapping, data, label))
    _link_occupations([m for m, _ in new])
    for mapping, data in new:
        _mapping_claim(plan, mapping, data, actor, f"mapping {data.code}", options)
        _queue(plan, mapping, new=True)
    changing = [m for m, *_ in to_settle if m.changed_fields()]
    # Decisions the card disagrees with (it says rejected, Rolebook approved): listed with who decided.
    disputed = [m for m, data, _ in to_settle if not m.is_open and data.status not in (m.OPEN, m.status)]
    logged = [m.pk for m in changing + disputed] + [m.pk for m, *_ in kept_codes]
    edits = _EditLog(ClassificationMapping, logged, (*MAPPING_FIELDS, "code", "status")) if logged else None
    for mapping, data, label in kept_codes:
        # A reviewer refined or replaced the code: the card cannot take it back.
        plan.edits_kept.append(
            f"{label} code: {_show(mapping.code)} → {_show(data.code)} — changed in Rolebook"
            f"{_by(edits.last_change(mapping.pk, 'code'))}: kept (the card still prints the code it had before review)"
        )
    for mapping, data, label in to_settle:
        was = mapping.status
        changed = _settle_edits(plan, mapping, MAPPING_FIELDS, edits, options, label)
        returned = None
        if changed:
            returned = workflow.note_content_change(mapping, actor=actor, reason=import_reason(plan.filename))
            if returned is not None:
                plan.decisions.append(returned)
        if returned is not None and data.status != mapping.OPEN:
            _ignore_claim(plan, label, data.status.replace("_", " "), data.line, "needs review", why=RETURNED_CLAIM)
        elif mapping.is_open:
            _mapping_claim(plan, mapping, data, actor, label, options)
        elif data.status not in (mapping.OPEN, mapping.status):
            decided = edits.last_change(mapping.pk, "status") if edits is not None else None
            plan.edits_kept.append(
                f"{label} status: {mapping.get_status_display().lower()} → {data.status.replace('_', ' ')} — "
                f"decided in Rolebook{_by(decided)}: kept (reopen it in the review to decide again)"
            )
        if mapping.changed_fields():
            _queue(plan, mapping, new=False)
            note = " (back to review)" if was == statuses.APPROVED and mapping.is_open else ""
            plan.changed.append(f"{label}: {', '.join(changed) or 'status'}{note}")
    for mapping in existing.values():
        if mapping.status != statuses.REJECTED and mapping.pk not in seen:
            plan.missing.append(f"mapping {mapping.code} is not on the card")


def _mapping_claim(
    plan: CardPlan, mapping: ClassificationMapping, data: MappingData, actor: Any, label: str, options: ImportOptions
) -> None:
    """Apply or list the card's reviewStatus for an open mapping."""
    if data.status == mapping.OPEN:
        return
    claim = data.status.replace("_", " ")
    if not options.import_decisions:
        _ignore_claim(plan, label, claim, data.line, "needs review")
        return
    if why := _mapping_claim_refusal(mapping, data):
        _ignore_claim(plan, label, claim, data.line, "needs review", why)
        return
    _import_claim(plan, mapping, data.status, actor=actor, label=label, claim=claim, decided_at=None,
                  line=data.line)


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

    Call inside the transaction that planned it (its row locks keep the plan true). Raises
    DatabaseError if the database refuses a row, StaleEdit if a row changed since it was read.
    """
    reason = import_reason(plan.filename)
    # Unsaved parents (family, role) are saved first; Django then fills in their new pks.
    for node in plan.nodes:
        save_with_reason(node, actor=actor, reason=reason)
    if plan.level is not None:
        save_with_reason(plan.level, actor=actor, reason=reason)
    if plan.role_dirty:
        save_with_reason(plan.role, actor=actor, reason=reason)
    # Components, aliases, mappings and the decisions on them: written by the review core, which checks
    # the batch's review states once more and marks the role's derived rows stale.
    order = (Component, TitleAlias, ClassificationMapping)
    workflow.persist(
        actor=actor, reason=reason,
        creates={model: plan.creates[model] for model in order if model in plan.creates},
        updates={model: plan.updates[model] for model in order if model in plan.updates},
        decisions=plan.decisions,
    )
