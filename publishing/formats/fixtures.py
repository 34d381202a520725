"""The fixtures of a release: one Django fixture file per model, natural keys only, in load order.

    01_levels.json                 levels that roles use
    02_occupation_codes.json       codes that approved mappings and exported nodes reference, with ancestors
    03_taxonomy_nodes.json         nodes that roles use, with their ancestors
    04_roles.json, 05_components.json
    06_title_aliases.json          approved aliases only
    07_classification_mappings.json  approved mappings only
    08_role_splits.json            the roles each split role became

Every object is written with natural keys only (no ``pk``), objects sorted by natural key in
code-point order (the same on SQLite and PostgreSQL: the sort uses a binary collation), keys
sorted, one object per line. Users never appear: the user foreign keys are written as null.
Who decided goes, on request, into the ``reviewers.json`` sidecar, which is not a fixture.

Every model is read with ``.iterator(chunk_size=…)`` over ``values_list`` joins that carry the
natural keys, so memory stays flat and the query count is constant (``EXPORT_QUERIES``). The
rows come from `publishing.published`, the same rule as the other formats and the API.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import models, transaction
from django.db.models import FilteredRelation, Q

from roles.models import ClassificationMapping, Component, Role, RoleSplit, TitleAlias
from taxonomy.models import Level, OccupationCode, TaxonomyNode

from ..files import REVIEWERS, ReleaseError, dumps_line, json_value
from ..published import binary_order, published_querysets, published_reference_ids, published_rule

CHUNK_SIZE = 500
# The queries one export runs, in order; the count does not grow with the data. An export that
# opens its own transaction adds one statement: BEGIN on SQLite, SET TRANSACTION on PostgreSQL.
EXPORT_QUERIES = (
    "taxonomy nodes: id, parent, default SOC (to find ancestors)",
    "roles: distinct node ids",
    "occupation codes: id, parent (to find ancestors)",
    "approved mappings: distinct occupation ids",
    "levels used by roles",
    "occupation codes, streamed",
    "taxonomy nodes, streamed",
    "roles, streamed",
    "components, streamed",
    "approved aliases, streamed",
    "approved mappings, streamed",
    "role splits, streamed",
)


@dataclass(frozen=True)
class Part:
    """One fixture file: the model, its file name and its natural key as field paths."""

    model: type[models.Model]
    filename: str
    natural_key: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.model._meta.label_lower


# Load order. natural_key lists the same values, in the same order, as model.natural_key().
PARTS: tuple[Part, ...] = (
    Part(Level, "01_levels.json", ("code",)),
    Part(OccupationCode, "02_occupation_codes.json", ("scheme", "code")),
    Part(TaxonomyNode, "03_taxonomy_nodes.json", ("code",)),
    Part(Role, "04_roles.json", ("code",)),
    Part(Component, "05_components.json", ("role__code", "kind", "text")),
    Part(TitleAlias, "06_title_aliases.json", ("role__code", "alias")),
    Part(ClassificationMapping, "07_classification_mappings.json", ("role__code", "scheme", "code")),
    Part(RoleSplit, "08_role_splits.json", ("role__code", "successor__code")),
)
PART_BY_MODEL = {part.model: part for part in PARTS}
# Who decided, per reviewed model: (user foreign key, time field). Only reviewers.json names them.
REVIEW_FIELDS = {TitleAlias: ("decided_by", "decided_at"), ClassificationMapping: ("decided_by", "decided_at")}


def _binary(path: str):
    """Order by `path` in code-point order on every backend (PostgreSQL's locale order differs)."""
    return binary_order(path).asc()


@dataclass(frozen=True)
class _Column:
    name: str
    paths: tuple[str, ...]  # one path for a value; the natural key paths for a foreign key
    kind: str  # "value", "fk" or "user" (a user foreign key: always null)


def _columns(model: type[models.Model]) -> list[_Column]:
    """The serialized fields of `model`, as Django's serializer picks them (local, serializable)."""
    user_model = settings.AUTH_USER_MODEL.lower()
    columns = []
    for field in model._meta.local_fields:
        if not field.serialize:
            continue
        if field.is_relation:
            related = field.related_model
            if related._meta.label_lower == user_model:
                columns.append(_Column(field.name, (), "user"))
            else:
                keys = PART_BY_MODEL[related].natural_key
                columns.append(_Column(field.name, tuple(f"{field.name}__{k}" for k in keys), "fk"))
        else:
            columns.append(_Column(field.name, (field.attname,), "value"))
    return columns


# Components, aliases and mappings are read from their role through a LEFT JOIN whose ON clause
# holds the published rule (publishing.published). SQLite then walks the roles in code order (their
# unique index) and sorts only within a role, instead of sorting every row in this process's
# memory; PostgreSQL sorts on the server either way. The status filter stays in SQL.
CHILDREN: dict[type[models.Model], tuple[str, Q]] = {
    Component: ("components", Q()),
    TitleAlias: ("aliases", published_rule(TitleAlias, "aliases")),
    ClassificationMapping: ("mappings", published_rule(ClassificationMapping, "mappings")),
}
CHILD = "release_item"


def _path(part: Part, path: str) -> str:
    """Translate a field path of `part`'s model into the query it is read with."""
    if part.model not in CHILDREN:
        return path
    if path.startswith("role__"):
        return path[len("role__") :]
    return f"{CHILD}__{path}"


def _values(
    part: Part, queryset: models.QuerySet, extra: tuple[str, ...] = ()
) -> tuple[list[_Column], list[str], models.QuerySet]:
    """Return the columns, their value paths and the ordered values_list query of one part.

    For a child part (component, alias, mapping) the first extra value is the child's pk, None
    for a role without such children (the LEFT JOIN's empty side): skip those rows.
    """
    columns = _columns(part.model)
    paths = [p for c in columns for p in c.paths]
    missing = [p for p in part.natural_key if p not in paths]
    if missing:
        raise ReleaseError(f"{part.label}: natural key paths {missing} are not serialized fields.")
    if part.model in CHILDREN:
        relation, condition = CHILDREN[part.model]
        queryset = Role.objects.annotate(**{CHILD: FilteredRelation(relation, condition=condition)})
        extra = ("pk", *extra)
    qs = queryset.order_by(*(_binary(_path(part, p)) for p in part.natural_key)).values_list(
        *(_path(part, p) for p in [*paths, *extra])
    )
    return columns, paths, qs


def export_querysets() -> list[tuple[Part, models.QuerySet]]:
    """The values_list query each part streams, in load order (for benchmarks and inspection)."""
    querysets = _querysets()
    return [(part, _values(part, querysets[part.model])[2]) for part in PARTS]


def _stream(
    part: Part, queryset: models.QuerySet, extra: tuple[str, ...] = ()
) -> Iterator[tuple[tuple, dict, tuple]]:
    """Yield (natural key, fixture object, extra values) per row, in natural key order, in one query."""
    columns, paths, qs = _values(part, queryset, extra)
    nk_at = [paths.index(p) for p in part.natural_key]
    label = part.label
    child = part.model in CHILDREN
    width = len(paths) + (1 if child else 0)
    for row in qs.iterator(chunk_size=CHUNK_SIZE):
        if child and row[len(paths)] is None:
            continue  # a role without (approved) items of this kind
        fields = {}
        i = 0
        for column in columns:
            if column.kind == "user":
                fields[column.name] = None
            elif column.kind == "fk":
                n = len(column.paths)
                values = row[i : i + n]
                fields[column.name] = None if values[0] is None else [json_value(v) for v in values]
                i += n
            else:
                fields[column.name] = json_value(row[i])
                i += 1
        key = tuple(row[j] for j in nk_at)
        yield key, {"fields": fields, "model": label}, row[width:]


def _reference_ids() -> tuple[set[int], set[int]]:
    """The ids of the taxonomy nodes and occupation codes a release needs (see publishing.published)."""
    return published_reference_ids()


def _querysets() -> dict[type[models.Model], models.QuerySet]:
    """The rows of each part: what the counts count and the reference tables stream.

    Components, aliases and mappings are streamed from their role instead (see CHILDREN).
    """
    return published_querysets()


def release_counts() -> dict[str, int]:
    """Return the number of objects per model label that an export would write now."""
    with transaction.atomic(savepoint=False):
        node_ids, occupation_ids = _reference_ids()
        counts = {}
        for part in PARTS:
            if part.model is OccupationCode:
                counts[part.label] = len(occupation_ids)
            elif part.model is TaxonomyNode:
                counts[part.label] = len(node_ids)
            else:
                counts[part.label] = _querysets()[part.model].count()
        return counts



class _FixtureFile:
    """A fixture file written one object per line, hashed as it goes."""

    def __init__(self, path: Path):
        self.path = path
        self.handle = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.sha256 = hashlib.sha256()
        self.count = 0
        self._write(b"[\n")

    def _write(self, data: bytes) -> None:
        self.handle.write(data)
        self.sha256.update(data)

    def add(self, obj: dict) -> None:
        self._write((",\n" if self.count else "").encode() + dumps_line(obj).encode())
        self.count += 1

    def close(self) -> None:
        self._write(b"\n]\n" if self.count else b"]\n")
        self.handle.close()


def write_fixture_files(
    directory: Path,
    *,
    node_ids: set[int],
    occupation_ids: set[int],
    with_reviewers: bool = False,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[str], dict[str, int], dict[str, dict]]:
    """Write the fixture files (and reviewers.json) into `directory`, in load order (8 queries).

    Returns the load order (empty files are left out: ``loaddata`` warns about them), the count
    per model label and the manifest entry of each file. Call inside the release's transaction,
    with the release's reference ids. Raises ReleaseError when the data changed between queries.
    """
    report = progress or (lambda message: None)
    load_order: list[str] = []
    counts: dict[str, int] = {}
    files: dict[str, dict] = {}
    querysets = _querysets()
    reviewers = _FixtureFile(directory / REVIEWERS) if with_reviewers else None
    level_ids: set[int] = set()
    for part in PARTS:
        extra: tuple[str, ...] = ()
        if part.model in (Level, OccupationCode, TaxonomyNode):
            extra = ("pk",)
        elif part.model is Role:
            extra = ("node_id", "level_id")
        elif part.model is ClassificationMapping:
            extra = ("occupation_id",)
        review = REVIEW_FIELDS.get(part.model)
        if review and with_reviewers:
            extra = (*extra, f"{review[0]}__username")
        out = _FixtureFile(directory / part.filename)
        for key, obj, values in _stream(part, querysets[part.model], extra):
            if part.model is OccupationCode and values[0] not in occupation_ids:
                continue
            if part.model is TaxonomyNode and values[0] not in node_ids:
                continue
            if part.model is Level:
                level_ids.add(values[0])
            if part.model is Role and (values[0] not in node_ids or values[1] not in level_ids):
                raise ReleaseError("Roles changed during the export: run it again.")
            if (
                part.model is ClassificationMapping
                and values[0] is not None
                and values[0] not in occupation_ids
            ):
                raise ReleaseError("Mappings changed during the export: run it again.")
            out.add(obj)
            if review and reviewers is not None:
                reviewers.add(
                    {
                        "model": part.label,
                        "natural_key": [json_value(k) for k in key],
                        review[0]: values[-1],
                        review[1]: obj["fields"][review[1]],
                    }
                )
            if out.count % 10000 == 0:
                report(f"  {part.filename}: {out.count} objects…")
        out.close()
        counts[part.label] = out.count
        if out.count:
            load_order.append(part.filename)
            files[part.filename] = {"count": out.count, "model": part.label, "sha256": out.sha256.hexdigest()}
        else:
            out.path.unlink()
        report(f"{part.filename}: {out.count} objects")
    if reviewers is not None:
        reviewers.close()
    return load_order, counts, files


def iter_fixture(path: Path) -> Iterator[dict]:
    """Yield the objects of a fixture file: line by line for release files, else loaded whole.

    Raises ReleaseError when the file is not a JSON fixture.
    """
    with open(path, "rb") as handle:
        first, second = handle.readline().strip(), handle.readline().strip()
        object_line = second.startswith(b"{") and second.rstrip(b",").endswith(b"}")
        one_per_line = first == b"[" and (second == b"]" or object_line)
        handle.seek(0)
        if not one_per_line:
            try:
                objects = json.load(handle)
            except ValueError as exc:
                raise ReleaseError(f"{path} is not a JSON fixture: {exc}") from exc
            yield from objects
            return
        handle.readline()
        for raw in handle:
            line = raw.strip()
            if line in (b"]", b""):
                continue
            try:
                yield json.loads(line.rstrip(b","))
            except ValueError as exc:
                raise ReleaseError(f"{path} is not a release fixture: {exc}") from exc
