"""What Rolebook publishes: the one rule that releases (every format) and the REST API both read.

Published data is every role, component, level and taxonomy node, and of the reviewed items only
the **approved** aliases and mappings. Pending, rejected and reopened items never leave Rolebook.
`publishing.formats` (fixtures, CSV, SKOS) and `api` (the REST API) take their rows from the
functions below and nowhere else, so a release and the API cannot drift apart; the property
tests in tests/api/test_no_leak.py hold them to the same set.

Nothing here writes, and nothing names a user: who decided stays inside Rolebook (a release's
optional reviewers.json sidecar is the only exception, and the API never serves it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, datetime

from django.db import connection
from django.db.models import BooleanField, Case, F, Q, QuerySet, Value, When
from django.db.models.functions import Collate
from django.utils.dateparse import parse_datetime

from roles.cards.renderer import card_from_role, format_card
from roles.models import ClassificationMapping, Component, Role, RoleSplit, TitleAlias
from taxonomy.models import Level, OccupationCode, TaxonomyNode

# The review state that is published, per reviewed model.
PUBLISHED_STATUS = {
    TitleAlias: TitleAlias.Status.APPROVED,
    ClassificationMapping: ClassificationMapping.Status.APPROVED,
}
# Models whose history dates say when published data last changed (see published_last_modified).
CURATED_MODELS = (Level, OccupationCode, TaxonomyNode, Role, Component, TitleAlias, ClassificationMapping)
# How a mapping relates its role to the official code: the role *is* a detailed occupation, or
# sits somewhere inside a group (SKOS exactMatch / broadMatch).
EXACT, BROAD = "exact", "broad"
DETAILED_LEVELS = frozenset({OccupationCode.Level.DETAILED, OccupationCode.Level.ONET})


def published_rule(model: type[TitleAlias] | type[ClassificationMapping], prefix: str = "") -> Q:
    """The filter that keeps the published rows of `model`, with field paths under `prefix` if given.

    `prefix` is a relation from another model, e.g. ``published_rule(TitleAlias, "aliases")`` for
    a FilteredRelation or a filter on roles. Raises KeyError for a model that is not reviewed.
    """
    path = f"{prefix}__status" if prefix else "status"
    return Q(**{path: PUBLISHED_STATUS[model]})


def published_roles() -> QuerySet[Role]:
    """Every role: roles are curated, not reviewed, and all of them are published."""
    return Role.objects.all()


def published_role_splits() -> QuerySet[RoleSplit]:
    """Every split role's successors: roles are all published, and so is where a split one went."""
    return RoleSplit.objects.all()


def split_successors() -> dict[str, list[str]]:
    """{split role's code: the codes of the roles it became, in the split's order} (1 query)."""
    found: dict[str, list[str]] = {}
    for code, successor in published_role_splits().in_split_order().values_list(
            "role__code", "successor__code"):
        found.setdefault(code, []).append(successor)
    return found


def published_components() -> QuerySet[Component]:
    """Every component of every role."""
    return Component.objects.all()


def published_aliases() -> QuerySet[TitleAlias]:
    """The approved aliases: the only aliases a release or the API holds."""
    return TitleAlias.objects.filter(published_rule(TitleAlias))


def published_mappings() -> QuerySet[ClassificationMapping]:
    """The approved classification mappings: the only mappings a release or the API holds."""
    return ClassificationMapping.objects.filter(published_rule(ClassificationMapping))


def published_items_of_roles(
    model: type[TitleAlias] | type[ClassificationMapping], role_ids: Iterable[int]
) -> QuerySet:
    """The published aliases or mappings of the roles `role_ids` (a page of roles), by the same rule.

    The rule is applied as a computed condition, not as a comparison on the indexed status column,
    so the database finds the items through their role (a page holds a few thousand) instead of
    walking every approved item: SQLite, with no statistics until ANALYZE runs, picks the status
    index for ``status = … AND role_id IN (…)`` and takes four times as long.
    """
    rule = Case(When(published_rule(model), then=Value(True)), default=Value(False), output_field=BooleanField())
    return model.objects.filter(role_id__in=list(role_ids)).alias(published=rule).filter(published=True)


def published_levels() -> QuerySet[Level]:
    """The levels that roles use."""
    return Level.objects.filter(pk__in=Role.objects.order_by().values("level_id"))


def published_querysets() -> dict[type, QuerySet]:
    """The published rows per model, as a release counts them (reference tables whole: see below)."""
    return {
        Level: published_levels(),
        # The reference tables are small: read whole and narrowed by published_reference_ids().
        OccupationCode: OccupationCode.objects.all(),
        TaxonomyNode: TaxonomyNode.objects.all(),
        Role: published_roles(),
        Component: published_components(),
        TitleAlias: published_aliases(),
        ClassificationMapping: published_mappings(),
        RoleSplit: published_role_splits(),
    }


def ancestors_closure(parents: dict[int, int | None], seeds: Iterable[int | None]) -> set[int]:
    """Return `seeds` with all their ancestors, given each id's parent id."""
    found: set[int] = set()
    for node in seeds:
        while node is not None and node not in found:
            found.add(node)
            node = parents.get(node)
    return found


def published_reference_ids() -> tuple[set[int], set[int]]:
    """Return the ids of the taxonomy nodes and occupation codes that published data needs (4 queries).

    Nodes: those roles sit under, with their ancestors. Occupation codes: those approved mappings
    and the published nodes' default SOC codes point at, with their ancestors.
    """
    node_rows = list(TaxonomyNode.objects.order_by().values_list("pk", "parent_id", "default_soc_id"))
    used = published_roles().order_by().values_list("node_id", flat=True).distinct()
    node_ids = ancestors_closure({pk: parent for pk, parent, _ in node_rows}, used)
    defaults = {soc for pk, _, soc in node_rows if pk in node_ids and soc is not None}
    mapped = (
        published_mappings()
        .filter(occupation__isnull=False)
        .order_by()
        .values_list("occupation_id", flat=True)
        .distinct()
    )
    parents = dict(OccupationCode.objects.order_by().values_list("pk", "parent_id"))
    occupation_ids = ancestors_closure(parents, [*mapped, *defaults])
    return node_ids, occupation_ids


def published_last_modified() -> datetime | None:
    """When published data last changed: the newest history row of any curated model (1 query).

    Every write to a curated row leaves a history row (services, bulk decisions, imports, fixture
    loads, demo data), deletions included, so nothing published changes without moving this time.
    It moves for unpublished changes too (a new pending alias): conservative, never stale.
    Returns None for an empty database.
    """
    quote = connection.ops.quote_name
    parts = " UNION ALL ".join(
        f"SELECT MAX({quote('history_date')}) AS d FROM {quote(model.history.model._meta.db_table)}"
        for model in CURATED_MODELS
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX(d) FROM ({parts}) AS latest")  # noqa: S608 - table names, no input
        value = cursor.fetchone()[0]
    if isinstance(value, str):  # SQLite returns the aggregate of a UNION as text
        value = parse_datetime(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def binary_order(path: str):
    """An expression on `path` that sorts and compares in code-point order on every backend.

    PostgreSQL sorts text by the database's locale; SQLite compares bytes. Releases and API
    cursors use this, so an order is the same on both and a cursor never skips a row.
    """
    if connection.vendor == "postgresql":
        return Collate(F(path), "C")
    if connection.vendor == "mysql":
        return Collate(F(path), "utf8mb4_bin")
    return F(path)


def match_type(code: str, level: str | None) -> str:
    """Return "exact" for a detailed SOC or O*NET-SOC code, "broad" for a group code.

    `level` is the reference row's level; for a code outside the reference the code's form
    decides: a SOC group code ends in 0 (15-0000, 15-2000, 15-2050), a detailed one does not.
    """
    if level:
        return EXACT if level in DETAILED_LEVELS else BROAD
    base, _, detail = code.partition(".")
    return EXACT if detail or not base.endswith("0") else BROAD


def code_scheme(code: str) -> str:
    """The reference scheme a mapping code belongs to: "soc2018" (NN-NNNN) or "onet2019" (NN-NNNN.NN)."""
    return ClassificationMapping.reference_scheme(code)


def published_card(role: Role) -> str:
    """Return the role's card in the published format, holding only approved aliases and mappings.

    The card renderer prints pending items too (it is the curators' card); this keeps the aliases
    and mappings that `published_aliases()` and `published_mappings()` hold. 6 queries.
    """
    card = card_from_role(role)
    aliases = set(published_aliases().filter(role=role).values_list("alias", flat=True))
    mappings = set(published_mappings().filter(role=role).values_list("scheme", "code"))
    card = dataclasses.replace(
        card,
        aliases=[a for a in card.aliases if a.alias in aliases],
        mappings=[m for m in card.mappings if (m.scheme, m.code) in mappings],
    )
    return format_card(card)
