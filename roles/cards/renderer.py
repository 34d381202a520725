"""Write a role back out as a published card, byte for byte in the format the parser reads."""

from __future__ import annotations

from datetime import UTC

from roles.models import ClassificationMapping, Role, TitleAlias, confidence_band
from taxonomy.models import Level

from .parser import (
    ADJACENT,
    ADJACENT_TEXT,
    ALIAS_HEADER,
    ALIAS_RULE,
    ALIASES,
    CORE,
    KIND_LABELS,
    MAPPINGS,
    NO_CORE_OUTPUTS,
    NOT_APPROVED,
    PLAN,
    PROBLEM,
    PROBLEM_PREFIXES,
    SUCCESS,
    SUMMARY,
    WHO,
    AliasData,
    CardData,
    ComponentData,
    LevelData,
    MappingData,
)
from .parser import COMPONENTS as COMPONENTS_HEADER
from .parser import STAKE as STAKE_HEADER
from .parser import STORY as STORY_HEADER


def render_card(role: Role) -> str:
    """Return the published card of `role` (UTF-8 text, no trailing newline); 4 queries."""
    return format_card(card_from_role(role))


def card_from_role(role: Role) -> CardData:
    """Read what the card shows of `role`: every mapping with its status, and the aliases not rejected.

    A rejected alias has no place in the alias table (its Approved column holds a date or "—"),
    so it is left off; a mapping prints its reviewStatus, rejected included, and round-trips.
    """
    level = role.level
    components = [
        ComponentData(kind=c.kind, text=c.text, prevalence=c.prevalence, scope=c.scope)
        for c in sorted(
            role.components.all(),
            key=lambda c: (KIND_ORDER[c.kind], c.position, c.pk),
        )
    ]
    aliases = [
        AliasData(
            alias=a.alias,
            alias_type=a.alias_type,
            confidence=a.confidence,
            approved_on=a.decided_at.astimezone(UTC).date() if a.status == TitleAlias.Status.APPROVED else None,
        )
        for a in role.aliases.exclude(status=TitleAlias.Status.REJECTED).order_by("pk")
    ]
    mappings = [
        MappingData(code=m.code, title=m.title, source=m.source, status=m.status, scheme=m.scheme)
        # Card order is creation order, so an imported card renders its mappings as printed.
        for m in role.mappings.order_by("pk")
    ]
    return CardData(
        title=role.title,
        code=role.code,
        headline=role.headline,
        who_does_this_work=role.who_does_this_work,
        external_problem=role.external_problem,
        internal_problem=role.internal_problem,
        why_it_matters=role.why_it_matters,
        plan=list(role.plan),
        whats_at_stake=role.whats_at_stake,
        success_looks_like=role.success_looks_like,
        summary=role.summary,
        level=LevelData(
            code=level.code,
            name=level.name,
            summary=level.summary,
            attributes={attr: getattr(level, attr) for attr, _ in Level.ATTRIBUTES},
        ),
        core_outputs=list(role.core_outputs),
        components=components,
        aliases=aliases,
        mappings=mappings,
    )


KIND_ORDER = {kind: index for index, kind in enumerate(KIND_LABELS)}
SCHEME_LABELS = dict(ClassificationMapping.Scheme.choices)


def format_card(card: CardData) -> str:
    """Print `card` in the published format; `parse_card(format_card(c))` gives `c` back."""
    out = [card.title, card.code, card.headline, card.headline, STORY_HEADER, WHO, card.who_does_this_work]
    out.append(PROBLEM)
    for key, prefix in PROBLEM_PREFIXES:
        out.append(f"- {prefix} {getattr(card, key)}")
    out.append(PLAN)
    out.extend(f"- {step}" for step in card.plan)
    out += [STAKE_HEADER, card.whats_at_stake, SUCCESS, card.success_looks_like, SUMMARY, card.summary]
    level = card.level
    out += [f"Level — {level.code} — {level.name}", level.summary]
    for attr, label in Level.ATTRIBUTES:
        out += [f"- {label}", f"- {level.attributes.get(attr, '')}"]
    out.append(CORE)
    out.extend([f"- {item}" for item in card.core_outputs] or [NO_CORE_OUTPUTS])
    out += [ADJACENT, ADJACENT_TEXT, COMPONENTS_HEADER]
    for kind, label in KIND_LABELS.items():
        items = [c for c in card.components if c.kind == kind]
        out.append(f"{label}{len(items)}")
        out.extend(f"- {c.text}{c.prevalence}{c.scope}" for c in items)
    out += [ALIASES, ALIAS_HEADER, ALIAS_RULE]
    for alias in card.aliases:
        approved = alias.approved_on.isoformat() if alias.approved_on else NOT_APPROVED
        score = f"{alias.confidence:.2f}"
        out.append(f"| {alias.alias} | {alias.alias_type} | {confidence_band(alias.confidence)}{score} | {approved} |")
    out.append(MAPPINGS)
    schemes = sorted({m.scheme for m in card.mappings}) or [ClassificationMapping.Scheme.ONET_SOC.value]
    for scheme in schemes:
        out.append(SCHEME_LABELS.get(scheme, scheme))
        out.extend(
            f"- code={m.code}title={m.title}source={m.source}reviewStatus={m.status}"
            for m in card.mappings
            if m.scheme == scheme
        )
    # Every value is one printed line: a line break typed into an admin textarea becomes a space.
    return "\n".join(" ".join(line.splitlines()) if "\n" in line or "\r" in line else line for line in out)
