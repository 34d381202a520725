"""Merging and splitting roles through review: one proposal, a preview of every move, four-eyes.

- **Merge role B into role A**: B's approved and pending aliases move to A, and so do B's
  components A lacks. An approved alias stays approved when A has B's level and goes back to
  review when it does not (a "returned" Decision). B's mappings stay with B and are compared with
  A's for the reviewer. B is deprecated, replaced by A.
- **Split role A into A1, A2, …**: the curator assigns each of A's approved and pending aliases and
  each component to one of the new roles; they move as in a merge. A is deprecated and replaced by
  all of them (`RoleSplit` rows). A's mappings stay with A: the roles it became get their own.

Rejected and deprecated aliases stay with the old role, as its record. Both are a Deprecation of
the old role (kind merge or split): proposed by a curator with a reason, approved or rejected by a
reviewer who did not propose it (`roles.workflow.deprecation.decide`), and written in that one
transaction with a history row per moved item and a Decision per review state moved.

`preview` says what would move, what stays and why, and the conflicts. A proposal with conflicts is
refused with their list (`RestructureRefused.conflicts`); so is its approval, re-planned then
from the locked rows, if the roles changed meanwhile so that a move would now conflict.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Max
from django.db.models.functions import Lower

from framework.audit import acting_as

from ..models import ClassificationMapping, Component, DecisionKind, Deprecation, Role, RoleSplit, TitleAlias
from .core import note_content_change, persist, prepare_move
from .rules import ReviewError, add_author

MOVING_STATUSES = (TitleAlias.Status.APPROVED, TitleAlias.Status.PENDING)


class RestructureRefused(ReviewError):
    """A merge or split that would leave the taxonomy inconsistent; `conflicts` lists every reason."""

    def __init__(self, conflicts: list[str]):
        self.conflicts = list(conflicts)
        super().__init__("Refused: " + "; ".join(self.conflicts))


@dataclass
class Move:
    """One alias or component and the role it goes to, with what happens to its review state."""

    item: TitleAlias | Component
    target: Role
    outcome: str  # "stays approved", "back to review" or "in review" (aliases); "moves" (components)

    @property
    def returns(self) -> bool:
        return self.outcome == "back to review"


@dataclass
class MappingRow:
    """One SOC code of either role in a merge, with each role's review state of it ("" for none)."""

    code: str
    source_status: str
    target_status: str
    note: str = ""


@dataclass
class Preview:
    """What a merge or split would do now: the moves, what stays with the old role, and the conflicts."""

    kind: str
    source: Role
    targets: list[Role]
    moves: list[Move] = field(default_factory=list)
    kept: list[tuple[Any, str]] = field(default_factory=list)
    mappings: list[MappingRow] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    @property
    def alias_moves(self) -> list[Move]:
        return [m for m in self.moves if isinstance(m.item, TitleAlias)]

    @property
    def component_moves(self) -> list[Move]:
        return [m for m in self.moves if isinstance(m.item, Component)]

    @property
    def returned_count(self) -> int:
        return sum(m.returns for m in self.moves)


def _alias_outcome(alias: TitleAlias, source: Role, target: Role) -> str:
    if alias.status == TitleAlias.Status.PENDING:
        return "in review"
    return "stays approved" if target.level_id == source.level_id else "back to review"


def _check_roles(source: Role, targets: list[Role], conflicts: list[str], *, proposal_pk: int | None) -> None:
    """Conflicts of the roles themselves: live, distinct, and not being merged or split elsewhere."""
    if source.deprecated:
        conflicts.append(f"{source.code} is already deprecated.")
    seen: set[int] = set()
    for target in targets:
        if target.pk == source.pk:
            conflicts.append(f"{source.code} cannot be merged or split into itself.")
        elif target.pk in seen:
            conflicts.append(f"{target.code} is named twice.")
        elif target.deprecated:
            conflicts.append(f"{target.code} is deprecated: name the role that replaces it.")
        seen.add(target.pk)
    live = Deprecation.objects.filter(role__in=[t.pk for t in targets], status=Deprecation.Status.PROPOSED)
    if proposal_pk is not None:
        live = live.exclude(pk=proposal_pk)
    for code in live.values_list("role__code", flat=True):
        conflicts.append(f"{code} is itself proposed for deprecation, merge or split: decide that first.")


def _sort_aliases(source: Role) -> tuple[list[TitleAlias], list[tuple[TitleAlias, str]]]:
    """The aliases a merge or split of `source` moves, and those it keeps, each with why."""
    movable, kept = [], []
    for alias in source.aliases.order_by(Lower("alias"), "pk"):
        if alias.deprecated:
            kept.append((alias, f"deprecated: stays with {source.code} as published"))
        elif alias.status == TitleAlias.Status.REJECTED:
            kept.append((alias, f"rejected: stays with {source.code} as its record"))
        else:
            movable.append(alias)
    return movable, kept


def _movable_aliases(source: Role, preview: Preview) -> list[TitleAlias]:
    movable, kept = _sort_aliases(source)
    preview.kept.extend(kept)
    return movable


def movable_aliases(source: Role) -> list[TitleAlias]:
    """The aliases a merge or split of `source` moves: its approved and pending ones."""
    return _sort_aliases(source)[0]


def _taken_aliases(targets: list[Role]) -> dict[int, set[str]]:
    taken: dict[int, set[str]] = defaultdict(set)
    rows = TitleAlias.objects.filter(role__in=[t.pk for t in targets]).values_list("role_id", Lower("alias"))
    for role_id, text in rows:
        taken[role_id].add(text)
    return taken


def _taken_components(targets: list[Role]) -> set[tuple[int, str, str]]:
    return set(Component.objects.filter(role__in=[t.pk for t in targets]).values_list("role_id", "kind", "text"))


def plan_merge(source: Role, target: Role, *, proposal_pk: int | None = None) -> Preview:
    """What merging `source` (B) into `target` (A) would move, keep and compare, and its conflicts."""
    preview = Preview(kind=Deprecation.Kind.MERGE, source=source, targets=[target])
    _check_roles(source, [target], preview.conflicts, proposal_pk=proposal_pk)
    taken = _taken_aliases([target])[target.pk]
    for alias in _movable_aliases(source, preview):
        if alias.alias.lower() in taken:
            preview.conflicts.append(f"The alias “{alias.alias}” of {source.code} is already an alias of "
                                     f"{target.code}: reject or deprecate one of them first.")
        else:
            preview.moves.append(Move(alias, target, _alias_outcome(alias, source, target)))
    components = _taken_components([target])
    for component in source.components.order_by("kind", "position", "pk"):
        if (target.pk, component.kind, component.text) in components:
            preview.kept.append((component, f"{target.code} already has it"))
        else:
            preview.moves.append(Move(component, target, "moves"))
    preview.mappings = _compare_mappings(source, target)
    return preview


def _compare_mappings(source: Role, target: Role) -> list[MappingRow]:
    """Each live SOC code of either role, with both roles' states; a note where they disagree."""
    states: dict[str, dict[int, str]] = defaultdict(dict)
    live = ClassificationMapping.objects.filter(role__in=[source.pk, target.pk], deprecated=False)
    for role_id, code, status in live.values_list("role_id", "code", "status"):
        states[code][role_id] = status
    rows = []
    for code in sorted(states):
        mine, theirs = states[code].get(source.pk, ""), states[code].get(target.pk, "")
        note = ""
        if mine == ClassificationMapping.Status.APPROVED and theirs != ClassificationMapping.Status.APPROVED:
            note = f"approved for {source.code} only: propose it for {target.code} if it still applies"
        elif theirs == ClassificationMapping.Status.APPROVED and mine == ClassificationMapping.Status.REJECTED:
            note = f"rejected for {source.code} but approved for {target.code}"
        rows.append(MappingRow(code, mine, theirs, note))
    return rows


def plan_split(source: Role, targets: list[Role], assignments: dict[str, dict[int, int]], *,
               proposal_pk: int | None = None) -> Preview:
    """What splitting `source` into `targets` would move, as `assignments` says, and its conflicts.

    `assignments` is {"aliases": {alias pk: role pk}, "components": {component pk: role pk}}: every
    approved or pending alias and every component of `source` must go to one of `targets`.
    """
    preview = Preview(kind=Deprecation.Kind.SPLIT, source=source, targets=list(targets))
    if len(targets) < 2:
        preview.conflicts.append("A split names at least two roles (to merge into one, merge instead).")
    _check_roles(source, targets, preview.conflicts, proposal_pk=proposal_pk)
    by_pk = {t.pk: t for t in targets}
    alias_plan = {int(k): int(v) for k, v in (assignments.get("aliases") or {}).items()}
    component_plan = {int(k): int(v) for k, v in (assignments.get("components") or {}).items()}
    names = " or ".join(t.code for t in targets) or "a new role"
    taken = _taken_aliases(targets)
    claimed: set[tuple[int, str]] = set()
    movable = _movable_aliases(source, preview)
    for alias in movable:
        target = by_pk.get(alias_plan.get(alias.pk, -1))
        if target is None:
            preview.conflicts.append(f"The alias “{alias.alias}” would be left without a role: assign it to {names}.")
        elif alias.alias.lower() in taken[target.pk]:
            preview.conflicts.append(f"The alias “{alias.alias}” is already an alias of {target.code}.")
        else:
            preview.moves.append(Move(alias, target, _alias_outcome(alias, source, target)))
            claimed.add((target.pk, alias.alias.lower()))
    stray = set(alias_plan) - {a.pk for a in movable}
    if stray:
        preview.conflicts.append(f"{len(stray)} assigned alias(es) are no longer approved or pending aliases of "
                                 f"{source.code}: preview the split again.")
    components = _taken_components(targets)
    own = list(source.components.order_by("kind", "position", "pk"))
    for component in own:
        target = by_pk.get(component_plan.get(component.pk, -1))
        if target is None:
            preview.conflicts.append(f"The {component.get_kind_display().lower()} item “{component.text[:60]}” "
                                     f"would be left without a role: assign it to {names}.")
        elif (target.pk, component.kind, component.text) in components:
            preview.conflicts.append(f"{target.code} already has the {component.get_kind_display().lower()} "
                                     f"item “{component.text[:60]}”.")
        else:
            preview.moves.append(Move(component, target, "moves"))
    if set(component_plan) - {c.pk for c in own}:
        preview.conflicts.append(f"Some assigned components are no longer {source.code}'s: preview the split again.")
    for mapping in source.mappings.filter(deprecated=False).order_by("code"):
        preview.kept.append((mapping, f"stays with {source.code}: the roles it became get their own mappings"))
    return preview


def plan_of(proposal: Deprecation) -> Preview:
    """The preview of a merge or split proposal, planned from the roles as they are now."""
    if proposal.kind == Deprecation.Kind.MERGE:
        return plan_merge(proposal.role, proposal.replaced_by_role, proposal_pk=proposal.pk)
    targets = _split_targets(proposal.plan)
    return plan_split(proposal.role, targets, proposal.plan, proposal_pk=proposal.pk)


def _split_targets(plan: dict[str, Any]) -> list[Role]:
    pks = [int(pk) for pk in plan.get("targets") or []]
    found = Role.objects.in_bulk(pks)
    return [found[pk] for pk in pks if pk in found]


def split_plan(targets: list[Role], assignments: dict[str, dict[int, int]]) -> dict[str, Any]:
    """The JSON a split proposal stores: its targets in order and each item's role, keys as text."""
    return {
        "targets": [t.pk for t in targets],
        "aliases": {str(k): int(v) for k, v in sorted((assignments.get("aliases") or {}).items())},
        "components": {str(k): int(v) for k, v in sorted((assignments.get("components") or {}).items())},
    }


def apply(proposal: Deprecation, *, actor: Any, note: str) -> set[int]:
    """Make the approved merge or split's moves (rows locked by the caller's transaction); return the roles touched.

    Re-plans from the locked rows and refuses on any conflict. Moved aliases keep or lose their
    approval as the preview says; each moved row gets a history row with `note`, each alias sent
    back to review a "returned" Decision. Deprecating the old role is the caller's
    (`roles.workflow.deprecation._apply`), and so is writing the split's `RoleSplit` rows via
    `link_split`.
    """
    role_pks = [proposal.role_id, *([proposal.replaced_by_role_id] if proposal.replaced_by_role_id else []),
                *[int(pk) for pk in proposal.plan.get("targets") or []]]
    list(Role.objects.select_for_update().filter(pk__in=role_pks).order_by("pk"))
    list(TitleAlias.objects.select_for_update().filter(role_id=proposal.role_id).order_by("pk"))
    list(Component.objects.select_for_update().filter(role_id=proposal.role_id).order_by("pk"))
    proposal.role = Role.objects.get(pk=proposal.role_id)
    preview = plan_of(proposal)
    if preview.conflicts:
        raise RestructureRefused(preview.conflicts)
    author = proposal.created_by or actor
    aliases, components, decisions = [], [], []
    next_position: dict[tuple[int, str], int] = {
        (row["role_id"], row["kind"]): (row["top"] or 0) + 1
        for row in Component.objects.filter(role__in=[t.pk for t in preview.targets])
        .values("role_id", "kind").annotate(top=Max("position"))
    }
    for move in preview.moves:
        item = move.item
        item.role = move.target
        if isinstance(item, Component):
            key = (move.target.pk, item.kind)
            item.position = next_position.get(key, 0)
            next_position[key] = item.position + 1
            components.append(item)
            continue
        if move.returns:
            # The proposer moved it: their change, so they may not approve it when it comes back.
            item.content_changed_by, item.content_changed_at = author, proposal.created_at
            add_author(item, author)
            decisions.append(prepare_move(item, item.OPEN, actor=actor, kind=DecisionKind.RETURNED, reason=note))
        elif item.is_open:
            note_content_change(item, actor=author, reason=note)
        aliases.append(item)
    alias_fields = ["role", "status", "decided_by", "decided_at", "content_editors", "content_changed_by",
                    "content_changed_at"]
    persist(actor=actor, reason=note, updates={TitleAlias: (aliases, alias_fields),
                                                Component: (components, ["role", "position"])},
            decisions=decisions)
    return {proposal.role_id, *(t.pk for t in preview.targets)}


def link_split(proposal: Deprecation, *, actor: Any, note: str) -> None:
    """Write the split role's successors, in the order the proposal named them, with history."""
    with acting_as(actor, note):
        for position, successor in enumerate(_split_targets(proposal.plan)):
            RoleSplit(role_id=proposal.role_id, successor=successor, position=position).save()
